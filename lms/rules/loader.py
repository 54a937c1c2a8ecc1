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
    REVIEWER_KINDS,
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
    Material,
    MaterialOption,
    Materials,
    Multiple,
    ReviewChain,
    ReviewStepRule,
    RuleSet,
    Span,
    Table,
    TransferRules,
    When,
    Window,
)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_FACT_KEYS: dict[str, set[str]] = {
    "int": {"min", "max"},
    "decimal": {"min", "max", "step"},
    "bool": set(),
    "enum": {"values"},
    "date": {"min", "max"},
    "text": {"max"},
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
          optional={"until", "caps", "deferral", "transfers", "review", "windows", "courses"})
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
        _keys(where, raw, required={"max_months", "article"}, optional={"other_reasons", "title_note"})
        other_reasons = raw.get("other_reasons", False)
        if not isinstance(other_reasons, bool):
            where.at("other_reasons").fail("应为 true 或 false")
        deferral = Deferral(_integer(where.at("max_months"), raw["max_months"], minimum=1),
                            _text(where.at("article"), raw["article"]), other_reasons,
                            _text(where.at("title_note"), raw["title_note"]) if "title_note" in raw else None)

    transfers = None
    if "transfers" in data:
        where = top.at("transfers")
        raw = _table(where, data["transfers"])
        _keys(where, raw, required={"answer_within_days", "basis"})
        transfers = TransferRules(_integer(where.at("answer_within_days"), raw["answer_within_days"], minimum=1),
                                  _text(where.at("basis"), raw["basis"]))

    review = _review(top.at("review"), data["review"], kinds) if "review" in data else None
    windows = tuple(_window(top.at("windows", index), entry, year)
                    for index, entry in enumerate(_array(top.at("windows"), data.get("windows", []))))
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
        transfers=transfers, windows=windows, courses=courses, **({"review": review} if review else {}),
    )


def _review(where: _Where, raw: Any, kinds: Mapping[str, Kind]) -> ReviewChain:
    raw = _table(where, raw)
    _keys(where, raw, required={"steps", "central_unit_steps", "article"}, optional={"roster_kinds"})
    roster_kinds = _array(where.at("roster_kinds"), raw.get("roster_kinds", []))
    for kind_id in roster_kinds:
        kind = kinds.get(kind_id)
        if kind is None:
            where.at("roster_kinds").fail(f"未知的学时类型 {kind_id!r}")
        formula = kind.formula
        if not (isinstance(formula, Actual) or (isinstance(formula, Multiple) and formula.factor is not None)):
            where.at("roster_kinds").fail(f"学时类型 {kind_id!r} 的学时不是按出勤学时或天数计算，不能按名单申报")
    return ReviewChain(_review_steps(where.at("steps"), raw["steps"]),
                       _review_steps(where.at("central_unit_steps"), raw["central_unit_steps"]),
                       _text(where.at("article"), raw["article"]), tuple(roster_kinds))


def _review_steps(where: _Where, raw: Any) -> tuple[ReviewStepRule, ...]:
    steps: list[ReviewStepRule] = []
    for index, entry in enumerate(_array(where, raw)):
        here = where.at(index)
        entry = _table(here, entry)
        _keys(here, entry, required={"reviewer", "label"}, optional={"when"})
        reviewer = entry["reviewer"]
        if reviewer not in REVIEWER_KINDS:
            here.at("reviewer").fail(f"未知的审核者 {reviewer!r}（可用：{'、'.join(REVIEWER_KINDS)}）")
        if (index == 0) != (reviewer == "unit"):
            here.at("reviewer").fail("审核链的第一步必须是、也只有第一步是 unit（用人单位或档案托管机构）")
        if any(step.reviewer == reviewer for step in steps):
            here.at("reviewer").fail(f"审核者 {reviewer!r} 重复")
        when = entry.get("when")
        if when is not None and (when != "provincial" or reviewer != "department"):
            here.at("when").fail("when 只能用于 department，且只能是 \"provincial\"（省直单位）")
        steps.append(ReviewStepRule(reviewer, _text(here.at("label"), entry["label"]), when))
    if not steps:
        where.fail("审核链至少要有一步")
    return tuple(steps)


def _window(where: _Where, raw: Any, year: int) -> Window:
    raw = _table(where, raw)
    _keys(where, raw, required={"years", "opens", "closes", "label", "article"})
    years = _array(where.at("years"), raw["years"])
    if len(years) != 2:
        where.at("years").fail("应为 [起始年度, 截止年度]")
    first, last = (_integer(where.at("years"), value, minimum=2000) for value in years)
    if first > last:
        where.at("years").fail(f"起始年度 {first} 晚于截止年度 {last}")
    if last >= year:
        where.at("years").fail(f"核认年度应早于规则集的年度 {year}（该年度起本规则集本身适用）")
    opens, closes = _date(where.at("opens"), raw["opens"]), _date(where.at("closes"), raw["closes"])
    if opens > closes:
        where.at("closes").fail(f"核认截止日期 {closes} 早于开始日期 {opens}")
    return Window(first, last, opens, closes, _text(where.at("label"), raw["label"]),
                  _text(where.at("article"), raw["article"]))


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
          optional={"facts", "category", "category_fact", "category_basis", "span", "conditions", "materials"})
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
    category_basis = None
    if "category_basis" in raw:
        if category_fact is None:
            where.at("category_basis").fail("科目由规则固定（category）时不需要 category_basis")
        category_basis = _text(where.at("category_basis"), raw["category_basis"])
    elif category_fact is not None:
        where.fail("由申报人选择科目（category_fact）时，必须用 category_basis 说明为何文件未规定科目")

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
    materials = _materials(where.at("materials"), raw["materials"], facts) if "materials" in raw else None
    return Kind(id=kind_id, label=_text(where.at("label"), raw["label"]),
                article=_text(where.at("article"), raw["article"]), facts=facts, formula=formula,
                category=category, category_fact=category_fact, span=span, conditions=conditions,
                materials=materials, category_basis=category_basis)


