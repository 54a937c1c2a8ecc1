"""The hubei-2026 chain through the pages: learner declares, 单位审核, 主管部门审查, 人社部门审验, filed."""

from __future__ import annotations

import re
from decimal import Decimal

import sqlalchemy as sa

from lms.courses.models import Category
from lms.declarations import service
from lms.declarations.models import Declaration, DeclarationDecision, DeclarationStatus
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import LedgerEntry, SourceType
from tests.declarations import client_for, decide, decide_batch, declare, declared_id

PAPER = {"presented_paper": "y"}


def _professional(user) -> Decimal:
    return ledger.balances(user.id, 2026)[Category.PROFESSIONAL]


def test_a_conference_with_a_paper_passes_unit_department_and_bureau_and_posts_12_professional_hours(app, tree):
    learner = client_for(app, tree.learner_a)
    response = declare(learner, facts=PAPER)
    declaration_id = declared_id(response)
    page = learner.get(f"/declarations/{declaration_id}").get_data(as_text=True)
    assert "12</strong> 学时（专业科目）" in page and "报告论文加计 4 学时" in page and "审核中" in page

    unit = client_for(app, tree.admins["unit_a"])
    assert decide(unit, declaration_id, "approve").status_code == 302
    declaration = db.session.get(Declaration, declaration_id)
    assert (declaration.status, declaration.step_index) == (DeclarationStatus.PENDING, 1)
    assert _professional(tree.learner_a) == 0  # nothing is credited before the chain ends

    department = client_for(app, tree.admins["dept_a"])
    assert decide(department, declaration_id, "approve").status_code == 302
    assert (db.session.get(Declaration, declaration_id).step_index, _professional(tree.learner_a)) == (2, 0)
    bureau = client_for(app, tree.admins["city"])
    assert decide(bureau, declaration_id, "approve").status_code == 302
    declaration = db.session.get(Declaration, declaration_id)
    assert declaration.status == DeclarationStatus.FILED and declaration.final_hours == 12
    [entry] = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == tree.learner_a.id)).all()
    assert (entry.source_type, entry.source_id, entry.category, entry.hours, entry.kind) == (
        SourceType.DECLARATION, declaration_id, Category.PROFESSIONAL, 12, "conference")
    assert _professional(tree.learner_a) == 12

    mine = learner.get("/declarations").get_data(as_text=True)
    assert 'data-category="professional">12<' in mine and "已备案入账" in mine
    yearly = learner.get("/my/hours/2026").get_data(as_text=True)  # the ledger's yearly page
    assert "学时申报：全国学术年会" in yearly and re.search(r'class="hours">12(\.0)?<', yearly)
    history = learner.get(f"/declarations/{declaration_id}").get_data(as_text=True)
    for who in (tree.admins["unit_a"].name, tree.admins["dept_a"].name, tree.admins["city"].name):
        assert who in history
    assert history.count("审核通过") == 3 and "备案并入账" in history
    for step in ("单位审核", "主管部门审查", "人社部门审验"):
        assert step in history


def test_a_third_conference_gets_only_the_6_hours_left_under_the_30_hour_cap_and_says_so(app, tree):
    learner = client_for(app, tree.learner_a)
    unit, department = client_for(app, tree.admins["unit_a"]), client_for(app, tree.admins["dept_a"])
    bureau = client_for(app, tree.admins["city"])
    first = declared_id(declare(learner, title="会议一", facts=PAPER))
    second = declared_id(declare(learner, title="会议二", start="2026-06-01", end="2026-06-02", facts=PAPER))
    assert decide_batch(unit, [first, second], "approve").status_code == 302  # batch approval
    assert decide_batch(department, [first, second], "approve").status_code == 302
    assert decide_batch(bureau, [first, second], "approve").status_code == 302
    assert _professional(tree.learner_a) == 24

    response = declare(learner, title="会议三", start="2026-07-01", end="2026-07-02", facts=PAPER)
    third = declared_id(response)
    flashed = learner.get(response.headers["Location"]).get_data(as_text=True)
    sentence = "学术会议每年最多计 30 学时（学时管理办法第十一条（三）），本年已计 24 学时，本次按 6 学时计"
    assert sentence in flashed and "因上限少计 6 学时" in flashed
    assert db.session.get(Declaration, third).hours == 6

    decide(unit, third, "approve")
    decide(department, third, "approve")
    decide(bureau, third, "approve")
    assert _professional(tree.learner_a) == 30
    assert db.session.get(Declaration, third).final_hours == 6


def test_the_final_approval_recomputes_with_the_year_as_it_is_then_and_shows_both(app, tree):
    learner = client_for(app, tree.learner_a)
    unit, department = client_for(app, tree.admins["unit_a"]), client_for(app, tree.admins["dept_a"])
    bureau = client_for(app, tree.admins["city"])
    ids = [declared_id(declare(learner, title=f"会议{n}", facts=PAPER)) for n in range(3)]
    assert [db.session.get(Declaration, i).hours for i in ids] == [12, 12, 12]  # none credited yet
    decide_batch(unit, ids, "approve")
    decide_batch(department, ids, "approve")
    decide_batch(bureau, ids, "approve")
    assert [db.session.get(Declaration, i).final_hours for i in ids] == [12, 12, 6]
    assert _professional(tree.learner_a) == 30
    page = learner.get(f"/declarations/{ids[2]}").get_data(as_text=True)
    assert "重新计算为 <strong>6</strong> 学时（提交时为 12 学时）" in page and "本年已计 24 学时" in page


