"""Named materials through the pages: one upload slot per required item, refusal naming what is missing (nothing
kept), and the reviewer's checklist of which file is which; conditions of 第十一条 refuse with the article."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from lms.declarations.models import Declaration, DeclarationEvidence
from lms.extensions import db
from tests.conftest import csrf_token
from tests.declarations import PDF, client_for, decide, declare, declared_id, png_bytes


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_kind_list_names_each_kinds_materials_and_who_decides_the_category(app, tree):
    kinds = client_for(app, tree.learner_a).get("/declarations/new?year=2026").get_data(as_text=True)
    assert "所需材料：资格证书" in kinds and "所需材料：用人单位建立的学习档案（含本次培训）" in kinds
    assert "学时管理办法第十一条（三） · 专业科目" in kinds and "学时管理办法第十一条（一） · 科目按内容选择" in kinds


def test_the_form_asks_for_each_material_by_name(app, tree):
    learner = client_for(app, tree.learner_a)
    form = learner.get("/declarations/new?kind=conference&year=2026").get_data(as_text=True)
    assert 'name="evidence-notice"' in form and 'name="evidence-paper"' in form
    assert "会议通知或邀请函（载明主办单位、级别和主题）（必交）" in form and "在会上报告的论文</label>" in form
    assert "在会上报告论文：是：会议通知或邀请函" in form and "其他材料（可选）" in form
    assert "科目类别：专业科目（由规则确定，无需选择）" in form
    training = learner.get("/declarations/new?kind=org_training&year=2026").get_data(as_text=True)
    assert "由申报人按实际内容选择" in training and "第十一条（一）按实际培训内容计算学时" in training
    assert 'name="fact-organiser"' in training and "其他单位（培训机构、学会等）" in training


REFUSALS = [
    pytest.param("conference", {"presented_paper": "y"}, {"notice": [("通知.pdf", PDF)]},
                 "缺少证明材料：在会上报告的论文（学时管理办法第十一条（三））", id="conference paper missing"),
    pytest.param("conference", {}, {}, "缺少证明材料：会议通知或邀请函", id="conference notice missing"),
    pytest.param("unit_training", {"hours": "6", "has_training_record": "y"}, {},
                 "缺少证明材料：用人单位建立的学习档案（含本次培训）（学时管理办法第十一条（一））",
                 id="unit training without the training record"),
    pytest.param("conference", {}, {"minutes": [("纪要.pdf", PDF)], "notice": [("通知.pdf", PDF)]},
                 "此类申报没有这些材料项：minutes", id="a slot the kind does not have"),
    pytest.param("conference", {"level": "local"}, {"notice": [("通知.pdf", PDF)]},
                 "第十一条（三）只认定省级以上学术会议，市（州）级及以下的会议不予认定", id="city-level conference"),
    pytest.param("org_training", {"organiser": "other", "hours": "6", "travel_days": "0", "category": "professional"},
                 {"attendance_proof": [("结业证书.pdf", PDF)]},
                 "第十一条（一）只认定由各级组织部门、人力资源社会保障部门、行业主管部门举办的",
                 id="training by others"),
]


@pytest.mark.parametrize(("kind", "facts", "materials", "message"), REFUSALS)
def test_a_declaration_missing_a_required_item_is_refused_naming_it_and_nothing_is_kept(
        app, tree, kind, facts, materials, message):
    learner = client_for(app, tree.learner_a)
    response = declare(learner, kind, facts=facts, materials=materials, files=[("其他.png", png_bytes())],
                       start="2026-05-10", end="2026-05-10")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert (_count(Declaration), _count(DeclarationEvidence)) == (0, 0)


def test_the_reviewer_sees_which_file_is_which_item(app, tree):
    learner = client_for(app, tree.learner_a)
    declaration_id = declared_id(declare(learner, facts={"presented_paper": "y"}, materials={
        "notice": [("年会通知.pdf", PDF)], "paper": [("论文全文.pdf", PDF), ("论文摘要.png", png_bytes())]},
        files=[("合影.png", png_bytes())]))
    declaration = db.session.get(Declaration, declaration_id)
    assert [(e.filename, e.material) for e in declaration.evidence] == [
        ("年会通知.pdf", "notice"), ("论文全文.pdf", "paper"), ("论文摘要.png", "paper"), ("合影.png", None)]
    page = client_for(app, tree.admins["unit_a"]).get(f"/declarations/{declaration_id}").get_data(as_text=True)
    assert "材料齐全：规则要求的证明材料均已提供。" in page
    notice_row = page.split('data-material="notice"')[1].split("</tr>")[0]
    paper_row = page.split('data-material="paper"')[1].split("</tr>")[0]
    assert "✓ 已提供" in notice_row and "年会通知.pdf" in notice_row
    assert "论文全文.pdf" in paper_row and "论文摘要.png" in paper_row
    assert "其他材料" in page and "合影.png" in page.split("其他材料")[-1]


def test_a_conference_without_a_paper_shows_the_paper_as_not_needed(app, tree):
    declaration_id = declared_id(declare(client_for(app, tree.learner_a), facts={},
                                         materials={"notice": [("通知.pdf", PDF)]}))
    page = client_for(app, tree.admins["unit_a"]).get(f"/declarations/{declaration_id}").get_data(as_text=True)
    assert "— 未提供（按所报情况可不提供）" in page.split('data-material="paper"')[1].split("</tr>")[0]
    assert db.session.get(Declaration, declaration_id).hours == 8


def test_a_hunan_training_accepts_either_list_of_the_text(app, tree):
    tree.unit_a.region = "hunan"
    db.session.commit()
    learner = client_for(app, tree.learner_a)
    training = {"activity": "training", "days": "1", "category": "professional"}
    refused = declare(learner, "training_or_meeting", facts=training, materials={"notice": [("通知.pdf", PDF)]})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "缺少证明材料：结业证书" in text and "可提供以下材料之一" in text
    # 附件2 一.1 (2): the sign-in sheet stands in for the notice next to the certificate.
    accepted = declared_id(declare(learner, "training_or_meeting", facts=training, materials={
        "sign_in": [("签到表.png", png_bytes())], "certificate": [("结业证书.pdf", PDF)]}))
    assert db.session.get(Declaration, accepted).hours == 8


def test_resubmitting_into_a_slot_the_kind_does_not_have_is_refused(app, tree):
    learner = client_for(app, tree.learner_a)
    declaration_id = declared_id(declare(learner))
    decide(client_for(app, tree.admins["unit_a"]), declaration_id, "return", "请补充回执")
    url = f"/declarations/{declaration_id}"
    response = learner.post(f"{url}/resubmit", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(learner, url), "evidence-receipt": [(io.BytesIO(PDF), "回执.pdf")]})
    assert response.status_code == 422 and "此类申报没有这些材料项：receipt" in response.get_data(as_text=True)
    assert len(db.session.get(Declaration, declaration_id).evidence) == 1
