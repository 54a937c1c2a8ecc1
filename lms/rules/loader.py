"""Read rule-set files (``data/<region>-<year>.toml``) and refuse any that the engine could not apply."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import tomllib
from collections.abc import Mapping, Set
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from lms.rules.model import (
    CAP_PERIODS,
    FACT_TYPES,
    FORMULA_TYPES,
    NO_COURSE_VETTING,
    Actual,
    Bonus,
    Cap,
    Category,
    CompletesYear,
    Condition,
    CourseRules,
    Deferral,
    Fact,
    Fixed,
    Formula,
    Kind,
    Multiple,
    RuleSet,
    Span,
    Table,
    TransferRules,
)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_FACT_KEYS: dict[str, set[str]] = {
    "int": {"min", "max"},
    "decimal": {"min", "max", "step"},
    "bool": set(),
    "enum": {"values"},
    "date": {"min", "max"},
}


class RuleSetError(ValueError):
    """A rule-set file that cannot be applied; the message names the file, the entry and what is wrong."""


class _Where:
    """Where in which file a value sits, so that every error names both."""

    def __init__(self, source: str, path: tuple[str, ...] = ()):
        self.source = source
        self.path = path

    def at(self, *keys: object) -> _Where:
        return _Where(self.source, self.path + tuple(str(key) for key in keys))

    def fail(self, problem: str) -> NoReturn:
        where = ".".join(self.path) or "（文件顶层）"
        raise RuleSetError(f"{self.source}：{where}：{problem}")


def load_rule_sets(directory: str | Path) -> dict[str, RuleSet]:
    """Load and validate every ``*.toml`` rule set in a directory, keyed by id (e.g. ``hubei-2026``)."""
    rule_sets: dict[str, RuleSet] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            with path.open("rb") as file:
                data = tomllib.load(file)
        except tomllib.TOMLDecodeError as exc:
            raise RuleSetError(f"{path.name}：TOML 格式错误：{exc}") from None
        rule_set = validate(data, path.name)
        if rule_set.id != path.stem:
            _Where(path.name, ("id",)).fail(f"规则集编号 {rule_set.id!r} 与文件名不符（应为 {path.stem!r}）")
        rule_sets[rule_set.id] = rule_set
    if not rule_sets:
        raise RuleSetError(f"{directory}：没有任何规则集文件（*.toml）")
    return rule_sets


def validate(data: Mapping[str, Any], source: str) -> RuleSet:
    """Check a parsed rule-set file and build its RuleSet; raise RuleSetError naming ``source`` and the entry."""
    top = _Where(source)
    _keys(top, data, required={"id", "region", "region_label", "year", "title", "requirement", "categories", "kinds"},
          optional={"until", "caps", "deferral", "transfers", "courses"})
    region = _identifier(top.at("region"), data["region"])
    year = _integer(top.at("year"), data["year"], minimum=2000)
    rule_set_id = _text(top.at("id"), data["id"])
    if rule_set_id != f"{region}-{year}":
        top.at("id").fail(f"规则集编号应为“地区-年份”，即 {region}-{year!s}，而不是 {rule_set_id!r}")
    until = data.get("until")
    if until is not None:
        _integer(top.at("until"), until, minimum=year)

    where = top.at("requirement")
    requirement = _table(where, data["requirement"])
    _keys(where, requirement, required={"total", "minutes_per_hour", "article"})
    total = _decimal(where.at("total"), requirement["total"], positive=True)
    minutes_per_hour = _integer(where.at("minutes_per_hour"), requirement["minutes_per_hour"], minimum=1)
    requirement_article = _text(where.at("article"), requirement["article"])
    categories = _categories(top.at("categories"), data["categories"])
    minimums = sum((category.minimum for category in categories.values()), Decimal(0))
    if minimums > total:
        top.at("categories").fail(f"各科目最低学时之和 {minimums} 超过了年度总学时 {total}")

    kinds_where = top.at("kinds")
    kinds_table = _table(kinds_where, data["kinds"])
    if not kinds_table:
        kinds_where.fail("至少要有一种学时类型")
    kinds = {kind_id: _kind(kinds_where.at(kind_id), kind_id, raw, categories) for kind_id, raw in kinds_table.items()}
    caps = _caps(top.at("caps"), data.get("caps", []), kinds)

    deferral = None
    if "deferral" in data:
        where = top.at("deferral")
        raw = _table(where, data["deferral"])
        _keys(where, raw, required={"max_months", "article"})
        deferral = Deferral(_integer(where.at("max_months"), raw["max_months"], minimum=1),
                            _text(where.at("article"), raw["article"]))

    transfers = None
    if "transfers" in data:
        where = top.at("transfers")
        raw = _table(where, data["transfers"])
        _keys(where, raw, required={"answer_within_days", "basis"})
        transfers = TransferRules(_integer(where.at("answer_within_days"), raw["answer_within_days"], minimum=1),
                                  _text(where.at("basis"), raw["basis"]))

    courses = NO_COURSE_VETTING
    if "courses" in data:
        where = top.at("courses")
        raw = _table(where, data["courses"])
        _keys(where, raw, required={"require_department_approval", "basis"})
        if not isinstance(raw["require_department_approval"], bool):
            where.at("require_department_approval").fail("应为 true 或 false")
        courses = CourseRules(raw["require_department_approval"], _text(where.at("basis"), raw["basis"]))

    return RuleSet(
        id=rule_set_id, region=region, region_label=_text(top.at("region_label"), data["region_label"]),
        year=year, until=until, title=_text(top.at("title"), data["title"]), total_hours=total,
        minutes_per_hour=minutes_per_hour, requirement_article=requirement_article,
        categories=categories, kinds=kinds, caps=caps, deferral=deferral,
        transfers=transfers, courses=courses,
    )


def _categories(where: _Where, raw: Any) -> dict[str, Category]:
    table = _table(where, raw)
    if not table:
        where.fail("至少要有一个科目类别")
    categories = {}
    for category_id, entry in table.items():
        here = where.at(category_id)
        entry = _table(here, entry)
        _keys(here, entry, required={"label", "minimum"})
        categories[_identifier(here, category_id)] = Category(
            category_id, _text(here.at("label"), entry["label"]), _decimal(here.at("minimum"), entry["minimum"]))
    return categories


def _kind(where: _Where, kind_id: str, raw: Any, categories: Mapping[str, Category]) -> Kind:
    raw = _table(where, raw)
    _identifier(where, kind_id)
    _keys(where, raw, required={"label", "article", "formula"},
          optional={"facts", "category", "category_fact", "span", "conditions"})
    facts_where = where.at("facts")
    facts = {fact_id: _fact(facts_where.at(fact_id), fact_id, entry)
             for fact_id, entry in _table(facts_where, raw.get("facts", {})).items()}
    formula = _formula(where.at("formula"), raw["formula"], facts)

    category, category_fact = raw.get("category"), raw.get("category_fact")
    if (category is None) == (category_fact is None):
        where.fail("category（固定科目）与 category_fact（由申报信息决定科目）必须且只能填写一个")
    if isinstance(formula, CompletesYear) and category is None:
        where.fail("completes_year 公式必须用 category 指定科目，用于补足总学时超出各科目最低学时的部分")
    if category is not None and category not in categories:
        where.at("category").fail(f"未知的科目类别 {category!r}（可用：{'、'.join(categories)}）")
    if category_fact is not None:
        fact = _fact_ref(where.at("category_fact"), category_fact, facts, "enum")
        unknown = set(fact.values) - set(categories)
        if unknown:
            where.at("category_fact").fail(
                f"申报信息 {category_fact!r} 含有未知的科目类别：{'、'.join(sorted(unknown))}")

    span = None
    if "span" in raw:
        here = where.at("span")
        entry = _table(here, raw["span"])
        _keys(here, entry, required={"start", "end"}, optional={"excluded_days"})
        span = Span(_fact_ref(here.at("start"), entry["start"], facts, "date").id,
                    _fact_ref(here.at("end"), entry["end"], facts, "date").id)
        if "excluded_days" in entry:
            excluded = _fact_ref(here.at("excluded_days"), entry["excluded_days"], facts, "int")
            if excluded.minimum is None or excluded.minimum < 0:
                here.at("excluded_days").fail(f"申报信息 {excluded.id!r} 必须设置 min = 0 或更大")
            span = Span(span.start, span.end, excluded.id)

    conditions = tuple(_condition(where.at("conditions", index), entry, facts)
                       for index, entry in enumerate(_array(where.at("conditions"), raw.get("conditions", []))))
    return Kind(id=kind_id, label=_text(where.at("label"), raw["label"]),
                article=_text(where.at("article"), raw["article"]), facts=facts, formula=formula,
                category=category, category_fact=category_fact, span=span, conditions=conditions)


def _fact(where: _Where, fact_id: str, raw: Any) -> Fact:
    _identifier(where, fact_id)
    raw = _table(where, raw)
    fact_type = raw.get("type")
    if fact_type not in FACT_TYPES:
        where.at("type").fail(f"未知的申报信息类型 {fact_type!r}（可用：{'、'.join(FACT_TYPES)}）")
    _keys(where, raw, required={"type", "label"} | ({"values"} if fact_type == "enum" else set()),
          optional=_FACT_KEYS[fact_type])
    label = _text(where.at("label"), raw["label"])
    bound = {"int": _integer, "decimal": _decimal, "date": _date}.get(fact_type)
    minimum = bound(where.at("min"), raw["min"]) if "min" in raw else None
    maximum = bound(where.at("max"), raw["max"]) if "max" in raw else None
    if minimum is not None and maximum is not None and minimum > maximum:
        where.fail(f"最小值 {minimum} 大于最大值 {maximum}")
    step = _decimal(where.at("step"), raw["step"], positive=True) if "step" in raw else None
    values: dict[str, str] = {}
    if fact_type == "enum":
        here = where.at("values")
        table = _table(here, raw["values"])
        if not table:
            here.fail("枚举至少要有一个取值")
        values = {_identifier(here.at(value), value): _text(here.at(value), text) for value, text in table.items()}
    return Fact(fact_id, label, fact_type, minimum, maximum, step, values)


def _formula(where: _Where, raw: Any, facts: Mapping[str, Fact]) -> Formula:
    raw = _table(where, raw)
    formula_type = raw.get("type")
    if formula_type not in FORMULA_TYPES:
        where.at("type").fail(f"未知的公式类型 {formula_type!r}（可用：{'、'.join(FORMULA_TYPES)}）")
    if formula_type == "fixed":
        _keys(where, raw, required={"type", "hours"}, optional={"bonuses"})
        bonuses = []
        for index, entry in enumerate(_array(where.at("bonuses"), raw.get("bonuses", []))):
            here = where.at("bonuses", index)
            entry = _table(here, entry)
            _keys(here, entry, required={"fact", "hours", "label"})
            bonuses.append(Bonus(_fact_ref(here.at("fact"), entry["fact"], facts, "bool").id,
                                 _decimal(here.at("hours"), entry["hours"], positive=True),
                                 _text(here.at("label"), entry["label"])))
        return Fixed(_decimal(where.at("hours"), raw["hours"], positive=True), tuple(bonuses))
    if formula_type == "actual":
        _keys(where, raw, required={"type", "fact"})
        return Actual(_amount_ref(where.at("fact"), raw["fact"], facts))
    if formula_type == "multiple":
        _keys(where, raw, required={"type", "fact"}, optional={"factor", "factor_fact"})
        if ("factor" in raw) == ("factor_fact" in raw):
            where.fail("multiple 公式必须且只能填写 factor（固定倍数）或 factor_fact（申报的倍数）之一")
        fact = _amount_ref(where.at("fact"), raw["fact"], facts)
        if "factor" in raw:
            return Multiple(fact, factor=_decimal(where.at("factor"), raw["factor"], positive=True))
        return Multiple(fact, factor_fact=_amount_ref(where.at("factor_fact"), raw["factor_fact"], facts))
    if formula_type == "table":
        return _table_formula(where, raw, facts)
    _keys(where, raw, required={"type"})
    return CompletesYear()


def _table_formula(where: _Where, raw: Mapping[str, Any], facts: Mapping[str, Fact]) -> Table:
    _keys(where, raw, required={"type", "keys", "rows"})
    key_ids = _array(where.at("keys"), raw["keys"])
    if not key_ids or len(set(key_ids)) != len(key_ids):
        where.at("keys").fail("查表公式需要至少一个、且不重复的枚举申报信息")
    keys = tuple(_fact_ref(where.at("keys"), key, facts, "enum").id for key in key_ids)
    hours: dict[tuple[str, ...], Decimal] = {}
    for index, row in enumerate(_array(where.at("rows"), raw["rows"])):
        here = where.at("rows", index)
        row = _table(here, row)
        _keys(here, row, required={"hours", *keys})
        combination = tuple(row[key] for key in keys)
        for key, value in zip(keys, combination, strict=True):
            if value not in facts[key].values:
                here.at(key).fail(f"{value!r} 不是申报信息 {key!r} 的取值（可用：{'、'.join(facts[key].values)}）")
        if combination in hours:
            here.fail(f"与前面的行重复：{'、'.join(combination)}")
        hours[combination] = _decimal(here.at("hours"), row["hours"])
    for combination in itertools.product(*(facts[key].values for key in keys)):
        if combination not in hours:
            where.at("rows").fail(f"缺少取值组合 {'、'.join(combination)} 的学时（每种组合都要有一行）")
    return Table(keys, hours)


def _condition(where: _Where, raw: Any, facts: Mapping[str, Fact]) -> Condition:
    raw = _table(where, raw)
    _keys(where, raw, required={"fact", "reason"}, optional={"equals", "at_least"})
    fact = _fact_ref(where.at("fact"), raw["fact"], facts, "bool", "enum", "int", "decimal")
    reason = _text(where.at("reason"), raw["reason"])
    if fact.type in ("bool", "enum"):
        if set(raw) != {"fact", "reason", "equals"}:
            where.fail(f"{fact.type} 类型的条件只能用 equals")
        equals = raw["equals"]
        if fact.type == "bool" and not isinstance(equals, bool):
            where.at("equals").fail("应为 true 或 false")
        if fact.type == "enum" and equals not in fact.values:
            where.at("equals").fail(f"{equals!r} 不是申报信息 {fact.id!r} 的取值")
        return Condition(fact.id, reason, equals=equals)
    if set(raw) != {"fact", "reason", "at_least"}:
        where.fail(f"{fact.type} 类型的条件只能用 at_least")
    at_least = (_integer if fact.type == "int" else _decimal)(where.at("at_least"), raw["at_least"])
    return Condition(fact.id, reason, at_least=at_least)


def _caps(where: _Where, raw: Any, kinds: Mapping[str, Kind]) -> tuple[Cap, ...]:
    caps: list[Cap] = []
    for index, entry in enumerate(_array(where, raw)):
        here = where.at(index)
        entry = _table(here, entry)
        _keys(here, entry, required={"id", "label", "per", "max", "kinds", "article"})
        cap_id = _identifier(here.at("id"), entry["id"])
        here = where.at(cap_id)
        if any(cap.id == cap_id for cap in caps):
            here.fail("上限编号重复")
        if entry["per"] not in CAP_PERIODS:
            here.at("per").fail(f"未知的上限周期 {entry['per']!r}（可用：{'、'.join(CAP_PERIODS)}）")
        cap_kinds = _array(here.at("kinds"), entry["kinds"])
        if not cap_kinds:
            here.at("kinds").fail("上限至少要适用于一种学时类型")
        for kind_id in cap_kinds:
            kind = kinds.get(kind_id)
            if kind is None:
                here.at("kinds").fail(f"上限适用于未知的学时类型 {kind_id!r}")
            if isinstance(kind.formula, CompletesYear):
                here.at("kinds").fail(f"学时类型 {kind_id!r} 视为完成全年学时，不能再设上限")
            if entry["per"] == "day":
                if kind.span is None:
                    here.at("kinds").fail(f"按天的上限需要学时类型 {kind_id!r} 设置 span（起止日期）")
                if any(cap.per == "day" and kind_id in cap.kinds for cap in caps):
                    here.at("kinds").fail(f"学时类型 {kind_id!r} 已有一个按天的上限")
        caps.append(Cap(cap_id, _text(here.at("label"), entry["label"]), entry["per"],
                        _decimal(here.at("max"), entry["max"], positive=True), tuple(cap_kinds),
                        _text(here.at("article"), entry["article"])))
    return tuple(caps)


def _fact_ref(where: _Where, fact_id: Any, facts: Mapping[str, Fact], *types: str) -> Fact:
    fact = facts.get(fact_id) if isinstance(fact_id, str) else None
    if fact is None:
        where.fail(f"引用了未定义的申报信息 {fact_id!r}（已定义：{'、'.join(facts) or '无'}）")
    if fact.type not in types:
        where.fail(f"申报信息 {fact_id!r} 的类型是 {fact.type}，这里需要 {' 或 '.join(types)}")
    return fact


def _amount_ref(where: _Where, fact_id: Any, facts: Mapping[str, Fact]) -> str:
    # A formula never gives negative hours, so the numbers it multiplies must not go below zero.
    fact = _fact_ref(where, fact_id, facts, "int", "decimal")
    if fact.minimum is None or fact.minimum < 0:
        where.fail(f"公式用到的申报信息 {fact.id!r} 必须设置 min = 0 或更大")
    return fact.id


def _keys(where: _Where, table: Mapping[str, Any], required: set[str], optional: Set[str] = frozenset()) -> None:
    missing = sorted(required - set(table))
    if missing:
        where.fail(f"缺少 {'、'.join(missing)}")
    unknown = sorted(set(table) - required - optional)
    if unknown:
        where.fail(f"无法识别的键 {'、'.join(unknown)}（可用：{'、'.join(sorted(required | optional))}）")


def _table(where: _Where, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        where.fail(f"应为表（table），而不是 {value!r}")
    return value


def _array(where: _Where, value: Any) -> list[Any]:
    if not isinstance(value, list):
        where.fail(f"应为数组，而不是 {value!r}")
    return value


def _text(where: _Where, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        where.fail("应为非空文字")
    return value


def _identifier(where: _Where, value: Any) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        where.fail(f"编号 {value!r} 应以小写字母开头，只含小写字母、数字和下划线")
    return value


def _integer(where: _Where, value: Any, minimum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        where.fail(f"应为整数，而不是 {value!r}")
    if minimum is not None and value < minimum:
        where.fail(f"不能小于 {minimum}")
    return value


def _decimal(where: _Where, value: Any, positive: bool = False) -> Decimal:
    # Decimals may be written as TOML strings ("0.1") so that no binary float is ever involved.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        where.fail(f"应为数字，而不是 {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        where.fail(f"应为数字，而不是 {value!r}")
    if not number.is_finite() or number < 0 or (positive and number == 0):
        where.fail(f"应为{'正数' if positive else '不小于 0 的数'}，而不是 {value!r}")
    return number


def _date(where: _Where, value: Any) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        where.fail(f"应为日期（如 2026-01-01），而不是 {value!r}")
    return value
