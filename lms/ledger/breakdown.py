"""A person's year as data for the JSON APIs: hours by category and by kind, the requirement, compliance.

Every number is the ledger's (``service.year_summary``); this only arranges it, for ``/api/v1/my/hours`` and the
title-review interface (``lms.interop``) alike, so both say the same thing.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from lms.accounts.models import User
from lms.extensions import db
from lms.ledger import service
from lms.ledger.models import LedgerEntry, SourceType
from lms.rules import NoRuleSet


def _hours(value) -> str:
    return format(Decimal(value).quantize(service.ZERO), "f")


def by_kind(user: User, summary: service.YearSummary) -> list[dict]:
    """The year's hours per source kind (online courses, each declared kind, corrections) and category."""
    rows = db.session.execute(
        sa.select(LedgerEntry.source_type, LedgerEntry.kind, LedgerEntry.category, sa.func.sum(LedgerEntry.hours))
        .where(LedgerEntry.user_id == user.id, LedgerEntry.year == summary.year)
        .group_by(LedgerEntry.source_type, LedgerEntry.kind, LedgerEntry.category)
        .order_by(LedgerEntry.source_type, LedgerEntry.kind, LedgerEntry.category)).all()
    result = []
    for source_type, kind, category, hours in rows:
        source = SourceType(source_type)
        rule_kind = summary.rule_set.kinds.get(kind) if kind else None
        label = rule_kind.label if rule_kind else source.label
        result.append({"source": source.value, "kind": kind, "label": label, "category": category.value
                       if hasattr(category, "value") else category, "hours": _hours(hours)})
    return result


def compliance(summary: service.YearSummary, deferred: bool = False) -> dict:
    """Whether the year met the rule set's requirement, in a word for machines and a sentence for people."""
    if summary.voided:
        status, text = "voided", f"{summary.year} 年度学时已因学时申报弄虚作假作废（学时管理办法第二十一条）"
    elif summary.met:
        status, text = "met", f"{summary.year} 年度学时已达到要求"
    else:
        missing = "，".join(f"{c.label}还差 {c.remaining} 学时" for c in [*summary.categories, summary.total]
                           if not c.met)
        status = "deferred" if deferred else "not_met"
        text = (f"{summary.year} 年度学时未达到要求（{missing}）" + ("，已办理顺延补学" if deferred else ""))
    return {"met": summary.met, "voided": summary.voided, "status": status, "text": text}


def year_data(user: User, year: int, deferred: bool = False) -> dict:
    """The year: totals per category against each minimum, hours per kind, the requirement and compliance.

    A year no rule set covers (before the platform's first) still gives the ledger's hours, without a verdict.
    """
    try:
        summary = service.year_summary(user, year)
    except NoRuleSet as error:
        return _unruled_year(user, year, error.message)
    return {
        "year": year,
        "rule_set": summary.rule_set.id,
        "requirement": {"total": _hours(summary.rule_set.total_hours),
                        "categories": {c.category: _hours(c.minimum) for c in summary.categories},
                        "article": summary.rule_set.requirement_article},
        "hours": {**{c.category: _hours(c.hours) for c in summary.categories}, "total": _hours(summary.total.hours)},
        "categories": [{"category": c.category, "label": c.label, "hours": _hours(c.hours),
                        "minimum": _hours(c.minimum), "met": c.met} for c in summary.categories],
        "by_kind": by_kind(user, summary),
        "compliance": compliance(summary, deferred),
    }


def _unruled_year(user: User, year: int, why: str) -> dict:
    totals = service.balances(user.id, year)
    rows = db.session.execute(
        sa.select(LedgerEntry.source_type, LedgerEntry.kind, LedgerEntry.category, sa.func.sum(LedgerEntry.hours))
        .where(LedgerEntry.user_id == user.id, LedgerEntry.year == year)
        .group_by(LedgerEntry.source_type, LedgerEntry.kind, LedgerEntry.category)).all()
    return {
        "year": year, "rule_set": None, "requirement": None,
        "hours": {**{c.value: _hours(h) for c, h in totals.items()}, "total": _hours(sum(totals.values()))},
        "categories": [{"category": c.value, "label": c.label, "hours": _hours(h), "minimum": None, "met": None}
                       for c, h in totals.items()],
        "by_kind": [{"source": SourceType(t).value, "kind": k, "label": SourceType(t).label,
                     "category": getattr(c, "value", c), "hours": _hours(h)} for t, k, c, h in rows],
        "compliance": {"met": None, "voided": service.is_year_voided(user.id, year), "status": "no_rule_set",
                       "text": why},
    }