def test_a_rejection_needs_a_reason_which_the_learner_sees(app, tree):
    learner = client_for(app, tree.learner_a)
    declaration_id = declared_id(declare(learner))
    unit = client_for(app, tree.admins["unit_a"])
    refused = decide(unit, declaration_id, "reject", "")
    assert refused.status_code == 422 and "请填写不通过的原因" in refused.get_data(as_text=True)
    assert db.session.get(Declaration, declaration_id).status == DeclarationStatus.PENDING
    assert decide(unit, declaration_id, "reject", "会议为市级，不属于省级以上学术会议").status_code == 302
    assert db.session.get(Declaration, declaration_id).status == DeclarationStatus.REJECTED
    page = learner.get(f"/declarations/{declaration_id}").get_data(as_text=True)
    assert "会议为市级，不属于省级以上学术会议" in page and "审核不通过" in page
    again = decide(unit, declaration_id, "approve")
    assert again.status_code == 409 and _professional(tree.learner_a) == 0


def test_sent_back_for_evidence_the_learner_adds_files_and_the_chain_resumes_at_the_step_that_asked(app, tree):
    from tests.conftest import csrf_token
    from tests.declarations import PDF, png_bytes

    learner = client_for(app, tree.learner_a)
    declaration_id = declared_id(declare(learner, facts=PAPER))
    unit, department = client_for(app, tree.admins["unit_a"]), client_for(app, tree.admins["dept_a"])
    bureau = client_for(app, tree.admins["city"])
    decide(unit, declaration_id, "approve")
    assert decide(department, declaration_id, "return", "请补充论文报告的会议日程").status_code == 302
    declaration = db.session.get(Declaration, declaration_id)
    assert (declaration.status, declaration.step_index) == (DeclarationStatus.RETURNED, 1)
    page = learner.get(f"/declarations/{declaration_id}").get_data(as_text=True)
    assert "请补充论文报告的会议日程" in page and "补充材料并重新提交" in page

    import io
    url = f"/declarations/{declaration_id}"
    empty = learner.post(f"{url}/resubmit", data={"csrf_token": csrf_token(learner, url)},
                         content_type="multipart/form-data")
    assert empty.status_code == 422 and "请上传证明材料" in empty.get_data(as_text=True)
    response = learner.post(f"{url}/resubmit", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(learner, url), "note": "已补充日程",
        "evidence-notice": [(io.BytesIO(png_bytes()), "日程.png")], "evidence": [(io.BytesIO(PDF), "回执.pdf")]})
    assert response.status_code == 302
    declaration = db.session.get(Declaration, declaration_id)
    assert (declaration.status, declaration.step_index) == (DeclarationStatus.PENDING, 1)
    # The notice and the paper of the submission, the schedule filed under the notice, the receipt as another file.
    assert [(e.filename, e.material) for e in declaration.evidence][2:] == [("日程.png", "notice"), ("回执.pdf", None)]
    assert [e.material for e in declaration.evidence][:2] == ["notice", "paper"]
    assert decide(department, declaration_id, "approve").status_code == 302
    assert decide(bureau, declaration_id, "approve").status_code == 302
    assert _professional(tree.learner_a) == 12
    actions = [d.action.value for d in db.session.scalars(sa.select(DeclarationDecision).where(
        DeclarationDecision.declaration_id == declaration_id).order_by(DeclarationDecision.id))]
    assert actions == ["submitted", "approved", "returned", "resubmitted", "approved", "approved", "filed"]


def test_reviewers_outside_the_subtree_are_refused_and_change_nothing(app, tree):
    learner = client_for(app, tree.learner_a)
    declaration_id = declared_id(declare(learner))
    for key in ("unit_b", "dept_b"):
        outsider = client_for(app, tree.admins[key])
        assert outsider.get(f"/declarations/{declaration_id}").status_code == 404
        assert decide(outsider, declaration_id, "approve").status_code == 404
        assert decide_batch(outsider, [declaration_id], "approve").status_code == 404
        assert declaration_id not in [d.id for d in service.review_queue(tree.admins[key])]
    # Inside the subtree but not this step's reviewer: the department cannot skip the unit's first review.
    department = client_for(app, tree.admins["dept_a"])
    early = decide(department, declaration_id, "approve")
    assert early.status_code == 403 and "单位审核" in early.get_data(as_text=True)
    other_learner = client_for(app, tree.learner_b)
    assert other_learner.get(f"/declarations/{declaration_id}").status_code == 404
    declaration = db.session.get(Declaration, declaration_id)
    assert (declaration.status, declaration.step_index, declaration.version) == (DeclarationStatus.PENDING, 0, 1)
    assert len(declaration.decisions) == 1


