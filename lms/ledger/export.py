"""A person's year as an .xlsx workbook: one sheet of every ledger entry, one of the totals against the requirement.

Every figure is the ledger's (``year_summary``); nothing is recomputed here.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from lms.accounts.models import User
from lms.core.clock import china_date
from lms.ledger.models import LedgerEntry, Purpose, SourceType
from lms.ledger.service import YearSummary

ENTRY_HEADERS = ("取得日期", "科目类别", "学时", "来源", "说明", "原因", "入账日期")
TOTAL_HEADERS = ("科目", "已取得学时", "年度要求", "完成情况")


@dataclass(frozen=True)
class EntrySource:
    """How an entry came about, in words a learner reads: the kind of source, what it was, and why."""

    kind: str
    detail: str
    reason: str


def entry_source(entry: LedgerEntry) -> EntrySource:
    """Describe an entry's source: the course, the declaration, or the correction with its reason."""
    kind = SourceType(entry.source_type).label
    if entry.purpose == Purpose.REVERSAL:
        kind += "（冲销）"
    return EntrySource(kind, entry.description, entry.reason or "")


def posted_on(entry: LedgerEntry) -> dt.date:
    return china_date(entry.posted_at)


def _text(cell, value: str) -> None:
    # openpyxl stores a string that starts with "=" as a formula; a course title is never one.
    cell.value = value
    cell.data_type = "s"


def year_workbook(user: User, summary: YearSummary) -> bytes:
    """Return the workbook of the person's year (entries and totals) as .xlsx bytes."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "学时明细"
    sheet.append([f"{user.name}（{user.masked_id_number}） {summary.year} 年度继续教育学时明细"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(list(ENTRY_HEADERS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for entry in summary.entries:
        source = entry_source(entry)
        sheet.append([entry.earned_on, entry.category.label, entry.hours, source.kind, None, None, posted_on(entry)])
        row = sheet.max_row
        _text(sheet.cell(row, 5), source.detail)
        _text(sheet.cell(row, 6), source.reason)
        sheet.cell(row, 1).number_format = sheet.cell(row, 7).number_format = "yyyy-mm-dd"
        sheet.cell(row, 3).number_format = "0.0"
    for index, width in enumerate((12, 10, 8, 14, 48, 30, 12), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A3"

    totals = workbook.create_sheet("汇总")
    totals.append([f"{summary.year} 年度学时汇总（{summary.rule_set.title}）"])
    totals["A1"].font = Font(bold=True, size=13)
    totals.append(list(TOTAL_HEADERS))
    for cell in totals[2]:
        cell.font = Font(bold=True)
    for progress in [*summary.categories, summary.total]:
        totals.append([progress.label, progress.hours, progress.minimum, "已达到" if progress.met else "未达到"])
        totals.cell(totals.max_row, 2).number_format = totals.cell(totals.max_row, 3).number_format = "0.0"
    if summary.voided:
        totals.append(["该年度学时已按学时管理办法第二十一条作废。"])
    totals.append(["年度要求", "已完成" if summary.met else "未完成"])
    for index, width in enumerate((14, 12, 10, 10), start=1):
        totals.column_dimensions[get_column_letter(index)].width = width
    totals["A1"].alignment = Alignment(wrap_text=False)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
