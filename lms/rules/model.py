"""Typed rule sets: a region's policy text as data the engine reads (built by ``loader.validate``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

FactType = Literal["int", "decimal", "bool", "enum", "date"]
CapPeriod = Literal["declaration", "day", "year"]
FactValue = int | Decimal | bool | str | dt.date

FACT_TYPES: tuple[FactType, ...] = ("int", "decimal", "bool", "enum", "date")
CAP_PERIODS: tuple[CapPeriod, ...] = ("declaration", "day", "year")


@dataclass(frozen=True)
class Fact:
    """One piece of information a declaration of a kind gives, with its type and allowed range."""

    id: str
    label: str
    type: FactType
    minimum: int | Decimal | dt.date | None = None
    maximum: int | Decimal | dt.date | None = None
    step: Decimal | None = None  # decimal facts only; None means one decimal place
    values: Mapping[str, str] = field(default_factory=dict)  # enum facts: value -> Chinese label


@dataclass(frozen=True)
class Span:
    """The date facts bounding an activity, and the int fact counting days inside it that earn nothing."""

    start: str
    end: str
    excluded_days: str | None = None


@dataclass(frozen=True)
class Condition:
    """A fact the text requires before it credits anything (``equals`` for bool/enum, ``at_least`` for numbers)."""

    fact: str
    reason: str
    equals: bool | str | None = None
    at_least: int | Decimal | None = None


@dataclass(frozen=True)
class Bonus:
    """Hours added to a fixed amount when a bool fact is true."""

    fact: str
    hours: Decimal
    label: str


@dataclass(frozen=True)
class Fixed:
    """A fixed number of hours per declaration, plus bonuses."""

    hours: Decimal
    bonuses: tuple[Bonus, ...] = ()


@dataclass(frozen=True)
class Actual:
    """The hours are the value of a fact (actual hours attended)."""

    fact: str


@dataclass(frozen=True)
class Multiple:
    """A fact times a factor fixed by the text (``factor``) or declared (``factor_fact``)."""

    fact: str
    factor: Decimal | None = None
    factor_fact: str | None = None


@dataclass(frozen=True)
class Table:
    """Hours looked up by the values of enum facts; every combination has a row."""

    keys: tuple[str, ...]
    hours: Mapping[tuple[str, ...], Decimal]


@dataclass(frozen=True)
class CompletesYear:
    """The activity counts as meeting the whole year's requirement."""


Formula = Fixed | Actual | Multiple | Table | CompletesYear
FORMULA_TYPES: dict[str, type] = {
    "fixed": Fixed, "actual": Actual, "multiple": Multiple, "table": Table, "completes_year": CompletesYear,
}


@dataclass(frozen=True)
class Kind:
    """A kind of off-platform activity: the facts it needs, how they become hours, and the article saying so."""

    id: str
    label: str
    article: str
    facts: Mapping[str, Fact]
    formula: Formula
    category: str | None = None  # exactly one of category and category_fact is set
    category_fact: str | None = None
    span: Span | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Cap:
    """At most ``maximum`` hours per declaration, per day or per year, shared by the kinds listed."""

    id: str
    label: str
    per: CapPeriod
    maximum: Decimal
    kinds: tuple[str, ...]
    article: str


@dataclass(frozen=True)
class Category:
    """公需科目 or 专业科目, with the yearly minimum."""

    id: str
    label: str
    minimum: Decimal


@dataclass(frozen=True)
class Deferral:
    """How long a year may be completed late on the unit's certificate."""

    max_months: int
    article: str


@dataclass(frozen=True)
class TransferRules:
    """How long the old unit has to answer a transfer the new unit asked for before its silence completes it."""

    answer_within_days: int
    basis: str


@dataclass(frozen=True)
class CourseRules:
    """Whether a base's course needs its competent department's approval before learners see it (课程审核)."""

    require_department_approval: bool
    basis: str


# A rule set that says nothing about courses does not hold them back.
NO_COURSE_VETTING = CourseRules(require_department_approval=False, basis="规则集未要求课程审核")


@dataclass(frozen=True)
class RuleSet:
    """One region's rules, applying from ``year`` to ``until`` (or until a newer version of the region)."""

    id: str
    region: str
    region_label: str
    year: int
    until: int | None
    title: str
    total_hours: Decimal
    minutes_per_hour: int
    requirement_article: str
    categories: Mapping[str, Category]
    kinds: Mapping[str, Kind]
    caps: tuple[Cap, ...]
    deferral: Deferral | None = None
    transfers: TransferRules | None = None
    courses: CourseRules = NO_COURSE_VETTING

    def caps_for(self, kind_id: str) -> tuple[Cap, ...]:
        """Return the caps on a kind: per declaration first, then per day, then per year, each in file order."""
        applicable = [cap for cap in self.caps if kind_id in cap.kinds]
        return tuple(sorted(applicable, key=lambda cap: CAP_PERIODS.index(cap.per)))

    def covers(self, year: int) -> bool:
        """Tell whether this version may apply to a year (a newer version of the region takes over)."""
        return year >= self.year and (self.until is None or year <= self.until)
