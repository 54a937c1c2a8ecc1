"""第十七条 "由于伤、病、孕等特殊原因": other reasons with an explanation and the unit's certificate, and the note a
failed year carries into title applications ("无正当理由不参加补学的……延长相应年限")."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.core.errors import Conflict, InvalidInput, NotFound
from lms.declarations import deferrals, service
from lms.declarations.models import Deferral, DeferralReason
from lms.extensions import db
from lms.rules import rule_set_for
from tests.conftest import csrf_token
from tests.declarations import EXE, PDF, client_for

PAGE = "/declarations/deferrals"


def _form(client, tree, **overrides) -> dict:
    return {"csrf_token": csrf_token(client, PAGE), "learner_id": str(tree.learner_a.id), "year": "2026",
            "reason_kind": "other", "reason": "赴外地照护病重直系亲属五个月", "ends_on": "2027-06-30", **overrides}


GRANTS = [
    pytest.param("other", None, 422, "须上传单位出具的证明", id="another reason without the certificate"),
    pytest.param("other", ("证明.exe.pdf", EXE), 422, "不是 PDF、PNG 或 JPEG", id="another reason with a bad file"),
    pytest.param("other", ("单位证明.pdf", PDF), 302, None, id="another reason with the certificate"),
    pytest.param("illness", None, 302, None, id="a listed reason needs no attachment"),
    pytest.param("illness", ("诊断证明.pdf", PDF), 302, None, id="a listed reason may attach one"),
]


@pytest.mark.parametrize(("reason_kind", "attachment", "status", "message"), GRANTS)
def test_other_reasons_are_accepted_with_the_units_certificate(app, tree, reason_kind, attachment, status, message):
    unit = client_for(app, tree.admins["unit_a"])
    data = _form(unit, tree, reason_kind=reason_kind)
    if attachment:
        data["attachment"] = (io.BytesIO(attachment[1]), attachment[0])
    response = unit.post(PAGE, data=data, content_type="multipart/form-data")
    assert response.status_code == status
    deferral = db.session.scalar(sa.select(Deferral))
    if message:
        assert message in response.get_data(as_text=True) and deferral is None
        return
    assert deferral.reason_kind == DeferralReason(reason_kind)
    assert (deferral.attachment_filename is not None) == (attachment is not None)
    if attachment:
        url = f"{PAGE}/{deferral.id}/attachment"
        for reader in (unit, client_for(app, tree.learner_a), client_for(app, tree.admins["dept_a"])):
            assert reader.get(url).data == attachment[1]
        for stranger in (client_for(app, tree.learner_b), client_for(app, tree.admins["unit_b"])):
            assert stranger.get(url).status_code == 404
        assert f"单位证明：{attachment[0]}" in unit.get(PAGE).get_data(as_text=True)
    if reason_kind == "other":
        assert "其他特殊原因：赴外地照护病重直系亲属五个月" in unit.get(PAGE).get_data(as_text=True)


def test_the_reason_list_is_a_rule_set_setting(app, tree):
    hubei = rule_set_for("hubei", 2026)
    assert hubei.deferral.other_reasons and DeferralReason.OTHER in deferrals.reason_choices(hubei)
    closed = type(hubei)(**{**hubei.__dict__, "deferral": type(hubei.deferral)(12, "第十七条")})
    assert DeferralReason.OTHER not in deferrals.reason_choices(closed)
    with pytest.raises(InvalidInput) as caught:
        deferrals.check_attachment(closed, "other", (io.BytesIO(PDF), "证明.pdf"))
    assert "只列明伤、病、孕" in caught.value.fields["reason_kind"]


def test_a_failed_year_records_the_title_note_once_for_the_person(app, tree):
    unit_admin = tree.admins["unit_a"]
    deferral = service.grant_deferral(unit_admin, tree.learner_a.id, 2026, "pregnancy", "产假", "2027-03-31",
                                      today=dt.date(2026, 12, 1))
    db.session.commit()
    with pytest.raises(Conflict, match="顺延期未满"):
        deferrals.record_title_extension(unit_admin, deferral.id, "未参加补学", today=dt.date(2027, 3, 31))
    with pytest.raises(NotFound):
        deferrals.record_title_extension(tree.admins["unit_b"], deferral.id, "未参加补学", today=dt.date(2027, 4, 1))
    with pytest.raises(InvalidInput, match="请填写"):
        deferrals.record_title_extension(unit_admin, deferral.id, "  ", today=dt.date(2027, 4, 1))
    deferrals.record_title_extension(unit_admin, deferral.id, "顺延期内未参加任何学习，无正当理由",
                                     today=dt.date(2027, 4, 1))
    db.session.commit()
    with pytest.raises(Conflict, match="已记录"):
        deferrals.record_title_extension(unit_admin, deferral.id, "再次", today=dt.date(2027, 4, 2))
    assert deferrals.title_note(deferral) == (
        "2026 年度：无正当理由不参加补学的，用人单位应在其申报职称时延长相应年限（学时管理办法第十七条）")
    mine = client_for(app, tree.learner_a).get("/declarations").get_data(as_text=True)
    assert "申报职称时延长相应年限" in mine
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "deferral.title_extension")).all()
    assert entry.object_id == str(deferral.id) and entry.reason == "顺延期内未参加任何学习，无正当理由"


def test_the_title_note_page_refuses_a_year_still_open(app, tree):
    deferral = service.grant_deferral(tree.admins["unit_a"], tree.learner_a.id, 2026, "injury", "骨折", "2027-12-31")
    db.session.commit()
    unit = client_for(app, tree.admins["unit_a"])
    response = unit.post(f"{PAGE}/{deferral.id}/title-extension", follow_redirects=True,
                         data={"csrf_token": csrf_token(unit, PAGE), "reason": "未参加"})
    assert "顺延期未满或学时已完成" in response.get_data(as_text=True)
    assert db.session.get(Deferral, deferral.id).title_extension_at is None
