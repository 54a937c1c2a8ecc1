"""Turn the facts of one declaration into credited hours under a rule set, with each cap explained."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Any

from lms.core.errors import InvalidInput
from lms.rules.model import (
    TEXT_MAX_CHARS,
    Actual,
    Cap,
    CompletesYear,
    Condition,
    Fact,
    FactValue,
    Fixed,
    Kind,
    Multiple,
    RuleSet,
    Table,
)

ZERO = Decimal("0.0")
TENTH = Decimal("0.1")
MAX_NUMBER = 10**6  # far beyond any real fact; keeps Decimal arithmetic exact
MAX_SPAN_DAYS = 366  # hours belong to the year they were earned in (第十八条), so no activity spans more
_INTEGER = re.compile(r"^[+-]?\d+$")
_PERIOD_WORD = {"declaration": "次", "day": "天", "year": "年"}


class FactsError(InvalidInput):
    """Facts that do not fit the kind's schema; ``fields`` maps each fact id to a Chinese message."""


class UnknownKind(FactsError):
    """A kind id that the rule set does not have."""

    def __init__(self, kind_id: str):
        super().__init__({"kind": f"没有这种学时类型：{kind_id}。"})


@dataclass(frozen=True)
class CreditedThisYear:
    """What a person already has credited in the year, not counting the declaration being computed.

    ``by_kind`` holds approved declarations per kind (cap groups are summed from it), ``by_category``
    everything credited per category (platform courses included), and ``by_kind_day`` the hours per day
    of kinds under a per-day cap, as returned in ``Outcome.by_day``.
    """

    by_kind: Mapping[str, Decimal] = field(default_factory=dict)
    by_category: Mapping[str, Decimal] = field(default_factory=dict)
    by_kind_day: Mapping[str, Mapping[dt.date, Decimal]] = field(default_factory=dict)


@dataclass(frozen=True)
class Cut:
    """A cap that lowered the hours: which one, by how much, and a sentence saying why."""

    cap_id: str
    reduced_by: Decimal
    message: str


@dataclass(frozen=True)
class Outcome:
    """The hours a declaration earns, in which category, and why.

    ``by_category`` is what to post per category; for a kind that completes the year it holds the hours
    still needed to meet each category's minimum (and the total). ``by_day`` spreads the hours over the
    days of a kind with a per-day cap, to be passed back in ``CreditedThisYear.by_kind_day``.
    """

    kind_id: str
    category: str
    hours: Decimal
    uncapped_hours: Decimal
    article: str
    basis: str
    cuts: tuple[Cut, ...] = ()
    completes_year: bool = False
    by_category: Mapping[str, Decimal] = field(default_factory=dict)
    by_day: Mapping[dt.date, Decimal] = field(default_factory=dict)
    not_credited_reason: str | None = None


def compute(rule_set: RuleSet, kind_id: str, facts: Mapping[str, Any],
            credited_this_year: CreditedThisYear | None = None) -> Outcome:
    """Compute the hours one declaration earns, after the caps, given what the year already has."""
    kind = rule_set.kinds.get(kind_id)
    if kind is None:
        raise UnknownKind(kind_id)
    values = check_facts(kind, facts)
    credited = credited_this_year or CreditedThisYear()
    _check_credited(rule_set, credited)
    category = kind.category or str(values[kind.category_fact])

    for condition in kind.conditions:
        if not _holds(condition, values[condition.fact]):
            reason = f"{condition.reason}（{kind.article}），本次不计学时"
            return Outcome(kind.id, category, ZERO, ZERO, kind.article, basis=reason,
                           by_category={category: ZERO}, not_credited_reason=reason)
    if isinstance(kind.formula, CompletesYear):
        return _complete_year(rule_set, kind, credited)

    uncapped, description = _evaluate(kind, values)
    hours, cuts, day_rooms = uncapped, [], {}
    for cap in rule_set.caps_for(kind.id):
        if cap.per == "day":
            day_rooms = _day_rooms(cap, kind, values, credited)
        room, why = _room(cap, kind, values, credited, day_rooms)
        if hours > room:
            cuts.append(Cut(cap.id, hours - room, f"{why}，本次按 {_fmt(room)} 学时计"))
            hours = room
    return Outcome(kind.id, category, hours, uncapped, kind.article,
                   basis=f"{kind.label}：{description}（{kind.article}）", cuts=tuple(cuts),
                   by_category={category: hours}, by_day=_spread(hours, day_rooms))


