"""The people search as .xlsx: write-only openpyxl, rows fetched in batches, so 100,000 rows stay flat in memory."""

from __future__ import annotations

import tempfile

from openpyxl import Workbook

from lms.core.replica import read_session
from lms.statistics.service import person_rows

EXPORT_MAX_ROWS = 200_000
HEADERS = ["姓名", "身份证号码", "单位", "职称系列", "专业技术职务", "公需科目学时", "专业科目学时", "合计学时",
           "达标情况", "尚差学时"]


def write_people(query, year: int, full_id_numbers: bool, target, max_rows: int = EXPORT_MAX_ROWS) -> int:
    """Write the query's first ``max_rows`` rows to ``target`` (a path or file); return how many were written."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(f"{year}年度专技人员")
    sheet.append(HEADERS)
    written = 0
    rows = read_session().execute(query.limit(min(max_rows, EXPORT_MAX_ROWS)).execution_options(yield_per=2000))
    for row in person_rows(rows, year):
        sheet.append([row.name, row.id_number if full_id_numbers else row.masked_id_number, row.org_name,
                      row.title_series or "", row.professional_post or "", float(row.public),
                      float(row.professional), float(row.total), row.standing.label, float(row.missing)])
        written += 1
    workbook.save(target)
    return written


def people_workbook(query, year: int, full_id_numbers: bool):
    """The workbook in a spooled temporary file (memory until 8 MB, then disk), rewound; and the row count."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    count = write_people(query, year, full_id_numbers, spool)
    spool.seek(0)
    return spool, count


def row_levels(rows) -> list[str]:
    """The level columns of the series table (the same for every row)."""
    return list(rows[0].levels) if rows else []


def series_workbook(rows, year: int, standings):
    """职称系列分布 as .xlsx: one row per series, a column per standing, the met rate."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(f"{year}年度职称系列分布")
    sheet.append(["职称系列", "人数", *[s.label for s in standings], "达标率（%）", *row_levels(rows)])
    for row in rows:
        sheet.append([row.series, row.people, *[row.standings[s.value] for s in standings], row.met_percent,
                      *row.levels.values()])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(spool)
    spool.seek(0)
    return spool