def _materials(where: _Where, raw: Any, facts: Mapping[str, Fact]) -> Materials:
    raw = _table(where, raw)
    _keys(where, raw, required={"items", "article"}, optional={"options"})
    items_where = where.at("items")
    items = {_identifier(items_where.at(item_id), item_id): Material(item_id, _text(items_where.at(item_id), label))
             for item_id, label in _table(items_where, raw["items"]).items()}
    if not items:
        items_where.fail("至少要有一项证明材料")
    if "options" not in raw:
        return Materials(items, (MaterialOption(tuple((item_id,) for item_id in items)),),
                         _text(where.at("article"), raw["article"]))
    options = []
    for index, entry in enumerate(_array(where.at("options"), raw["options"])):
        here = where.at("options", index)
        entry = _table(here, entry)
        _keys(here, entry, required={"needs"}, optional={"when"})
        slots = []
        for slot in _array(here.at("needs"), entry["needs"]):
            ids = tuple(slot) if isinstance(slot, list) else (slot,)
            if not ids:
                here.at("needs").fail("材料位置不能为空")
            for item_id in ids:
                if item_id not in items:
                    here.at("needs").fail(f"引用了未定义的证明材料 {item_id!r}（已定义：{'、'.join(items)}）")
            slots.append(ids)
        if not slots:
            here.at("needs").fail("每种材料组合至少要有一项材料")
        when = []
        for fact_id, value in _table(here.at("when"), entry.get("when", {})).items():
            fact = _fact_ref(here.at("when", fact_id), fact_id, facts, "bool", "enum")
            if fact.type == "bool" and not isinstance(value, bool):
                here.at("when", fact_id).fail("应为 true 或 false")
            if fact.type == "enum" and value not in fact.values:
                here.at("when", fact_id).fail(f"{value!r} 不是申报信息 {fact_id!r} 的取值")
            when.append(When(fact_id, value))
        options.append(MaterialOption(tuple(slots), tuple(when)))
    if not options:
        where.at("options").fail("至少要有一种材料组合")
    used = {item_id for option in options for slot in option.slots for item_id in slot}
    unused = [item_id for item_id in items if item_id not in used]
    if unused:
        where.at("items").fail(f"证明材料 {'、'.join(unused)} 不在任何材料组合中")
    # Every declaration must know what to provide: each value of the facts the options depend on has an option.
    when_facts = sorted({w.fact for option in options for w in option.when})
    choices = [(True, False) if facts[fact_id].type == "bool" else tuple(facts[fact_id].values)
               for fact_id in when_facts]
    for combination in itertools.product(*choices):
        chosen = dict(zip(when_facts, combination, strict=True))
        if not any(all(chosen[w.fact] == w.equals for w in option.when) for option in options):
            where.at("options").fail("没有适用于 " + "、".join(f"{key} = {value!r}" for key, value in chosen.items())
                                     + " 的材料组合")
    return Materials(items, tuple(options), _text(where.at("article"), raw["article"]))


def _fact(where: _Where, fact_id: str, raw: Any) -> Fact:
    _identifier(where, fact_id)
    raw = _table(where, raw)
    fact_type = raw.get("type")
    if fact_type not in FACT_TYPES:
        where.at("type").fail(f"未知的申报信息类型 {fact_type!r}（可用：{'、'.join(FACT_TYPES)}）")
    _keys(where, raw, required={"type", "label"} | ({"values"} if fact_type == "enum" else set()),
          optional=_FACT_KEYS[fact_type])
    label = _text(where.at("label"), raw["label"])
    bound = {"int": _integer, "decimal": _decimal, "date": _date, "text": _length}.get(fact_type)
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
    _keys(where, raw, required={"fact", "reason"}, optional={"equals", "at_least", "one_of"})
    fact = _fact_ref(where.at("fact"), raw["fact"], facts, "bool", "enum", "int", "decimal")
    reason = _text(where.at("reason"), raw["reason"])
    if fact.type == "enum" and "one_of" in raw:
        if set(raw) != {"fact", "reason", "one_of"}:
            where.fail("one_of 不能与 equals 或 at_least 同时使用")
        accepted = _array(where.at("one_of"), raw["one_of"])
        if not accepted:
            where.at("one_of").fail("至少要有一个取值")
        for value in accepted:
            if value not in fact.values:
                where.at("one_of").fail(f"{value!r} 不是申报信息 {fact.id!r} 的取值")
        return Condition(fact.id, reason, one_of=tuple(accepted))
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


def _length(where: _Where, value: Any) -> int:
    return _integer(where, value, minimum=1)


def _date(where: _Where, value: Any) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        where.fail(f"应为日期（如 2026-01-01），而不是 {value!r}")
    return value