def check_facts(kind: Kind, facts: Mapping[str, Any]) -> dict[str, FactValue]:
    """Parse the facts of a declaration against the kind's schema; raise FactsError with a message per fact."""
    problems: dict[str, str] = {}
    values: dict[str, FactValue] = {}
    for key in facts:
        if key not in kind.facts:
            problems[key] = f"此类申报不需要填写 {key}。"
    for fact in kind.facts.values():
        raw = facts.get(fact.id)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            problems[fact.id] = f"请填写{fact.label}。"
            continue
        value, problem = _parse(fact, raw)
        if problem:
            problems[fact.id] = problem
        else:
            values[fact.id] = value
    if kind.span and not problems:
        problems.update(_span_problems(kind, values))
    if problems:
        raise FactsError(problems)
    return values


def _parse(fact: Fact, raw: Any) -> tuple[FactValue | None, str | None]:
    label = fact.label
    if fact.type == "bool":
        return (raw, None) if isinstance(raw, bool) else (None, f"{label}应为“是”或“否”。")
    if fact.type == "text":
        if not isinstance(raw, str):
            return None, f"{label}应为文字。"
        limit = fact.maximum or TEXT_MAX_CHARS
        text = " ".join(raw.split())
        return (text, None) if len(text) <= limit else (None, f"{label}最多 {limit} 字。")
    if fact.type == "enum":
        if isinstance(raw, str) and raw in fact.values:
            return raw, None
        return None, f"{label}应为以下之一：{'、'.join(fact.values.values())}。"
    if fact.type == "date":
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            value = raw
        else:
            try:
                value = dt.date.fromisoformat(raw.strip()) if isinstance(raw, str) else None
            except ValueError:
                value = None
            if value is None:
                return None, f"{label}应为日期（如 2026-03-01）。"
    elif fact.type == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and _INTEGER.match(raw.strip()):
            value = int(raw.strip())
        else:
            return None, f"{label}应为整数。"
        if abs(value) > MAX_NUMBER:
            return None, f"{label}数值过大。"
    else:
        value = _to_decimal(raw)
        if value is None:
            return None, f"{label}应为数字。"
        if abs(value) > MAX_NUMBER:
            return None, f"{label}数值过大。"
        step = fact.step or TENTH
        if value % step:
            return None, f"{label}最多保留一位小数。" if step == TENTH else f"{label}应为 {_fmt(step)} 的整数倍。"
    return value, _range_problem(fact, value)


