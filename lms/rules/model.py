"""Typed rule sets: a region's policy text as data the engine reads (built by ``loader.validate``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

FactType = Literal["int", "decimal", "bool", "enum", "date", "text"]
CapPeriod = Literal["declaration", "day", "year"]
FactValue = int | Decimal | bool | str | dt.date

FACT_TYPES: tuple[FactType, ...] = ("int", "decimal", "bool", "enum", "date", "text")
TEXT_MAX_CHARS = 100  # a text fact's default length limit
CAP_PERIODS: tuple[CapPeriod, ...] = ("declaration", "day", "year")


@dataclass(frozen=True)
class Fact:
    """One piece of information a declaration of a kind gives, with its type and allowed range."""

    id: str
    label: str
    type: FactType
    minimum: int | Decimal | dt.date | None = None
    maximum: int | Decimal | dt.date | None = None  # text facts: the length limit
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
    """A fact the text requires before it credits anything.

    ``equals`` for bool/enum, ``one_of`` for an enum with several accepted values, ``at_least`` for numbers.
    """

    fact: str
    reason: str
    equals: bool | str | None = None
    at_least: int | Decimal | None = None
    one_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class When:
    """A bool or enum fact having a value: when an evidence option applies."""

    fact: str
    equals: bool | str


@dataclass(frozen=True)
class Material:
    """One piece of evidence a text names (培训通知, 结业证书, 学习档案), uploaded in a slot of its own."""

    id: str
    label: str


@dataclass(frozen=True)
class MaterialOption:
    """One set of evidence that suffices: every slot needs a file of any one of the slot's materials.

    A text saying "提供以下材料之一" gives several options; ``when`` limits an option to declarations whose
    facts say so (a conference with a paper needs the paper too).
    """

    slots: tuple[tuple[str, ...], ...]
    when: tuple[When, ...] = ()


@dataclass(frozen=True)
class Materials:
    """The evidence a kind needs, and the article naming it."""

    items: Mapping[str, Material]
    options: tuple[MaterialOption, ...]
    article: str


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
    materials: Materials | None = None
    # Why the learner chooses the category (the text leaves it open); None when the rule set fixes it.
    category_basis: str | None = None

    @property
    def learner_chooses_category(self) -> bool:
        return self.category_fact is not None


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
    """How long a year may be completed late on the unit's certificate, and for which reasons.

    ``other_reasons``: the text's list ("伤、病、孕等") is open, so other reasons are accepted with an explanation
    and the unit's certificate attached. ``title_note`` is what a failed year means for a title application.
    """

    max_months: int
    article: str
    other_reasons: bool = False
    title_note: str | None = None


@dataclass(frozen=True)
class TransferRules:
    """How long the old unit has to answer a transfer the new unit asked for before its silence completes it."""

    answer_within_days: int
    basis: str


ReviewerKind = Literal["unit", "department", "hr", "province_hr", "above"]
REVIEWER_KINDS: tuple[ReviewerKind, ...] = ("unit", "department", "hr", "province_hr", "above")
StepCondition = Literal["provincial"]


@dataclass(frozen=True)
class ReviewStepRule:
    """One step of the review chain: who reviews (by their place in the tree) and what the step is called.

    ``unit``: the person's employer unit, or the archive agency hosting their archive; ``department``: the nearest
    competent department above the previous step; ``hr``: the nearest HR bureau above it; ``province_hr``: the
    province's bureau; ``above``: the nearest department or HR bureau (the chain before the rule sets said more).
    ``when = "provincial"`` keeps a step only where the department answers to the province bureau (省直单位).
    A step whose reviewer the tree does not have (a unit directly under an HR bureau has no department) is skipped.
    """

    reviewer: ReviewerKind
    label: str
    when: StepCondition | None = None


@dataclass(frozen=True)
class ReviewChain:
    """How many steps a declaration takes and who does each; ``central_unit_steps`` for 中央在鄂/驻湘 units."""

    steps: tuple[ReviewStepRule, ...]
    central_unit_steps: tuple[ReviewStepRule, ...]
    article: str
    roster_kinds: tuple[str, ...] = ()  # kinds a base or unit may declare for a roster of attendees (5.2)


# The chain before rule sets described it: the unit (or agency) first, then the nearest department or bureau.
DEFAULT_REVIEW = ReviewChain(
    steps=(ReviewStepRule("unit", "初审"), ReviewStepRule("above", "复审")),
    central_unit_steps=(ReviewStepRule("unit", "初审"),),
    article="学时管理办法第十四条",
)


@dataclass(frozen=True)
class Window:
    """A 核认 window: declarations of hours earned in ``first_year``–``last_year`` are accepted from ``opens`` to
    ``closes`` (both inclusive, dates in China time) under this rule set, although those years precede it."""

    first_year: int
    last_year: int
    opens: dt.date
    closes: dt.date
    label: str
    article: str

    def covers(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year

    def is_open(self, day: dt.date) -> bool:
        return self.opens <= day <= self.closes


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
    review: ReviewChain = DEFAULT_REVIEW
    windows: tuple[Window, ...] = ()
    courses: CourseRules = NO_COURSE_VETTING

    def caps_for(self, kind_id: str) -> tuple[Cap, ...]:
        """Return the caps on a kind: per declaration first, then per day, then per year, each in file order."""
        applicable = [cap for cap in self.caps if kind_id in cap.kinds]
        return tuple(sorted(applicable, key=lambda cap: CAP_PERIODS.index(cap.per)))

    def covers(self, year: int) -> bool:
        """Tell whether this version may apply to a year (a newer version of the region takes over)."""
        return year >= self.year and (self.until is None or year <= self.until)

    def windows_for(self, year: int) -> tuple[Window, ...]:
        """The 核认 windows through which this rule set takes declarations of an earlier year."""
        return tuple(window for window in self.windows if window.covers(year))
