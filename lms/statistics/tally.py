"""Keep the statistics tallies true in the same transaction as every ledger posting, transfer and move.

Each change is an atomic ``UPDATE … SET x = x + delta`` on the person's row: concurrent postings for one person
queue on that row's lock, so the standing read back after the update is the one the counters move from. The
organisation rows are rolled up: a change is added to the person's organisation and every ancestor (at most six
rows, always root first, so two transactions never take them in opposite orders), and a subtree's figures are
one row. Nothing here reads the ledger except a transfer and ``rebuild`` (the repair tool).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from lms.courses.models import Category
from lms.extensions import db
from lms.ledger.models import AdjustmentKind, LedgerAdjustment, LedgerEntry, SourceType
from lms.orgs.models import Org
from lms.rules.model import RuleSet
from lms.statistics.models import OrgPeopleCount, OrgYearSourceHours, OrgYearTally, PersonYearHours, Standing

# Where "close" begins: four fifths of the year's total (the "e.g. ≥ 80 %").
CLOSE_SHARE = Decimal("0.8")
COUNTED = (Standing.SHORT, Standing.CLOSE, Standing.MET, Standing.VOIDED)


def standing_of(public: Decimal, professional: Decimal, voided: bool, rule_set: RuleSet) -> Standing:
    """Where a person with these balances stands against the rule set (the ledger's YearSummary.met, in short)."""
    if voided:
        return Standing.VOIDED
    total = public + professional
    minimums = {cid: category.minimum for cid, category in rule_set.categories.items()}
    held = {Category.PUBLIC.value: public, Category.PROFESSIONAL.value: professional}
    if total >= rule_set.total_hours and all(held.get(cid, Decimal(0)) >= m for cid, m in minimums.items()):
        return Standing.MET
    if total >= rule_set.total_hours * CLOSE_SHARE:
        return Standing.CLOSE
    return Standing.SHORT if total > 0 else Standing.NONE


def source_of(entry: LedgerEntry) -> str:
    if entry.source_type == SourceType.DECLARATION:
        return f"declaration:{entry.kind or 'other'}"
    return entry.source_type.value


def record_entries(user, entries: Iterable[LedgerEntry], rule_set: RuleSet) -> None:
    """Add freshly posted entries of one person to the tallies (called by ``lms.ledger.service.post``)."""
    by_year: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_year[entry.year].append(entry)
    for year, year_entries in by_year.items():
        public = sum((e.hours for e in year_entries if e.category == Category.PUBLIC), Decimal(0))
        professional = sum((e.hours for e in year_entries if e.category == Category.PROFESSIONAL), Decimal(0))
        # The organisation the person's row counts for, read under the row's lock: a transfer confirmed at the
        # same moment moves the row first or waits, so the hours go where the counters are.
        counted_org = _move_person(user.id, user.org_id, year, public, professional, rule_set)
        sources: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for entry in year_entries:
            sources[(entry.category.value, source_of(entry))] += entry.hours
        _add_source_hours(counted_org, year, sources)


def mark_voided(user, year: int) -> None:
    """Count a person's year as voided (第二十一条), whatever its balance (called by ``lms.ledger.service.adjust``)."""
    _ensure_person(user.id, user.org_id, year)
    table = PersonYearHours.__table__
    old_standing, counted_org = db.session.execute(
        sa.select(table.c.standing, table.c.org_id).where(table.c.user_id == user.id, table.c.year == year)
        .with_for_update()).one()
    if Standing(old_standing) != Standing.VOIDED:
        db.session.execute(sa.update(table).where(table.c.user_id == user.id, table.c.year == year)
                           .values(standing=Standing.VOIDED))
        _count(counted_org, year, Standing(old_standing), -1)
        _count(counted_org, year, Standing.VOIDED, +1)
    _expire_cached(user.id, year)


def transfer_person(user, new_org_id: int, rule_set_for_year) -> None:
    """Move a person's tallies of every year from their organisation to ``new_org_id`` (人员调转).

    ``rule_set_for_year(year)`` gives the rule set of the person at the new organisation (its region may differ).
    The caller changes ``user.org_id`` and commits.
    """
    rows = db.session.scalars(sa.select(PersonYearHours).where(PersonYearHours.user_id == user.id)
                              .with_for_update()).all()
    for row in rows:
        old_org = row.org_id
        sources = _person_sources(user.id, row.year)
        _add_source_hours(old_org, row.year, {key: -hours for key, hours in sources.items()})
        _add_source_hours(new_org_id, row.year, sources)
        new_standing = standing_of(row.public_hours, row.professional_hours, row.standing == Standing.VOIDED,
                                   rule_set_for_year(row.year))
        _count(old_org, row.year, row.standing, -1)
        _count(new_org_id, row.year, new_standing, +1)
        row.org_id, row.standing = new_org_id, new_standing
    db.session.flush()


def move_subtree(org_id: int, old_path: str) -> None:
    """Carry an organisation's rolled-up rows from its old ancestors to its new ones (更换上级部门).

    Call after the organisation's (and its subtree's) paths changed, in the same transaction.
    """
    new_path = db.session.scalar(sa.select(Org.path).where(Org.id == org_id))
    old_above = [int(p) for p in old_path.strip("/").split("/") if p][:-1]
    new_above = [int(p) for p in new_path.strip("/").split("/") if p][:-1]
    tallies = OrgYearTally.__table__
    for row in db.session.execute(sa.select(tallies).where(tallies.c.org_id == org_id)).mappings().all():
        for standing in COUNTED:
            if row[standing.value]:
                _count(org_id, row["year"], standing, -row[standing.value], old_above)
                _count(org_id, row["year"], standing, row[standing.value], new_above)
    hours = OrgYearSourceHours.__table__
    for row in db.session.execute(sa.select(hours).where(hours.c.org_id == org_id)).mappings().all():
        key = {(row["category"], row["source"]): row["hours"]}
        _add_source_hours(org_id, row["year"], {k: -v for k, v in key.items()}, old_above)
        _add_source_hours(org_id, row["year"], key, new_above)
    people = db.session.get(OrgPeopleCount, org_id)
    if people is not None:
        deltas = {name: getattr(people, name) for name in PEOPLE_COLUMNS}
        _add_people(old_above, {k: -v for k, v in deltas.items()})
        _add_people(new_above, deltas)


# ------------------------------------------------------------------------------------------------ people counts

PEOPLE_COLUMNS = ("registered", "approved", "pending", "disabled")


def people_flags(role, status, disabled: bool) -> dict[str, int]:
    """What one account adds to its organisation's people counts (learners only)."""
    from lms.accounts.models import Role
    from lms.orgs.models import ReviewStatus

    if role != Role.LEARNER:
        return dict.fromkeys(PEOPLE_COLUMNS, 0)
    return {"registered": 1, "approved": int(status == ReviewStatus.APPROVED),
            "pending": int(status == ReviewStatus.PENDING), "disabled": int(bool(disabled))}


def _add_people(ids: list[int], deltas: dict[str, int], connection=None) -> None:
    if not ids or not any(deltas.values()):
        return
    run = (connection or db.session).execute
    run(_insert(OrgPeopleCount).values([dict(org_id=i, **dict.fromkeys(PEOPLE_COLUMNS, 0)) for i in ids])
        .on_conflict_do_nothing())
    table = OrgPeopleCount.__table__
    for org in ids:
        run(sa.update(table).where(table.c.org_id == org)
            .values({table.c[name]: table.c[name] + delta for name, delta in deltas.items() if delta}))


def recount_people(org_ids) -> None:
    """Recompute the people counts of organisations from their accounts (after a bulk insert that skipped the ORM).

    Counts the organisations' own accounts again and carries the difference up to every ancestor.
    """
    from lms.accounts.models import User

    for org_id in sorted(set(org_ids)):
        counted = dict.fromkeys(PEOPLE_COLUMNS, 0)
        for role, status, disabled, count in db.session.execute(
                sa.select(User.role, User.status, User.disabled_at.is_not(None), sa.func.count())
                .where(User.org_id == org_id).group_by(User.role, User.status, User.disabled_at.is_not(None))):
            for name, flag in people_flags(role, status, disabled).items():
                counted[name] += flag * count
        own = _own_people(org_id)
        _add_people(_ancestry(org_id), {name: counted[name] - own[name] for name in PEOPLE_COLUMNS})


def _own_people(org_id: int) -> dict[str, int]:
    """An organisation's own people as the counts hold them now: its row minus its children's rows."""
    table = OrgPeopleCount.__table__
    mine = db.session.execute(sa.select(table).where(table.c.org_id == org_id)).mappings().first()
    children = db.session.execute(
        sa.select(*[sa.func.coalesce(sa.func.sum(table.c[name]), 0) for name in PEOPLE_COLUMNS])
        .join(Org, Org.id == table.c.org_id).where(Org.parent_id == org_id)).one()
    return {name: (mine[name] if mine else 0) - int(children[i]) for i, name in enumerate(PEOPLE_COLUMNS)}


def rebuild() -> int:
    """Recompute every tally from the ledger (after a restore or a bulk load); return the person-years written."""
    from lms.accounts.models import User
    from lms.ledger.service import rule_set_of

    for model in (OrgYearSourceHours, OrgYearTally, PersonYearHours, OrgPeopleCount):
        db.session.execute(sa.delete(model))
    recount_people(db.session.scalars(sa.select(User.org_id).distinct()))
    written = 0
    users = db.session.scalars(sa.select(User).where(User.id.in_(sa.select(LedgerEntry.user_id).distinct())))
    for user in users:
        for year in db.session.scalars(sa.select(LedgerEntry.year).where(LedgerEntry.user_id == user.id)
                                       .distinct()):
            entries = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == user.id,
                                                                      LedgerEntry.year == year)).all()
            record_entries(user, entries, rule_set_of(user, year))
            if _voided_by_adjustment(user.id, year):
                mark_voided(user, year)
            written += 1
    db.session.flush()
    return written


