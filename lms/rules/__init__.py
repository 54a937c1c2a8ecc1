"""Rule sets: which off-platform activities earn how many hours, per region and year, and the engine applying them.

The rules are data (``data/<region>-<year>.toml``); nothing here is specific to a region. Call
``default_rule_sets()`` at start-up so that a broken file stops the application with a clear message.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from lms.core.errors import NotFound
from lms.rules.engine import CreditedThisYear, Cut, FactsError, Outcome, UnknownKind, check_facts, compute
from lms.rules.loader import RuleSetError, load_rule_sets, validate
from lms.rules.model import RuleSet

DATA_DIR = Path(__file__).parent / "data"

__all__ = [
    "DATA_DIR", "CreditedThisYear", "Cut", "FactsError", "NoRuleSet", "Outcome", "RuleSet", "RuleSetError",
    "UnknownKind", "check_facts", "compute", "default_rule_sets", "load_rule_sets", "rule_set_for", "validate",
]


class NoRuleSet(NotFound):
    """No rule set applies to the region in that year."""


@functools.cache
def default_rule_sets() -> Mapping[str, RuleSet]:
    """Load and validate the rule sets shipped in ``lms/rules/data`` (once per process)."""
    return MappingProxyType(load_rule_sets(DATA_DIR))


def rule_set_for(region: str, year: int, rule_sets: Mapping[str, RuleSet] | None = None) -> RuleSet:
    """Return the rule set for a region and year: the region's newest version from that year or before."""
    rule_sets = default_rule_sets() if rule_sets is None else rule_sets
    versions = [rule_set for rule_set in rule_sets.values() if rule_set.region == region and rule_set.year <= year]
    newest = max(versions, key=lambda rule_set: rule_set.year, default=None)
    if newest is not None and newest.covers(year):
        return newest
    # A year before any version is covered by the oldest version declaring a 核认 window over it (Hunan 2026
    # takes 2021–2025 for senior titles); whether a declaration is accepted today is the window's question.
    windowed = [rule_set for rule_set in rule_sets.values()
                if rule_set.region == region and rule_set.year > year and rule_set.windows_for(year)]
    if windowed:
        return min(windowed, key=lambda rule_set: rule_set.year)
    raise NoRuleSet(f"没有适用于该地区（{region}）{year} 年度的学时认定规则，请联系管理员。")
