"""继教综合统计 as of a past date (5.4.1 "截至某日"): computed from the ledger and the accounts, not the tallies.

The tallies hold the present. For a past day the figures are summed from the ledger entries posted before the
end of that day (China time) and from the accounts as they then stood (registered before it, approved before it,
disabled before it), grouped by the root's direct children in SQL. This reads every entry of the subtree's year,
so it costs what the plain query of the benchmark costs: milliseconds for a unit, seconds for a province.
Standings use the root's rule set (both current rule sets require 公需 30, 专业 60 and 90 in all).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from lms.core.queues import utc_start_of
from lms.core.replica import read_session
from lms.ledger.service import region_of_org
from lms.orgs.models import Org, OrgKind
from lms.rules import rule_set_for
from lms.statistics.models import Standing
from lms.statistics.service import Figures, Report
from lms.statistics.tally import CLOSE_SHARE

# Each organisation of the subtree with the direct child of the root it lies under (NULL: the root itself).
_SCOPE = """
    SELECT o.id AS org_id, c.id AS child_id FROM orgs o
    LEFT JOIN orgs c ON c.parent_id = :root AND o.path LIKE c.path || '%'
    WHERE o.path LIKE :pattern"""

PEOPLE_SQL = sa.text(f"""
    WITH scope AS ({_SCOPE})
    SELECT s.child_id, COUNT(*),
           SUM(CASE WHEN u.status = 'approved' AND COALESCE(u.reviewed_at, u.created_at) < :cutoff THEN 1 ELSE 0 END),
           SUM(CASE WHEN u.status = 'pending' OR COALESCE(u.reviewed_at, u.created_at) >= :cutoff THEN 1 ELSE 0 END),
           SUM(CASE WHEN u.disabled_at < :cutoff THEN 1 ELSE 0 END)
    FROM users u JOIN scope s ON s.org_id = u.org_id
    WHERE u.role = 'learner' AND u.created_at < :cutoff
    GROUP BY s.child_id""")

STANDINGS_SQL = sa.text(f"""
    WITH scope AS ({_SCOPE}),
    voided AS (
        SELECT DISTINCT a.user_id FROM ledger_adjustments a
        WHERE a.year = :year AND a.kind = 'void_year' AND a.decided_at < :cutoff),
    balances AS (
        SELECT e.user_id, s.child_id,
               SUM(CASE WHEN e.category = 'public' THEN e.hours ELSE 0 END) AS pub,
               SUM(CASE WHEN e.category = 'professional' THEN e.hours ELSE 0 END) AS pro
        FROM ledger_entries e JOIN users u ON u.id = e.user_id JOIN scope s ON s.org_id = u.org_id
        WHERE e.year = :year AND e.posted_at < :cutoff AND e.user_id NOT IN (SELECT user_id FROM voided)
        GROUP BY e.user_id, s.child_id)
    SELECT b.child_id,
           SUM(CASE WHEN b.pub + b.pro >= :total AND b.pub >= :public AND b.pro >= :professional THEN 1 ELSE 0 END),
           SUM(CASE WHEN NOT (b.pub + b.pro >= :total AND b.pub >= :public AND b.pro >= :professional)
                    AND b.pub + b.pro >= :close THEN 1 ELSE 0 END),
           SUM(CASE WHEN b.pub + b.pro < :close AND b.pub + b.pro > 0 THEN 1 ELSE 0 END)
    FROM balances b GROUP BY b.child_id""")

# A voided year counts whatever its balance, even one that never had hours.
VOIDED_SQL = sa.text(f"""
    WITH scope AS ({_SCOPE})
    SELECT s.child_id, COUNT(DISTINCT a.user_id)
    FROM ledger_adjustments a JOIN users u ON u.id = a.user_id JOIN scope s ON s.org_id = u.org_id
    WHERE a.year = :year AND a.kind = 'void_year' AND a.decided_at < :cutoff
    GROUP BY s.child_id""")

SOURCES_SQL = sa.text(f"""
    WITH scope AS ({_SCOPE})
    SELECT s.child_id, e.category,
           CASE WHEN e.source_type = 'declaration' THEN 'declaration:' || COALESCE(e.kind, 'other')
                ELSE e.source_type END AS source, SUM(e.hours)
    FROM ledger_entries e JOIN users u ON u.id = e.user_id JOIN scope s ON s.org_id = u.org_id
    WHERE e.year = :year AND e.posted_at < :cutoff
    GROUP BY s.child_id, e.category, source""")


def report_as_of(root: Org, year: int, day: dt.date) -> Report:
    """The comprehensive statistics of ``root``'s subtree as they stood at the end of ``day``."""
    rule_set = rule_set_for(region_of_org(root), year)
    minimums = {cid: category.minimum for cid, category in rule_set.categories.items()}
    # Thresholds as floats: SQLite's driver takes no Decimal, and hours have one decimal place.
    params = {"root": root.id, "pattern": root.path + "%", "year": year,
              "cutoff": utc_start_of(day + dt.timedelta(days=1)), "total": float(rule_set.total_hours),
              "public": float(minimums.get("public", 0)), "professional": float(minimums.get("professional", 0)),
              "close": float(rule_set.total_hours * CLOSE_SHARE)}
    reader = read_session()
    children = reader.execute(sa.select(Org.id, Org.name, Org.kind).where(Org.parent_id == root.id)
                              .order_by(Org.id)).all()
    rows: dict[int | None, Figures] = {child.id: Figures(child.id, child.name, OrgKind(child.kind).value)
                                       for child in children}
    rows[None] = Figures(root.id, f"{root.name}（本级）", root.kind.value)
    for child_id, registered, approved, pending, disabled in reader.execute(PEOPLE_SQL, params):
        row = rows[child_id]
        row.registered, row.approved, row.pending, row.disabled = registered, approved or 0, pending or 0, \
            disabled or 0
    for child_id, met, close, short in reader.execute(STANDINGS_SQL, params):
        standings = rows[child_id].standings
        for standing, count in ((Standing.MET, met), (Standing.CLOSE, close), (Standing.SHORT, short)):
            standings[standing.value] = int(count or 0)
    for child_id, voided in reader.execute(VOIDED_SQL, params):
        rows[child_id].standings[Standing.VOIDED.value] = int(voided)
    for child_id, category, source, hours in reader.execute(SOURCES_SQL, params):
        rows[child_id].hours[(category, source)] = Decimal(str(hours)).quantize(Decimal("0.1"))
    total = Figures(root.id, root.name, root.kind.value)
    for row in rows.values():
        total.add(row)
    own = rows.pop(None)
    listed = [row.finish() for row in rows.values()]
    if own.registered or any(own.hours.values()):
        listed.append(own.finish())
    return Report(total.finish(), year, listed)
