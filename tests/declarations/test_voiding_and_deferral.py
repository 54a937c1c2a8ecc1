"""第二十一条 voiding of a false declaration's year, 第十七条 deferral, 第十八条 no carry-over, and the 第十四条
variants: archive-hosted people reviewed by their agency, central units reviewing their own."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from lms.core.errors import Conflict, InvalidInput, NotAllowed
from lms.courses.models import Category
from lms.declarations import service
from lms.declarations.models import Declaration, DeclarationStatus, Deferral
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import AdjustmentKind, LedgerAdjustment, LedgerEntry
from lms.orgs.models import OrgKind
from tests.conftest import csrf_token, make_org, make_user
from tests.declarations import client_for, conference_facts, conference_materials, decide, declare, declared_id

PAPER = {"presented_paper": "y"}


def _filed_conference(app, tree) -> int:
    learner = client_for(app, tree.learner_a)
    declaration_id = declared_id(declare(learner, facts=PAPER))
    decide(client_for(app, tree.admins["unit_a"]), declaration_id, "approve")
    decide(client_for(app, tree.admins["dept_a"]), declaration_id, "approve")
    decide(client_for(app, tree.admins["city"]), declaration_id, "approve")
    assert db.session.get(Declaration, declaration_id).status == DeclarationStatus.FILED
    return declaration_id


def _void(client, declaration_id: int, reason: str):
    url = f"/declarations/{declaration_id}"
    return client.post(f"{url}/void", data={"csrf_token": csrf_token(client, url), "reason": reason})


def test_a_false_declaration_voids_the_persons_year_and_the_record_is_kept(app, tree):
    declaration_id = _filed_conference(app, tree)
    ledger.post(tree.learner_a, year=2026, source_type=ledger.SourceType.COURSE, source_id=99,
                postings=[ledger.Posting(Category.PUBLIC, 10)], earned_on=dt.date(2026, 3, 1), description="网络课程")
    db.session.commit()
    assert sum(ledger.balances(tree.learner_a.id, 2026).values()) == 22

    assert _void(client_for(app, tree.admins["unit_a"]), declaration_id, "伪造").status_code == 403
    assert _void(client_for(app, tree.admins["dept_b"]), declaration_id, "伪造").status_code == 404
    city = client_for(app, tree.admins["city"])
    empty = _void(city, declaration_id, "")
    assert empty.status_code == 422 and "请填写认定弄虚作假的事实和依据" in empty.get_data(as_text=True)
    assert _void(city, declaration_id, "会议邀请函系伪造").status_code == 302

    assert ledger.balances(tree.learner_a.id, 2026) == {Category.PUBLIC: 0, Category.PROFESSIONAL: 0}
    [adjustment] = db.session.scalars(sa.select(LedgerAdjustment)).all()
    assert (adjustment.kind, adjustment.reference) == (AdjustmentKind.VOID_YEAR, f"declaration:{declaration_id}")
    assert "会议邀请函系伪造" in adjustment.reason and "第二十一条" in adjustment.reason
    # The entries it cancelled are still there, next to the reversals.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 4
    declaration = db.session.get(Declaration, declaration_id)
    assert declaration.status == DeclarationStatus.VOIDED and declaration.final_hours == 12
    page = client_for(app, tree.learner_a).get(f"/declarations/{declaration_id}").get_data(as_text=True)
    assert "弄虚作假，已取消当年度学时" in page and "会议邀请函系伪造" in page
    assert "该年度学时已因弄虚作假被取消" in client_for(app, tree.learner_a).get("/declarations").get_data(as_text=True)
    again = declare(client_for(app, tree.learner_a), facts=PAPER)
    assert again.status_code == 409 and "第二十一条" in again.get_data(as_text=True)


def test_a_deferral_lets_hours_earned_before_its_end_count_in_the_deferred_year(app, tree):
    unit = client_for(app, tree.admins["unit_a"])
    page = "/declarations/deferrals"
    form = {"csrf_token": csrf_token(unit, page), "learner_id": str(tree.learner_a.id), "year": "2026",
            "reason_kind": "illness", "reason": "住院治疗三个月，单位出具证明"}
    too_late = unit.post(page, data={**form, "ends_on": "2028-01-01"})
    assert too_late.status_code == 422 and "最晚 2027-12-31" in too_late.get_data(as_text=True)
    no_reason = unit.post(page, data={**form, "reason_kind": "", "ends_on": "2027-06-30"})
    assert no_reason.status_code == 422 and "伤、病、孕或其他特殊原因" in no_reason.get_data(as_text=True)
    other_unit = client_for(app, tree.admins["unit_b"])
    other_form = {**form, "csrf_token": csrf_token(other_unit, page), "ends_on": "2027-06-30"}
    assert other_unit.post(page, data=other_form).status_code == 404
    assert unit.post(page, data={**form, "ends_on": "2027-06-30"}).status_code == 302
    assert unit.post(page, data={**form, "ends_on": "2027-05-30"}).status_code == 409
    [deferral] = db.session.scalars(sa.select(Deferral)).all()
    assert (deferral.year, deferral.ends_on) == (2026, dt.date(2027, 6, 30))
    listed = unit.get(page).get_data(as_text=True)
    assert "住院治疗三个月" in listed and "顺延补学中，2027-06-30 前取得的学时可计入 2026 年度" in listed
    assert "2026 年度（病）：顺延补学中" in client_for(app, tree.learner_a).get("/declarations").get_data(as_text=True)

    learner, march = tree.learner_a, dt.date(2027, 3, 10)
    kwargs = dict(kind_id="conference", title="补学会议", start_date="2027-03-01", facts=conference_facts(True),
                  uploads=[], materials=conference_materials(True))
    with pytest.raises(InvalidInput, match="第十八条"):
        service.submit(learner, end_date="2027-03-01", year="2025", today=march, **kwargs)
    declaration, _keys = service.submit(learner, end_date="2027-03-01", year="2026", today=march, **kwargs)
    assert (declaration.year, declaration.deferral_id) == (2026, deferral.id)
    service.decide(tree.admins["unit_a"], declaration.id, "approve", None)
    service.decide(tree.admins["dept_a"], declaration.id, "approve", None)
    service.decide(tree.admins["city"], declaration.id, "approve", None)
    db.session.commit()
    [entry] = db.session.scalars(sa.select(LedgerEntry)).all()
    assert (entry.year, entry.earned_on, entry.hours) == (2026, dt.date(2027, 3, 1), 12)

    kwargs["materials"] = conference_materials(True)
    with pytest.raises(InvalidInput, match="顺延截止日期前"):
        service.submit(learner, end_date="2027-07-01", year="2026", today=dt.date(2027, 7, 2), **kwargs)
    # Without the deferred year the same hours count where they were earned (第十八条).
    later, _ = service.submit(learner, end_date="2027-07-01", year="", today=dt.date(2027, 7, 2), **kwargs)
    assert later.year == 2027

    assert not service.deferral_state(deferral, dt.date(2027, 6, 30)).failed
    failed = service.deferral_state(deferral, dt.date(2027, 7, 1))
    assert failed.failed and "视为 2026 年度学时不合格" in failed.text
    db.session.rollback()


def test_an_archive_hosted_person_is_first_reviewed_by_the_agency(app, tree):
    agency = make_org(OrgKind.UNIT, tree.dept_b, name="人才交流服务中心")
    agency.archive_agency = True
    db.session.commit()
    agency_admin = make_user(agency, login="agency_admin")
    with pytest.raises(NotAllowed):
        service.record_archive_hosting(tree.admins["unit_a"], tree.learner_a, agency)
    service.record_archive_hosting(agency_admin, tree.learner_a, agency)
    db.session.commit()
    assert service.review_orgs(tree.learner_a) == (agency, tree.dept_b, tree.county)

    declaration_id = declared_id(declare(client_for(app, tree.learner_a), facts=PAPER))
    assert decide(client_for(app, tree.admins["unit_a"]), declaration_id, "approve").status_code == 404
    assert decide(client_for(app, agency_admin), declaration_id, "approve").status_code == 302
    assert decide(client_for(app, tree.admins["dept_b"]), declaration_id, "approve").status_code == 302
    assert decide(client_for(app, tree.admins["county"]), declaration_id, "approve").status_code == 302
    assert ledger.balances(tree.learner_a.id, 2026)[Category.PROFESSIONAL] == 12


def test_a_central_unit_reviews_its_own_peoples_hours_with_no_second_review(app, tree):
    central = make_org(OrgKind.UNIT, tree.dept_a, name="中央在鄂单位")
    central.reviews_own_hours = True
    db.session.commit()
    person, admin = make_user(central, service.Role.LEARNER), make_user(central, login="central_admin")
    declaration_id = declared_id(declare(client_for(app, person), facts=PAPER))
    declaration = db.session.get(Declaration, declaration_id)
    assert (declaration.first_org_id, declaration.step_index) == (central.id, 0)
    assert [(step.org_id, step.label) for step in declaration.review_steps] == [(central.id, "本单位审核")]
    assert decide(client_for(app, admin), declaration_id, "approve").status_code == 302
    assert db.session.get(Declaration, declaration_id).status == DeclarationStatus.FILED
    assert ledger.balances(person.id, 2026)[Category.PROFESSIONAL] == 12


def test_filing_twice_posts_once(app, tree):
    declaration_id = _filed_conference(app, tree)
    declaration = db.session.get(Declaration, declaration_id)
    with pytest.raises(Conflict):
        service.decide(tree.admins["city"], declaration.id, "approve", None)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 1
