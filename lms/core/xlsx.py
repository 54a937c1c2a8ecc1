"""Spreadsheets in and out: reading an uploaded .xlsx safely, building a fill-in template, sending a workbook.

An upload is untrusted: it is checked for size, for being a zip at all and for what it unpacks to before
openpyxl sees it, and openpyxl reads it in read-only (streaming) mode, so a junk or hostile file is refused
with a Chinese message instead of filling memory.
"""

from __future__ import annotations

import dataclasses
import io
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from lms.core.errors import InvalidInput
from lms.core.validation import clean_text

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a sheet: the field it fills, its Chinese header, and whether Excel must keep it as text."""

    field: str
    header: str
    width: int = 16
    # Long digit strings (ID-card and phone numbers) typed into a General cell become numbers and lose digits.
    text: bool = False


@dataclasses.dataclass(frozen=True)
class CellProblem:
    """One problem of one cell: its spreadsheet row number, its column and what is wrong (Chinese)."""

    row: int
    column: int  # 0-based position in the sheet's columns
    header: str
    message: str

    @property
    def letter(self) -> str:
        return get_column_letter(self.column + 1)

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.letter, "header": self.header, "message": self.message}

    def __str__(self) -> str:
        return f"第 {self.row} 行 {self.letter} 列（{self.header}）：{self.message}"


class SheetRejected(InvalidInput):
    """A sheet with problems in some rows: nothing of it was taken; every problem is listed."""

    code = "sheet_rejected"

    def __init__(self, problems: list[CellProblem], nothing_done: str):
        self.problems = sorted(problems, key=lambda p: (p.row, p.column))
        self.details = {"problem_count": len(self.problems), "problems": [p.as_dict() for p in self.problems]}
        shown = "；".join(str(p) for p in self.problems[:5])
        more = f"等 {len(self.problems)} 处" if len(self.problems) > 5 else ""
        super().__init__({"file": f"{shown}{more}"},
                         f"导入失败：文件中有 {len(self.problems)} 处错误，{nothing_done}。请按提示修改后重新上传。")


@dataclasses.dataclass(frozen=True)
class UploadLimits:
    """How large an upload may be, packed and unpacked, and how many data rows it may hold."""

    max_bytes: int
    max_unpacked_bytes: int
    max_rows: int

    @property
    def max_mb(self) -> int:
        return self.max_bytes // MIB


NOT_XLSX = "文件不是有效的 .xlsx 文件（可能已损坏，或只是改了扩展名）：请用页面提供的模板填写后重新上传。"


def open_upload(data: bytes, filename: str, limits: UploadLimits):
    """Check an uploaded file's size, name and packaging, and open it read-only; refuse anything else in Chinese."""
    if not data:
        raise InvalidInput({"file": "请选择要导入的 .xlsx 文件（文件不能为空）。"})
    if len(data) > limits.max_bytes:
        raise InvalidInput({"file": f"文件太大：每个文件不超过 {limits.max_mb} MB，内容较多时请分成几个文件导入。"})
    if not (filename or "").lower().endswith(".xlsx"):
        raise InvalidInput({"file": "只能导入 .xlsx 格式的 Excel 文件；.xls 或 .csv 文件请先在 Excel 中另存为 .xlsx。"})
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise InvalidInput({"file": NOT_XLSX}) from None
    if unpacked > limits.max_unpacked_bytes:
        # An .xlsx is a zip: a small upload could unpack into gigabytes of XML (a "zip bomb").
        raise InvalidInput({"file": f"文件解压后过大（超过 {limits.max_unpacked_bytes // MIB} MB），"
                                    "请确认是用模板填写的文件，内容较多时请分成几个文件导入。"})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about Excel features it drops; they do not matter here
            return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - an uploaded file can break the reader in any way; all mean "not a workbook"
        raise InvalidInput({"file": NOT_XLSX}) from None


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def data_rows(workbook, sheet_name: str, columns: Sequence[Column], max_rows: int) -> list[tuple[int, list]]:
    """Return the non-blank rows under the header as (row number, values), after checking the header row.

    Refuses a sheet whose first row is not exactly the columns' headers, and one with more than ``max_rows``
    data rows (blank rows are skipped and not counted). Closes the workbook.
    """
    headers = [c.header for c in columns]
    rows: list[tuple[int, list]] = []
    try:
        sheet = workbook[sheet_name] if sheet_name in workbook.sheetnames else workbook.worksheets[0]
        values_of_rows: Iterator[tuple] = sheet.iter_rows(max_col=len(columns), values_only=True)
        first = next(values_of_rows, ())
        found = [clean_text(v) for v in first] + [""] * (len(columns) - len(first))
        if found != headers:
            raise InvalidInput({"file": f"第 1 行应为表头：{'、'.join(headers)}。"
                                        "请使用页面提供的模板，不要增删或改动表头列。"})
        for row_number, values in enumerate(values_of_rows, start=2):
            values = list(values) + [None] * (len(columns) - len(values))
            if all(blank(v) for v in values):
                continue
            if len(rows) == max_rows:
                raise InvalidInput({"file": f"一个文件最多 {max_rows:,} 行数据，请分成几个文件导入。"})
            rows.append((row_number, values))
    except InvalidInput:
        raise
    except Exception:  # noqa: BLE001 - a damaged part of the package, found only while streaming it
        raise InvalidInput({"file": NOT_XLSX}) from None
    finally:
        workbook.close()
    return rows


def build_template(sheet_name: str, columns: Sequence[Column], example: Sequence, guide: Sequence[str],
                   choices: dict[str, Sequence[str]] | None = None, max_rows: int = 10_000) -> bytes:
    """Build a fill-in workbook: bold headers, text-formatted columns, one example row, drop-down lists
    (each kept on its own sheet, since Excel caps an inline list at 255 characters) and a sheet of instructions."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_name
    sheet.append([c.header for c in columns])
    sheet.append(list(example))
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index)
        header.font = Font(bold=True)
        header.fill = PatternFill("solid", fgColor="DDE7F3")
        sheet.column_dimensions[letter].width = column.width
        if column.text:
            sheet.column_dimensions[letter].number_format = "@"
            sheet.cell(row=2, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    for field, values in (choices or {}).items():
        index = next(i for i, c in enumerate(columns, start=1) if c.field == field)
        header = columns[index - 1].header
        listing = workbook.create_sheet(header)
        for value in values:
            listing.append([value])
        listing.sheet_state = "hidden"
        validation = DataValidation(type="list", formula1=f"'{header}'!$A$1:$A${len(values)}", allow_blank=True,
                                    error=f"请从列表中选择{header}", errorTitle=header)
        sheet.add_data_validation(validation)
        letter = get_column_letter(index)
        validation.add(f"{letter}2:{letter}{max_rows + 1}")
    notes = workbook.create_sheet("填写说明")
    for line in guide:
        notes.append([line])
    notes.column_dimensions["A"].width = 100
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_download(data: bytes, ascii_name: str, chinese_name: str) -> Response:
    """Send a workbook as an attachment, with a Chinese file name for browsers that understand RFC 5987."""
    response = Response(data, mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = (f"attachment; filename={ascii_name}; "
                                               f"filename*=UTF-8''{quote(chinese_name)}")
    return response
