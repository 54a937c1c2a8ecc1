"""诚信档案 (学时管理办法第二十一条): finding a filed declaration false makes a record kept for the retention
setting (3 years), read by the HR bureaus above the person and by nobody else; voiding itself is unchanged."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.declarations import integrity, service
from lms.declarations.integrity_models import IntegrityRecord
from lms.declarations.models import Declaration, DeclarationStatus
from lms.extensions import db
from lms.ledger import service as ledger
from tests.declarations import client_for
from tests.declarations.test_voiding_and_deferral import _filed_conference, _void


def _records():
    db.session.rollback()
    return db.session.scalars(sa.select(IntegrityRecord)).all()


def test_voiding_a_declaration_puts_it_on_the_integrity_record_for_three_years(app, tree):
    declaration_id = _filed_conference(app, tree)
    assert _records() == []
    assert _void(client_for(app, tree.admins["dept_a"]), declaration_id, "会议邀请函系伪造").status_code == 302
    [record] = _records()
    today = ledger.china_today()
    assert (record.user_id, record.declaration_id, record.year) == (tree.learner_a.id, declaration_id, 2026)
    assert (record.reason, record.found_by_id, record.found_by_org_id) == (
        "会议邀请函系伪造", tree.admins["dept_a"].id, tree.dept_a.id)
    assert record.found_on == today and record.expires_on == dt.date(today.year + 3, today.month, today.day) - \
        dt.timedelta(days=1)
    # Voiding is as it was: the declaration voided, the year's hours gone.
    assert db.session.get(Declaration, declaration_id).status == DeclarationStatus.VOIDED
    assert ledger.is_year_voided(tree.learner_a.id, 2026)
    [row] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "integrity.record")).all()
    assert row.object_id == str(record.id) and row.org_path == tree.unit_a.path


def test_a_refused_void_leaves_no_integrity_record(app, tree):
    declaration_id = _filed_conference(app, tree)
    assert _void(client_for(app, tree.admins["city"]), declaration_id, "").status_code == 422
    assert _void(client_for(app, tree.admins["dept_b"]), declaration_id, "伪造").status_code == 404
    assert _records() == []


@pytest.mark.parametrize("years, found_on, expires_on", [
    (3, dt.date(2026, 3, 1), dt.date(2029, 2, 28)),
    (3, dt.date(2024, 2, 29), dt.date(2027, 2, 27)),
    (1, dt.date(2026, 12, 31), dt.date(2027, 12, 30)),
])
def test_the_retention_is_a_setting_and_each_record_keeps_its_own_expiry(app, tree, years, found_on, expires_on):
    app.config["LMS_INTEGRITY_RECORD_YEARS"] = years
    declaration_id = _filed_conference(app, tree)
    declaration = db.session.get(Declaration, declaration_id)
    record = integrity.record_false_declaration(declaration, tree.admins["city"], "伪造", today=found_on)
    assert record.expires_on == expires_on
    assert integrity.active_records(tree.learner_a.id, today=expires_on) == [record]
    assert integrity.active_records(tree.learner_a.id, today=expires_on + dt.timedelta(days=1)) == []
    app.config["LMS_INTEGRITY_RECORD_YEARS"] = 10
    assert db.session.get(IntegrityRecord, record.id).expires_on == expires_on


def test_a_broken_retention_setting_is_refused_with_a_clear_message(app, tree):
    app.config["LMS_INTEGRITY_RECORD_YEARS"] = 0
    with pytest.raises(ValueError, match="LMS_INTEGRITY_RECORD_YEARS"):
        integrity.retention_years()


def test_the_record_page_is_for_the_hr_bureaus_above_the_person_only(app, tree):
    declaration_id = _filed_conference(app, tree)
    _void(client_for(app, tree.admins["city"]), declaration_id, "会议邀请函系伪造")
    url = f"/people/{tree.learner_a.id}/integrity"
    for admin in ("city", "province"):
        page = client_for(app, tree.admins[admin]).get(url)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "会议邀请函系伪造" in text and "记录期限为 3 年" in text and tree.learner_a.name in text
    people = client_for(app, tree.admins["city"]).get("/people").get_data(as_text=True)
    assert url in people  # the link in the person's row on 人员
    assert url not in client_for(app, tree.admins["dept_a"]).get("/people").get_data(as_text=True)
    for outsider in ("county", "dept_a", "unit_a"):
        assert client_for(app, tree.admins[outsider]).get(url).status_code == 403, outsider
    assert client_for(app, tree.learner_a).get(url).status_code == 403
    assert client_for(app, tree.admins["city"]).get(f"/people/{tree.admins['unit_a'].id}/integrity").status_code == 404


def test_an_expired_record_is_marked_on_the_page_and_left_out_of_the_interface(app, tree):
    declaration_id = _filed_conference(app, tree)
    declaration = db.session.get(Declaration, declaration_id)
    service.void(tree.admins["city"], declaration_id, "伪造")
    record = db.session.scalar(sa.select(IntegrityRecord))
    record.expires_on = dt.date(2020, 1, 1)  # as if found years ago: the test moves the record, not the clock
    db.session.commit()
    assert integrity.active_records(declaration.user_id) == []
    text = client_for(app, tree.admins["city"]).get(f"/people/{tree.learner_a.id}/integrity").get_data(as_text=True)
    assert "已于 2020-01-01 期满" in text


def test_two_admins_voiding_at_once_leave_one_voiding_and_one_record(app, tree, config):
    from lms.accounts.models import User
    from tests.support.races import postgres_only as _postgres_only
    from tests.support.races import race as _race

    _postgres_only(config)
    declaration_id = _filed_conference(app, tree)
    admin_ids = [tree.admins["city"].id, tree.admins["province"].id]
    done, refused = _race(app, *[lambda admin_id=admin_id: service.void(db.session.get(User, admin_id), declaration_id,
                                                                        "伪造") for admin_id in admin_ids])
    assert len(done) == 1 and len(refused) == 1 and "刚刚已被他人处理" in refused[0]
    assert len(_records()) == 1
