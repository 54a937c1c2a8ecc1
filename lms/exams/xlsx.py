"""The question-bank spreadsheet: the template a base downloads, and reading a filled-in copy back.

Every row is checked with the same rules as the page form (``service.parse_question``); a file with any problem
is refused whole, with each problem named by row and column, so a bank never holds half a file.
"""

from __future__ import annotations

import dataclasses
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from lms.core.errors import InvalidInput
from lms.core.xlsx import NOT_XLSX, UploadLimits, open_upload
from lms.exams.service import OPTION_LETTERS, QuestionInput, option_field, parse_question

MAX_BYTES = 2 * 1024 * 1024
MAX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_QUESTIONS = 1000
LIMITS = UploadLimits(max_bytes=MAX_BYTES, max_unpacked_bytes=MAX_UNPACKED_BYTES, max_rows=MAX_QUESTIONS)
SHEET = "题目"
HEADERS = ["题型", "题干", *(f"选项{letter}" for letter in OPTION_LETTERS), "正确答案"]
COLUMN_OF_FIELD = {"kind": 0, "prompt": 1, **{option_field(i): 2 + i for i in range(len(OPTION_LETTERS))},
                   "answer": 2 + len(OPTION_LETTERS)}
TEMPLATE_FILENAME = "题库导入模板.xlsx"
EXAMPLES = [
    ("单选题", "专业技术人员每年参加继续教育的时间累计不少于多少学时？", "30", "60", "90", "120", "C"),
    ("多选题", "继续教育的内容包括哪些科目？", "公需科目", "专业科目", "选修娱乐", "", "AB"),
    ("判断题", "继续教育学时可以结转到下一年度使用。", "", "", "", "", "错误"),
]


@dataclasses.dataclass(frozen=True)
class RowProblem:
    """One problem of one cell: its spreadsheet row number, the field (column) and what is wrong."""

    row: int
    field: str
    message: str

    @property
    def column(self) -> str:
        return get_column_letter(COLUMN_OF_FIELD.get(self.field, 0) + 1)

    @property
    def header(self) -> str:
        return HEADERS[COLUMN_OF_FIELD.get(self.field, 0)]

    def __str__(self) -> str:
        return f"第 {self.row} 行 {self.column} 列（{self.header}）：{self.message}"


class ImportRejected(InvalidInput):
    """A spreadsheet with problems in some rows: nothing of it was imported."""

    def __init__(self, problems: list[RowProblem]):
        self.problems = sorted(problems, key=lambda p: (p.row, COLUMN_OF_FIELD.get(p.field, 0)))
        shown = "；".join(str(p) for p in self.problems[:5])
        more = f"等 {len(self.problems)} 处" if len(self.problems) > 5 else ""
        super().__init__({"file": f"{shown}{more}"},
                         f"导入失败：文件中有 {len(self.problems)} 处错误，未导入任何题目。请按提示修改后重新上传。")


def template_bytes() -> bytes:
    """Build the import template: a header row with a 题型 drop-down, and a sheet of instructions and examples."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    sheet.append(HEADERS)
    for index, _header in enumerate(HEADERS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE7F3")
        sheet.column_dimensions[get_column_letter(index)].width = 50 if index == 2 else 16
    sheet.freeze_panes = "A2"
    kinds = DataValidation(type="list", formula1='"单选题,多选题,判断题"', allow_blank=True,
                           error="请选择单选题、多选题或判断题", errorTitle="题型")
    sheet.add_data_validation(kinds)
    kinds.add(f"A2:A{MAX_QUESTIONS + 1}")

    guide = workbook.create_sheet("填写说明")
    lines = [
        "在“题目”工作表中从第 2 行起每行填写一道题，不要修改第 1 行表头。",
        "题型：单选题、多选题或判断题。",
        "选项：单选题至少 2 个、多选题至少 3 个，最多 8 个（选项A–选项H），从选项A起连续填写，不能重复。",
        "判断题不填写选项，正确答案填“正确”或“错误”。",
        "正确答案：填写选项字母。单选题只填一个字母，如 C；多选题至少两个字母，如 AB 或 A,C。",
        f"每个文件最多 {MAX_QUESTIONS} 题、不超过 {MAX_BYTES // 1024 // 1024} MB。"
        "文件中任何一行有错误时，整个文件都不会导入，页面会按行、列列出错误。",
        "",
        "示例（请在“题目”工作表中填写）：",
    ]
    for line in lines:
        guide.append([line])
    guide.append(["题型", "题干", "选项A", "选项B", "选项C", "选项D", "正确答案"])
    for example in EXAMPLES:
        guide.append(list(example))
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 60
    for row in guide.iter_rows(min_row=1, max_row=len(lines)):
        row[0].alignment = Alignment(wrap_text=False)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_questions(data: bytes, filename: str) -> tuple[list[QuestionInput], list[int]]:
    """Read and check every row of an uploaded file; return the questions and their row numbers, or refuse all."""
    workbook = open_upload(data, filename, LIMITS)
    try:
        sheet = workbook[SHEET] if SHEET in workbook.sheetnames else workbook.worksheets[0]
        rows = list(sheet.iter_rows(min_row=1, max_row=MAX_QUESTIONS + 2, max_col=len(HEADERS), values_only=True))
    except Exception:  # noqa: BLE001 - a damaged part of the package, found only while streaming it
        raise InvalidInput({"file": NOT_XLSX}) from None
    finally:
        workbook.close()
    return _check_rows(rows)


def _check_rows(rows: list[tuple]) -> tuple[list[QuestionInput], list[int]]:
    header = [str(value).strip() if value is not None else "" for value in (rows[0] if rows else ())]
    header += [""] * (len(HEADERS) - len(header))
    if header != HEADERS:
        raise InvalidInput({"file": f"第 1 行应为表头：{'、'.join(HEADERS)}。"
                                    "请使用页面提供的模板，不要增删或改动表头列。"})
    if len(rows) > MAX_QUESTIONS + 1 and not all(_blank(v) for v in rows[MAX_QUESTIONS + 1]):
        raise InvalidInput({"file": f"一个文件最多导入 {MAX_QUESTIONS} 题，请分成几个文件导入。"})
    questions, row_numbers, problems = [], [], []
    first_row_of: dict[tuple, int] = {}
    for row_number, values in enumerate(rows[1:MAX_QUESTIONS + 1], start=2):
        values = list(values) + [None] * (len(HEADERS) - len(values))
        if all(_blank(v) for v in values):
            continue
        parsed, row_problems = parse_question(values[0], values[1], values[2:2 + len(OPTION_LETTERS)], values[-1])
        problems += [RowProblem(row_number, field, message) for field, message in row_problems.items()]
        if parsed is None:
            continue
        key = (parsed.kind, parsed.prompt)
        if key in first_row_of:
            problems.append(RowProblem(row_number, "prompt", f"与第 {first_row_of[key]} 行的题目重复。"))
            continue
        first_row_of[key] = row_number
        questions.append(parsed)
        row_numbers.append(row_number)
    if problems:
        raise ImportRejected(problems)
    if not questions:
        raise InvalidInput({"file": "文件中没有题目：请在“题目”工作表中从第 2 行起填写。"})
    return questions, row_numbers