# ------------------------------------------------------------------------------------------------ internals

def _voided_by_adjustment(user_id: int, year: int) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(
        LedgerAdjustment.user_id == user_id, LedgerAdjustment.year == year,
        LedgerAdjustment.kind == AdjustmentKind.VOID_YEAR))))




def _insert(model):
    return (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(model)


def _ensure_person(user_id: int, org_id: int, year: int) -> None:
    db.session.execute(_insert(PersonYearHours).values(
        user_id=user_id, year=year, org_id=org_id, public_hours=0, professional_hours=0, standing=Standing.NONE)
        .on_conflict_do_nothing())


def _expire_cached(user_id: int, year: int) -> None:
    # The ORM may hold the row from an earlier read; what it holds is stale now.
    cached = db.session.identity_map.get(identity_key(PersonYearHours, (user_id, year)))
    if cached is not None:
        db.session.expire(cached)


def _move_person(user_id: int, org_id: int, year: int, public: Decimal, professional: Decimal,
                 rule_set: RuleSet) -> int:
    """Add to the person's year and move the counters if their standing changed; return the row's organisation."""
    _ensure_person(user_id, org_id, year)
    table = PersonYearHours.__table__
    new_public, new_professional, old_standing, counted_org = db.session.execute(
        sa.update(table).where(table.c.user_id == user_id, table.c.year == year)
        .values(public_hours=table.c.public_hours + public,
                professional_hours=table.c.professional_hours + professional)
        .returning(table.c.public_hours, table.c.professional_hours, table.c.standing, table.c.org_id)).one()
    old_standing = Standing(old_standing)
    new_standing = standing_of(Decimal(new_public), Decimal(new_professional), old_standing == Standing.VOIDED,
                               rule_set)
    if new_standing != old_standing:
        db.session.execute(sa.update(table).where(table.c.user_id == user_id, table.c.year == year)
                           .values(standing=new_standing))
        _count(counted_org, year, old_standing, -1)
        _count(counted_org, year, new_standing, +1)
    _expire_cached(user_id, year)
    return counted_org


def _ancestry(org_id: int) -> list[int]:
    """The organisation and its ancestors, root first."""
    path = db.session.scalar(sa.select(Org.path).where(Org.id == org_id))
    return [int(part) for part in path.strip("/").split("/") if part]


def _count(org_id: int, year: int, standing: Standing, delta: int, ancestry: list[int] | None = None) -> None:
    if standing == Standing.NONE:
        return  # "no hours" is everyone else: approved people minus the counted ones
    ids = ancestry if ancestry is not None else _ancestry(org_id)
    db.session.execute(_insert(OrgYearTally).values(
        [dict(org_id=i, year=year, short=0, close=0, met=0, voided=0) for i in ids]).on_conflict_do_nothing())
    table = OrgYearTally.__table__
    column = table.c[standing.value]
    for org in ids:  # one row at a time, root first: the same lock order in every transaction
        db.session.execute(sa.update(table).where(table.c.org_id == org, table.c.year == year)
                           .values({column: column + delta}))


def _add_source_hours(org_id: int, year: int, sources: dict[tuple[str, str], Decimal],
                      ancestry: list[int] | None = None) -> None:
    table = OrgYearSourceHours.__table__
    ids = ancestry if ancestry is not None else _ancestry(org_id)
    for (category, source), hours in sorted(sources.items()):
        if not hours:
            continue
        db.session.execute(_insert(OrgYearSourceHours).values(
            [dict(org_id=i, year=year, category=category, source=source, hours=0) for i in ids])
            .on_conflict_do_nothing())
        for org in ids:
            db.session.execute(sa.update(table).where(table.c.org_id == org, table.c.year == year,
                                                      table.c.category == category, table.c.source == source)
                               .values(hours=table.c.hours + hours))


def _person_sources(user_id: int, year: int) -> dict[tuple[str, str], Decimal]:
    sources: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == user_id,
                                                                 LedgerEntry.year == year)):
        sources[(entry.category.value, source_of(entry))] += entry.hours
    return dict(sources)