def test_a_batch_with_one_refused_declaration_decides_none(app, tree):
    mine = declared_id(declare(client_for(app, tree.learner_a)))
    theirs = declared_id(declare(client_for(app, tree.learner_b)))
    unit = client_for(app, tree.admins["unit_a"])
    response = decide_batch(unit, [mine, theirs], "approve")
    assert response.status_code == 404 and "未处理任何申报" in response.get_data(as_text=True)
    assert db.session.get(Declaration, mine).step_index == 0


def test_two_decisions_on_one_step_cannot_both_win(app, tree):
    from lms.core.errors import Conflict

    declaration_id = declared_id(declare(client_for(app, tree.learner_a)))
    declaration = db.session.get(Declaration, declaration_id)
    # Another reviewer's decision lands between this one's read and write.
    db.session.execute(sa.update(Declaration).where(Declaration.id == declaration_id)
                       .values(version=Declaration.version + 1).execution_options(synchronize_session=False))
    try:
        service.decide(tree.admins["unit_a"], declaration.id, "approve", None)
    except Conflict as error:
        assert "已被他人处理" in error.message
    else:
        raise AssertionError("a stale decision was accepted")
    db.session.rollback()
    assert db.session.get(Declaration, declaration_id).step_index == 0


def test_a_person_under_hunan_rules_gets_the_hunan_kinds(app, tree):
    tree.unit_a.region = "hunan"
    db.session.commit()
    learner = client_for(app, tree.learner_a)
    kinds = learner.get("/declarations/new?year=2026").get_data(as_text=True)
    assert "在国内外统一刊号刊物发表论文" in kinds and "参加省级以上本专业领域学术会议" not in kinds
    assert learner.get("/declarations/new?kind=conference&year=2026").status_code == 404
    form = learner.get("/declarations/new?kind=paper&year=2026").get_data(as_text=True)
    assert 'name="fact-author"' in form and "独立、第一作者或通讯作者" in form
    declaration_id = declared_id(declare(learner, "paper", title="论文", facts={"author": "first"}))
    declaration = db.session.get(Declaration, declaration_id)
    assert (declaration.rule_set_id, declaration.hours) == ("hunan-2026", 30)
    other = client_for(app, tree.learner_b)
    assert "参加省级以上本专业领域学术会议" in other.get("/declarations/new?year=2026").get_data(as_text=True)


def test_bad_facts_are_refused_with_the_rule_sets_message_and_nothing_is_kept(app, tree):
    learner = client_for(app, tree.learner_a)
    response = declare(learner, "org_training", title="培训班", start="2026-04-01", end="2026-04-03",
                       facts={"travel_days": "1", "hours": "30", "category": "professional"})
    # 3 days, 1 of them travel: at most 16 hours (8 per day).
    declaration_id = declared_id(response)
    assert db.session.get(Declaration, declaration_id).hours == 16
    refused = declare(learner, "org_training", title="培训班", start="2026-04-05", end="2026-04-04",
                      facts={"travel_days": "x", "hours": "", "category": "nope"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "结束日期不能早于开始日期" in text
    refused = declare(learner, "org_training", title="培训班", start="2026-04-05", end="2026-04-06",
                      facts={"travel_days": "x", "hours": "", "category": "nope"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "在途天数应为整数" in text and "请填写实际培训学时" in text and "科目类别应为以下之一" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Declaration)) == 1


def test_the_8_hours_a_day_cap_counts_days_already_filed_by_another_declaration(app, tree):
    learner = client_for(app, tree.learner_a)
    unit, department = client_for(app, tree.admins["unit_a"]), client_for(app, tree.admins["dept_a"])
    bureau = client_for(app, tree.admins["city"])
    training = {"travel_days": "0", "hours": "16", "category": "professional"}
    first = declared_id(declare(learner, "org_training", title="研修班", start="2026-04-01", end="2026-04-02",
                                facts=training))
    decide(unit, first, "approve")
    decide(department, first, "approve")
    decide(bureau, first, "approve")
    assert db.session.get(Declaration, first).final_outcome["by_day"] == {"2026-04-01": "8.0", "2026-04-02": "8.0"}
    # A second course on the same two days plus one more day earns only the third day's 8 hours.
    response = declare(learner, "org_training", title="同期培训", start="2026-04-01", end="2026-04-03",
                       facts={**training, "hours": "20"})
    second = declared_id(response)
    assert db.session.get(Declaration, second).hours == 8
    page = learner.get(response.headers["Location"]).get_data(as_text=True)
    assert "线下培训每天最多计 8 学时（学时管理办法第十一条（一））" in page and "已由同日的其他申报计入" in page
    refused = declare(learner, "org_training", title="重复申报", start="2026-04-01", end="2026-04-02", facts=training)
    assert refused.status_code == 422 and "按所填情况本次可认定 0 学时" in refused.get_data(as_text=True)