def _to_decimal(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        return None
    try:
        value = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _range_problem(fact: Fact, value: int | Decimal | dt.date) -> str | None:
    low, high = fact.minimum, fact.maximum
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    if low is not None and high is not None:
        return f"{fact.label}应在 {_fmt(low)} 到 {_fmt(high)} 之间。"
    if low is not None:
        return f"{fact.label}不能小于 {_fmt(low)}。"
    return f"{fact.label}不能大于 {_fmt(high)}。"


def _span_problems(kind: Kind, values: Mapping[str, FactValue]) -> dict[str, str]:
    span = kind.span
    start, end = values[span.start], values[span.end]
    if end < start:
        return {span.end: f"{kind.facts[span.end].label}不能早于{kind.facts[span.start].label}。"}
    days = (end - start).days + 1
    if days > MAX_SPAN_DAYS:
        return {span.end: f"{kind.facts[span.start].label}到{kind.facts[span.end].label}不能超过 {MAX_SPAN_DAYS} 天。"}
    if span.excluded_days and values[span.excluded_days] >= days:
        return {span.excluded_days: f"{kind.facts[span.excluded_days].label}应少于活动总天数（{days} 天）。"}
    return {}


def _holds(condition: Condition, value: FactValue) -> bool:
    if condition.at_least is not None:
        return value >= condition.at_least
    if condition.one_of:
        return value in condition.one_of
    return value == condition.equals


def _evaluate(kind: Kind, values: Mapping[str, FactValue]) -> tuple[Decimal, str]:
    """Apply the kind's formula; return the uncapped hours and how they were reached."""
    formula = kind.formula
    if isinstance(formula, Fixed):
        hours = formula.hours
        parts = [f"每次 {_fmt(hours)} 学时"]
        for bonus in formula.bonuses:
            if values[bonus.fact]:
                hours += bonus.hours
                parts.append(f"{bonus.label}加计 {_fmt(bonus.hours)} 学时")
        if len(parts) > 1:
            parts.append(f"共 {_fmt(hours)} 学时")
        return _round(hours), "，".join(parts)
    if isinstance(formula, Actual):
        hours = _round(Decimal(values[formula.fact]))
        return hours, f"{kind.facts[formula.fact].label} {_fmt(hours)}，计 {_fmt(hours)} 学时"
    if isinstance(formula, Multiple):
        amount = Decimal(values[formula.fact])
        if formula.factor is not None:
            factor, factor_text = formula.factor, _fmt(formula.factor)
        else:
            factor = Decimal(values[formula.factor_fact])
            factor_text = f"{kind.facts[formula.factor_fact].label} {_fmt(factor)}"
        exact = amount * factor
        hours = _round(exact)
        equals = "=" if hours == exact else "≈"
        return hours, f"{kind.facts[formula.fact].label} {_fmt(amount)} × {factor_text} {equals} {_fmt(hours)} 学时"
    if isinstance(formula, Table):
        combination = tuple(str(values[key]) for key in formula.keys)
        hours = formula.hours[combination]
        labels = "、".join(kind.facts[key].values[value] for key, value in zip(formula.keys, combination, strict=True))
        return _round(hours), f"{labels}，计 {_fmt(hours)} 学时"
    raise TypeError(f"no evaluation for formula {formula!r}")


def _room(cap: Cap, kind: Kind, values: Mapping[str, FactValue], credited: CreditedThisYear,
          day_rooms: Mapping[dt.date, Decimal]) -> tuple[Decimal, str]:
    """Return how many hours a cap still allows for this declaration, and the start of the sentence saying so."""
    limit = f"{cap.label}每{_PERIOD_WORD[cap.per]}最多计 {_fmt(cap.maximum)} 学时（{cap.article}）"
    if cap.per == "declaration":
        return _floor(cap.maximum), limit
    if cap.per == "year":
        used = sum((credited.by_kind.get(kind_id, ZERO) for kind_id in cap.kinds), ZERO)
        return _floor(max(ZERO, cap.maximum - used)), f"{limit}，本年已计 {_fmt(used)} 学时"
    span = kind.span
    total_days = (values[span.end] - values[span.start]).days + 1
    excluded = values[span.excluded_days] if span.excluded_days else 0
    counted = total_days - excluded
    used = sum((cap.maximum - room for room in day_rooms.values()), ZERO)
    why = f"{limit}，共 {total_days} 天"
    if excluded:
        why += f"，不计{kind.facts[span.excluded_days].label} {excluded} 天"
    why += f"，{counted} 天最多计 {_fmt(cap.maximum * counted)} 学时"
    if used:
        why += f"，其中 {_fmt(used)} 学时已由同日的其他申报计入"
    return _floor(sum(day_rooms.values(), ZERO)), why


def _day_rooms(cap: Cap, kind: Kind, values: Mapping[str, FactValue],
               credited: CreditedThisYear) -> dict[dt.date, Decimal]:
    """Return the hours a per-day cap leaves on each day that counts, in date order."""
    span = kind.span
    start, end = values[span.start], values[span.end]
    dates = [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]
    excluded = values[span.excluded_days] if span.excluded_days else 0
    rooms = {}
    for day in dates:
        used = sum((credited.by_kind_day.get(kind_id, {}).get(day, ZERO) for kind_id in cap.kinds), ZERO)
        rooms[day] = max(ZERO, cap.maximum - used)
    # The declaration does not say which days were travel days; count the ones with the most room left,
    # so that a day already full from another declaration is taken as a travel day rather than lost.
    counted = sorted(dates, key=lambda day: (-rooms[day], day))[: len(dates) - excluded]
    return {day: rooms[day] for day in sorted(counted)}


def _spread(hours: Decimal, day_rooms: Mapping[dt.date, Decimal]) -> dict[dt.date, Decimal]:
    spread, left = {}, hours
    for day, room in day_rooms.items():
        if left <= 0:
            break
        spread[day] = _floor(min(room, left))
        left -= spread[day]
    return {day: value for day, value in spread.items() if value}


def _complete_year(rule_set: RuleSet, kind: Kind, credited: CreditedThisYear) -> Outcome:
    """Credit what is still missing from each category's minimum and from the yearly total."""
    needed = {category.id: _ceil(max(ZERO, category.minimum - credited.by_category.get(category.id, ZERO)))
              for category in rule_set.categories.values()}
    already = sum(credited.by_category.values(), ZERO)
    needed[kind.category] += _ceil(max(ZERO, rule_set.total_hours - already - sum(needed.values(), ZERO)))
    hours = sum(needed.values(), ZERO)
    if hours:
        missing = "、".join(f"{rule_set.categories[category_id].label} {_fmt(value)} 学时"
                            for category_id, value in needed.items() if value)
        detail = f"本年尚差{missing}，按此计入"
    else:
        detail = "本年学时已达到要求，无需另计"
    basis = f"{kind.label}：视为完成当年度继续教育学时（{kind.article}），{detail}"
    return Outcome(kind.id, kind.category, hours, hours, kind.article, basis=basis, completes_year=True,
                   by_category=needed)


def _check_credited(rule_set: RuleSet, credited: CreditedThisYear) -> None:
    # A misspelt id here would silently lift a cap, so it is a programming error, not ignored.
    for name, keys, known in (("by_kind", credited.by_kind, rule_set.kinds),
                              ("by_kind_day", credited.by_kind_day, rule_set.kinds),
                              ("by_category", credited.by_category, rule_set.categories)):
        unknown = set(keys) - set(known)
        if unknown:
            raise ValueError(f"CreditedThisYear.{name} has ids unknown to {rule_set.id}: {sorted(unknown)}")
    amounts = [*credited.by_kind.values(), *credited.by_category.values(),
               *(value for days in credited.by_kind_day.values() for value in days.values())]
    for amount in amounts:
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal) or amount < 0 or amount % TENTH:
            raise ValueError(f"credited hours must be non-negative with at most one decimal place, not {amount!r}")


def _round(hours: Decimal) -> Decimal:
    return hours.quantize(TENTH, rounding=ROUND_HALF_UP)


def _floor(hours: Decimal) -> Decimal:
    # Rooms round down so that credited hours never pass a cap.
    return hours.quantize(TENTH, rounding=ROUND_DOWN)


def _ceil(hours: Decimal) -> Decimal:
    # What is still needed rounds up so that crediting it meets the requirement.
    return hours.quantize(TENTH, rounding=ROUND_UP)


def _fmt(value: int | Decimal | dt.date) -> str:
    """Write a number the way a person would (12, 2.5), or a date as 2026-03-01."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return format(Decimal(value).normalize(), "f")