# An account's creation, approval, disabling, move or deletion changes its organisations' people counts in the
# same flush: every path that changes accounts through the ORM is counted without knowing about statistics.
def _account_state(user):
    from sqlalchemy import inspect

    state = inspect(user)

    def value(name, old: bool):
        history = state.attrs[name].history
        if old and history.has_changes():
            return history.deleted[0] if history.deleted else None
        return getattr(user, name)

    def org_of(old: bool):
        org_id = value("org_id", old)
        org_history = state.attrs["org"].history
        if org_history.has_changes():
            chosen = (org_history.deleted[0] if org_history.deleted else None) if old else user.org
            if chosen is not None:
                org_id = chosen.id
        elif org_id is None and user.org is not None:
            org_id = user.org.id
        return org_id

    def snapshot(old: bool):
        from lms.orgs.models import ReviewStatus

        return (org_of(old), value("role", old), value("status", old) or ReviewStatus.PENDING,
                value("disabled_at", old) is not None)

    return snapshot


def _after_flush(session, flush_context) -> None:
    from lms.accounts.models import User

    changes: dict[int, dict[str, int]] = {}

    def add(org_id, role, status, disabled, sign):
        if org_id is None:
            return
        row = changes.setdefault(org_id, dict.fromkeys(PEOPLE_COLUMNS, 0))
        for name, flag in people_flags(role, status, disabled).items():
            row[name] += sign * flag

    for user in session.new:
        if isinstance(user, User):
            add(*_account_state(user)(old=False), +1)
    for user in session.dirty:
        if isinstance(user, User) and session.is_modified(user, include_collections=False):
            snapshot = _account_state(user)
            before, after = snapshot(old=True), snapshot(old=False)
            if before != after:
                add(*before, -1)
                add(*after, +1)
    for user in session.deleted:
        if isinstance(user, User):
            add(*_account_state(user)(old=True), -1)
    if not any(any(v.values()) for v in changes.values()):
        return
    connection = session.connection()
    for org_id, deltas in sorted(changes.items()):
        path = connection.execute(sa.select(Org.path).where(Org.id == org_id)).scalar()
        ids = [int(part) for part in (path or "").strip("/").split("/") if part]
        _add_people(ids, deltas, connection)


sa.event.listen(Session, "after_flush", _after_flush)
