"""What a plan version holds, checked: the items of a plan or training, the text of a summary.

Each check names the field (and the item's number) in Chinese; the result is the plain JSON that a version
keeps, so that what the department reads is exactly what passed these checks.
"""

from __future__ import annotations

import datetime as dt
import decimal
import unicodedata
from typing import Any

from lms.core.errors import InvalidInput, joined_sentences
from lms.core.validation import clean_text, collect, text_problem
from lms.plans.models import FilingKind

TITLE_MAX = 100
NOTE_MAX = 500
SUMMARY_MAX = 5000
MAX_ITEMS = 200
HOURS_MAX = decimal.Decimal(1000)
EXPECTED_MAX = 1_000_000
ITEM_FORMS = {"course": "线上课程", "training": "面授培训"}
ITEM_CATEGORIES = {"public": "公需科目", "professional": "专业科目"}
ITEM_FIELDS = ("title", "form", "category", "start_date", "end_date", "hours", "expected")


def check_title(value: Any) -> str:
    """Return the cleaned title of a filing or refuse."""
    title = clean_text(value)
    problem = text_problem(title, "标题", TITLE_MAX)
    if problem:
        raise InvalidInput({"title": problem})
    return title


def check_note(value: Any) -> str | None:
    """Return the cleaned note (说明) or None; refuse one too long."""
    note = clean_text(value)
    problem = text_problem(note, "说明", NOTE_MAX, required=False)
    if problem:
        raise InvalidInput({"note": problem})
    return note or None


def check_year(value: Any, today: dt.date) -> int:
    """Return the year a filing is for: last year, this year or next year."""
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput({"year": "请选择年度。"}) from None
    if not today.year - 1 <= year <= today.year + 1:
        raise InvalidInput({"year": f"年度只能是 {today.year - 1}—{today.year + 1} 年。"})
    return year


def check_content(kind: FilingKind, raw: Any, year: int) -> dict:
    """Check the content of a version of ``kind`` for ``year``; return what the version keeps."""
    if kind == FilingKind.SUMMARY:
        return _summary(raw if isinstance(raw, dict) else {})
    items = raw.get("items") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise InvalidInput({"items": "请填写培训项目。"})
    items = [item for item in items if not _blank(item)]
    if not items:
        raise InvalidInput({"items": "请至少填写一个培训项目（课程或培训）。"})
    if kind == FilingKind.TRAINING and len(items) != 1:
        raise InvalidInput({"items": "培训计划申报只填写一项培训；多项请填写年度培训计划。"})
    if len(items) > MAX_ITEMS:
        raise InvalidInput({"items": f"一份计划最多 {MAX_ITEMS} 个项目。"})
    return {"items": [_item(number, item, year) for number, item in enumerate(items, start=1)]}


def _blank(item: Any) -> bool:
    return isinstance(item, dict) and not any(clean_text(item.get(name)) for name in ITEM_FIELDS)


def _item(number: int, raw: Any, year: int) -> dict:
    where = f"第 {number} 项"
    if not isinstance(raw, dict):
        raise InvalidInput({"items": f"{where}格式不正确。"})
    title = clean_text(raw.get("title"))
    problems = {"title": text_problem(title, f"{where}的名称", TITLE_MAX)}
    form, category = clean_text(raw.get("form")), clean_text(raw.get("category"))
    if form not in ITEM_FORMS:
        problems["form"] = f"请选择{where}的形式（线上课程或面授培训）。"
    if category not in ITEM_CATEGORIES:
        problems["category"] = f"请选择{where}的科目类别（公需科目或专业科目）。"
    start, problems["start_date"] = _date(raw.get("start_date"), f"{where}的开始日期")
    end, problems["end_date"] = _date(raw.get("end_date"), f"{where}的结束日期")
    if start and end:
        if end < start:
            problems["end_date"] = f"{where}的结束日期早于开始日期。"
        elif start.year != year or end.year != year:
            problems["start_date"] = f"{where}的日期应在 {year} 年内。"
    hours, problems["hours"] = _hours(raw.get("hours"), where)
    expected, problems["expected"] = _count(raw.get("expected"), where)
    found = collect(problems)
    if found:
        raise InvalidInput({"items": joined_sentences(found.values())})
    return {"title": title, "form": form, "category": category, "start_date": start.isoformat(),
            "end_date": end.isoformat(), "hours": str(hours), "expected": expected}


def _date(value: Any, label: str) -> tuple[dt.date | None, str | None]:
    text = clean_text(value)
    if not text:
        return None, f"请填写{label}。"
    try:
        return dt.date.fromisoformat(text), None
    except ValueError:
        return None, f"{label}应为“年-月-日”格式的日期，例如 2026-03-01。"


def _hours(value: Any, where: str) -> tuple[decimal.Decimal | None, str | None]:
    text = clean_text(value)
    try:
        hours = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None, f"请填写{where}的学时（数字）。"
    if not hours.is_finite() or hours <= 0 or hours > HOURS_MAX:
        return None, f"{where}的学时应大于 0、不超过 {HOURS_MAX}。"
    if hours != hours.quantize(decimal.Decimal("0.1")):
        return None, f"{where}的学时最多保留一位小数。"
    return hours.quantize(decimal.Decimal("0.1")), None


def _count(value: Any, where: str) -> tuple[int | None, str | None]:
    text = clean_text(value)
    if not text.isdigit() or not 1 <= int(text) <= EXPECTED_MAX:
        return None, f"{where}的预计人数应为 1—{EXPECTED_MAX} 的整数。"
    return int(text), None


def _summary(raw: dict) -> dict:
    text = unicodedata.normalize("NFC", str(raw.get("text") or "")).replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput({"text": "请填写年度工作总结的正文。"})
    if len(text) > SUMMARY_MAX:
        raise InvalidInput({"text": f"总结正文不能超过 {SUMMARY_MAX} 个字符（当前 {len(text)} 个）。"})
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise InvalidInput({"text": "总结正文含有不可见的控制字符。"})
    people = clean_text(raw.get("trained_people"))
    if people and (not people.isdigit() or int(people) > EXPECTED_MAX):
        raise InvalidInput({"trained_people": f"全年培训人数应为 0—{EXPECTED_MAX} 的整数。"})
    return {"text": text, "trained_people": int(people) if people else None}


def item_label(item: dict) -> dict:
    """The item with its codes spelled out, for pages."""
    return {**item, "form_label": ITEM_FORMS.get(item.get("form"), ""),
            "category_label": ITEM_CATEGORIES.get(item.get("category"), "")}


def differences(before: dict | None, after: dict) -> list[dict]:
    """Compare two versions' content row by row: for each item (or the summary) what changed between them."""
    if "items" not in after:
        old = before or {}
        return [{"field": name, "label": label, "before": old.get(name), "after": after.get(name),
                 "changed": old.get(name) != after.get(name)}
                for name, label in (("text", "总结正文"), ("trained_people", "全年培训人数"))]
    old_items = (before or {}).get("items", [])
    new_items = after["items"]
    rows = []
    for index in range(max(len(old_items), len(new_items))):
        old = old_items[index] if index < len(old_items) else None
        new = new_items[index] if index < len(new_items) else None
        changed = sorted(name for name in ITEM_FIELDS if (old or {}).get(name) != (new or {}).get(name))
        rows.append({"number": index + 1, "before": item_label(old) if old else None,
                     "after": item_label(new) if new else None, "changed": changed,
                     "state": "added" if old is None else "removed" if new is None else
                     "changed" if changed else "same"})
    return rows
