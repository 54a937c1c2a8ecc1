"""核认 windows: a rule set that takes declarations of years before its own only between two dates (China time).

Hunan 2026 (通知二) takes 2021–2025 from 5月25日 to 7月25日; outside those dates such a declaration is refused
with the dates. Years a rule set covers in the ordinary way need no window.
"""

from __future__ import annotations

import datetime as dt

from lms.core.errors import InvalidInput
from lms.rules import RuleSet


def window_problem(rule_set: RuleSet, year: int, today: dt.date) -> str | None:
    """Why a declaration of ``year`` cannot be made today under the rule set (None: it can)."""
    if rule_set.covers(year):
        return None
    windows = rule_set.windows_for(year)
    if any(window.is_open(today) for window in windows):
        return None
    if not windows:
        return f"{rule_set.title}不适用于 {year} 年度的学时。"
    spans = "；".join(f"{w.label}：{w.first_year}–{w.last_year} 年度的学时，{w.opens.isoformat()} 至 "
                     f"{w.closes.isoformat()} 受理（{w.article}）" for w in windows)
    return f"{year} 年度的学时只能在核认期限内申报，今天（{today.isoformat()}）不在期限内。{spans}。"


def check_window(rule_set: RuleSet, year: int, today: dt.date) -> None:
    problem = window_problem(rule_set, year, today)
    if problem:
        raise InvalidInput({"year": problem})
