"""The tallies equal the plain ledger query after any sequence of postings, reversals, voids, transfers and moves."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.accounts.models import Role
from lms.courses.models import Category
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import AdjustmentKind, Purpose, SourceType
from lms.orgs.models import Org
from lms.statistics import service, tally
from lms.statistics.models import PersonYearHours, Standing
from tests.conftest import make_user

_source_ids = itertools.count(1_000_000)
YEAR = 2026
hours = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("40"), places=1)
operations = st.lists(st.one_of(
    st.tuples(st.just("course"), st.integers(0, 5), st.sampled_from(list(Category)), hours),
    st.tuples(st.just("declaration"), st.integers(0, 5), st.sampled_from(["academic", "training"]), hours),
    st.tuples(st.just("reversal"), st.integers(0, 5), st.sampled_from(list(Category)), hours),
    st.tuples(st.just("void"), st.integers(0, 5)),
    st.tuples(st.just("transfer"), st.integers(0, 5), st.integers(0, 2)),
    st.tuples(st.just("move"), st.integers(0, 2), st.integers(0, 2)),
), min_size=1, max_size=25)


def _apply(operation, people, units, departments, admin):
    kind, index, *rest = operation
    person = people[index % len(people)]
    if kind == "course":
        category, value = rest
        ledger.post(person, year=YEAR, source_type=SourceType.COURSE, source_id=next(_source_ids),
                    postings=[ledger.Posting(category, value)], earned_on=dt.date(YEAR, 6, 1), description="课")
    elif kind == "declaration":
        declared, value = rest
        ledger.post(person, year=YEAR, source_type=SourceType.DECLARATION, source_id=next(_source_ids),
                    postings=[ledger.Posting(Category.PROFESSIONAL, value)], earned_on=dt.date(YEAR, 6, 1),
                    description="申报", kind=declared)
    elif kind == "reversal":
        category, value = rest
        ledger.post(person, year=YEAR, source_type=SourceType.DECLARATION, source_id=next(_source_ids),
                    postings=[ledger.Posting(category, -value)], earned_on=dt.date(YEAR, 6, 1),
                    description="撤销", purpose=Purpose.REVERSAL, kind="academic")
    elif kind == "void":
        if not ledger.is_year_voided(person.id, YEAR):
            ledger.adjust(person, year=YEAR, kind=AdjustmentKind.VOID_YEAR, reason="弄虚作假", decided_by=admin)
    elif kind == "transfer":
        target = units[rest[0] % len(units)]
        if target.id != person.org_id:
            tally.transfer_person(person, target.id, lambda year: ledger.rule_set_of(person, year))
            person.org_id = target.id
            db.session.flush()
            db.session.expire(person, ["org"])
    elif kind == "move":
        # A unit changes its competent department: its subtree's paths change and its rolled-up rows move.
        unit = units[index % len(units)]
        department = departments[rest[0] % len(departments)]
        old_path, new_path = unit.path, f"{department.path}{unit.id}/"
        unit.parent_id = department.id
        for org in db.session.scalars(sa.select(Org).where(Org.path.like(old_path + "%"))):
            org.path = new_path + org.path[len(old_path):]
        db.session.flush()
        tally.move_subtree(unit.id, old_path)
    db.session.commit()


def _assert_tallies_match(orgs):
    for org in orgs:
        db.session.refresh(org)
        kept = service.report(org, YEAR)
        assert kept.root.comparable() == service.plain_figures(org, YEAR).comparable(), org.name
        # The drill-down's rows add up to the total.
        summed = service.Figures(org.id, "", "")
        for row in kept.children:
            summed.add(row)
        assert summed.finish().comparable() == kept.root.comparable(), org.name


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations)
def test_tallies_equal_the_plain_query_after_any_history(tree, operations):
    units = [tree.unit_a, tree.unit_b, tree.base_a]
    departments = [tree.dept_a, tree.dept_b, tree.dept_a]
    people = [tree.learner_a, tree.learner_b] + [make_user(unit, Role.LEARNER) for unit in units[:2] * 2]
    for operation in operations:
        _apply(operation, people, units, departments, tree.admins["province"])
    _assert_tallies_match([tree.province, tree.city, tree.county, tree.dept_a, tree.dept_b, tree.unit_a,
                           tree.unit_b])


def test_a_person_meets_the_year_only_with_both_minimums_and_the_total(tree):
    person = tree.learner_a

    def post(category, value):
        ledger.post(person, year=YEAR, source_type=SourceType.COURSE, source_id=next(_source_ids),
                    postings=[ledger.Posting(category, Decimal(value))], earned_on=dt.date(YEAR, 3, 1),
                    description="课")
        db.session.commit()
        return db.session.get(PersonYearHours, (person.id, YEAR)).standing

    assert post(Category.PROFESSIONAL, "75") == Standing.CLOSE  # 75 ≥ 72, but 公需 missing
    assert post(Category.PUBLIC, "10") == Standing.CLOSE  # total 85
    assert post(Category.PROFESSIONAL, "10") == Standing.CLOSE  # total 95 but 公需 10 < 30
    assert post(Category.PUBLIC, "20") == Standing.MET
    ledger.adjust(person, year=YEAR, kind=AdjustmentKind.VOID_YEAR, reason="弄虚作假", decided_by=tree.admins["unit_a"])
    db.session.commit()
    assert db.session.get(PersonYearHours, (person.id, YEAR)).standing == Standing.VOIDED
    figures = service.report(tree.unit_a, YEAR).root
    assert figures.standings["voided"] == 1 and figures.standings["met"] == 0
    assert figures.category_hours(Category.PUBLIC) == 0


def test_rebuild_restores_the_tallies_from_the_ledger(tree):
    for person, value in ((tree.learner_a, "31"), (tree.learner_b, "5")):
        ledger.post(person, year=YEAR, source_type=SourceType.COURSE, source_id=next(_source_ids),
                    postings=[ledger.Posting(Category.PUBLIC, Decimal(value))], earned_on=dt.date(YEAR, 3, 1),
                    description="课")
    db.session.commit()
    before = service.report(tree.province, YEAR).root.comparable()
    db.session.execute(sa.delete(PersonYearHours))
    tally.rebuild()
    db.session.commit()
    assert service.report(tree.province, YEAR).root.comparable() == before


def test_people_counts_follow_registration_approval_disabling_moves_and_a_bulk_import(tree):
    from lms.accounts import staff_import
    from lms.accounts.models import ReviewStatus
    from tests.accounts.test_staff_import import person_row, sheet_bytes

    def counts(org):
        figures = service.report(org, YEAR).root
        return figures.registered, figures.approved, figures.pending, figures.disabled

    assert counts(tree.unit_a) == (2, 1, 1, 0) and counts(tree.province) == (4, 2, 2, 0)
    tree.pending_a.status = ReviewStatus.APPROVED
    tree.learner_b.disabled_at = dt.datetime(2026, 6, 1)
    db.session.commit()
    assert counts(tree.unit_a) == (2, 2, 0, 0) and counts(tree.unit_b) == (2, 1, 1, 1)
    tree.learner_a.org_id = tree.unit_b.id
    db.session.commit()
    assert counts(tree.unit_a) == (1, 1, 0, 0) and counts(tree.dept_b) == (3, 2, 1, 1)
    staff_import.import_staff(tree.admins["unit_a"], sheet_bytes([person_row(i) for i in range(3)]), "名单.xlsx")
    db.session.commit()
    assert counts(tree.unit_a) == (4, 4, 0, 0) and counts(tree.province) == (7, 6, 1, 1)
    for org in (tree.province, tree.unit_a, tree.unit_b, tree.dept_b):
        assert service.report(org, YEAR).root.comparable()[:4] == service.plain_figures(org, YEAR).comparable()[:4]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations)
def test_figures_as_of_today_from_the_ledger_equal_the_tallies(tree, operations):
    from lms.statistics.as_of import report_as_of

    units = [tree.unit_a, tree.unit_b, tree.base_a]
    departments = [tree.dept_a, tree.dept_b, tree.dept_a]
    people = [tree.learner_a, tree.learner_b] + [make_user(unit, Role.LEARNER) for unit in units[:2]]
    for operation in operations:
        _apply(operation, people, units, departments, tree.admins["province"])
    today = ledger.china_today()
    for org in (tree.province, tree.city, tree.dept_a, tree.unit_b):
        db.session.refresh(org)
        kept, computed = service.report(org, YEAR), report_as_of(org, YEAR, today)
        assert computed.root.comparable() == kept.root.comparable(), org.name
        assert [c.comparable() for c in computed.children] == [c.comparable() for c in kept.children], org.name


def test_figures_as_of_a_past_day_leave_out_what_came_after(tree):
    from lms.statistics.as_of import report_as_of

    today = ledger.china_today()
    ledger.post(tree.learner_a, year=today.year, source_type=SourceType.COURSE, source_id=next(_source_ids),
                postings=[ledger.Posting(Category.PUBLIC, Decimal("30"))], earned_on=today, description="课")
    # 学员 B registered and was approved 40 days ago; everyone else registered today.
    tree.learner_b.created_at = tree.learner_b.reviewed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None) \
        - dt.timedelta(days=40)
    db.session.commit()
    before = report_as_of(tree.province, today.year, today - dt.timedelta(days=1)).root
    assert (before.registered, before.approved, before.pending) == (1, 1, 0)
    assert before.hours == {} and before.standings["short"] == 0 and before.standings["none"] == 1
    now = report_as_of(tree.province, today.year, today).root
    assert now.category_hours(Category.PUBLIC) == 30 and now.registered == 4
