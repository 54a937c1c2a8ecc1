"""Bulk staff import (批量导入, admin manual 5.1.x): a unit registers its people from one .xlsx sheet.

The 4-30 registration deadline (``000_…txt``) makes units register hundreds of people at once. Every row is
checked with the rules of self-registration (``learner_fields_problems``, ``id_number_problem``); a file with
any problem is refused whole and every problem named by row and column, so a unit never holds half a file.
Imported people are approved members of the unit at once (the unit is their approver, 35号 二(二)); they have
no password until they set one through 忘记密码 with their phone (``passwords.NO_PASSWORD_YET``). The rows go
in with one executemany per table inside the request's transaction, and the import is one audit row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from lms.accounts.models import DecisionAction, RegistrationDecision, Role, User
from lms.accounts.passwords import NO_PASSWORD_YET
from lms.accounts.service import learner_fields_problems
from lms.accounts.title_series import TITLE_LEVELS, TITLE_SERIES
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotFound
from lms.core.idcard import id_number_problem, make_id_number, normalise_id_number
from lms.core.validation import clean_text
from lms.core.xlsx import MIB, CellProblem, Column, SheetRejected, UploadLimits, build_template, data_rows, open_upload
from lms.extensions import db
from lms.orgs.access import has_permission, require
from lms.orgs.models import Org, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission
from lms.statistics import tally

SHEET = "人员"
COLUMNS = (
    Column("name", "姓名", 12),
    Column("id_number", "身份证号码", 22, text=True),
    Column("phone", "手机号码", 15, text=True),
    Column("title_series", "职称系列", 22),
    Column("professional_post", "专业技术岗位", 22),
    Column("title_level", "职称级别", 12),
)
POSITION = {column.field: index for index, column in enumerate(COLUMNS)}
LIMITS = UploadLimits(max_bytes=10 * MIB, max_unpacked_bytes=100 * MIB, max_rows=10_000)
TEMPLATE_NAME = "人员导入模板.xlsx"
EXAMPLE = ("张三", make_id_number("420106", dt.date(1990, 1, 1), 1), "13800000000", "工程技术人员", "工程师", "中级")
NOTHING_IMPORTED = "未导入任何人员"
_IN_BATCH = 1000  # ids per IN (...) lookup: well under every driver's parameter limit


@dataclasses.dataclass(frozen=True)
class StaffRow:
    """One checked row of the sheet, ready to become an account."""

    row: int
    name: str
    id_number: str
    phone: str
    title_series: str
    professional_post: str
    title_level: str | None = None
    education: str | None = None  # not a column of the sheet: the person adds it through a reviewed change


@dataclasses.dataclass(frozen=True)
class ImportResult:
    org: Org
    count: int


def template_bytes() -> bytes:
    """Build the import template: the registration fields as Chinese headers, an example row and a 职称系列 list."""
    guide = [
        f"在“{SHEET}”工作表中从第 2 行起每行填写一人，不要修改第 1 行表头；第 2 行是示例，请先删除。",
        "姓名：不超过 50 个字符。",
        "身份证号码：18 位（最后一位可以是 X），即该人员的登录账号；身份证号码和手机号码两列已设为文本格式，"
        "请不要改成数字格式，否则 Excel 会丢掉后几位。",
        "手机号码：11 位手机号码。人员首次登录前用“忘记密码”通过这个号码接收验证码、设置密码。",
        "职称系列：从下拉列表中选择（与个人注册时相同）。",
        "专业技术岗位：如“工程师”“主治医师”，不超过 50 个字符。",
        "职称级别：从下拉列表中选择正高级、副高级、中级或初级；尚未评定的留空。",
        f"每个文件最多 {LIMITS.max_rows:,} 人、不超过 {LIMITS.max_mb} MB。任何一行有错误（包括文件内身份证号码重复、"
        "身份证号码已在平台注册）时整个文件都不导入，页面会按行、列列出全部错误。",
        "导入的人员直接成为本单位已审核通过的专业技术人员。",
    ]
    return build_template(SHEET, COLUMNS, EXAMPLE, guide,
                          choices={"title_series": TITLE_SERIES, "title_level": TITLE_LEVELS}, max_rows=LIMITS.max_rows)


def import_target(actor: User, org_id) -> Org:
    """Return the unit to import into: the actor's own, or one of their subtree chosen by id; refuse others."""
    home = require(actor, Permission.IMPORT_PEOPLE)
    if org_id in (None, ""):
        org = home
    else:
        try:
            org = db.session.get(Org, int(org_id))
        except (TypeError, ValueError):
            raise InvalidInput({"org_id": "单位编号无效。"}) from None
        if org is None:
            raise NotFound("所选单位不存在。")
        require(actor, Permission.IMPORT_PEOPLE, org, message=f"{org.name}不在本单位管辖范围内，不能向其导入人员。")
    if org.kind != OrgKind.UNIT:
        raise Conflict("只能向用人单位导入专业技术人员。")
    if not org.is_active:
        raise Conflict(f"{org.name}未通过审核或已停用，不能导入人员。")
    return org


def import_choices(actor: User, limit: int = 200) -> list[Org]:
    """Return the units the actor may import into, their own first."""
    home = require(actor, Permission.IMPORT_PEOPLE)
    units = db.session.scalars(
        sa.select(Org).where(Org.kind == OrgKind.UNIT, Org.path.startswith(home.path),
                             Org.status == ReviewStatus.APPROVED, Org.disabled_at.is_(None))
        .order_by(sa.func.length(Org.path), Org.name).limit(limit)).all()
    return [u for u in units if has_permission(actor, Permission.IMPORT_PEOPLE, u)]


def _cell_text(field: str, value) -> tuple[str, str | None]:
    """Turn a cell into text; a number Excel made of a long digit string has lost digits and says so."""
    if isinstance(value, bool):
        return str(value), None
    if isinstance(value, float):
        if field == "id_number" and value >= 1e15:
            return "", "身份证号码被 Excel 存成了数字，后几位已丢失：请把该列设为“文本”格式后重新填写。"
        return (str(int(value)) if value.is_integer() else str(value)), None
    return clean_text(value), None


def _row_problems(values: list) -> tuple[dict, str, dict[str, str]]:
    """Check one row with the rules of self-registration; return its fields, ID number and problems by field."""
    texts, problems = {}, {}
    for column, value in zip(COLUMNS, values, strict=True):
        texts[column.field], problems[column.field] = _cell_text(column.field, value)
    cleaned, field_problems = learner_fields_problems(texts)
    id_number = normalise_id_number(texts["id_number"])
    field_problems["id_number"] = id_number_problem(id_number) if id_number else "请填写身份证号码。"
    if "title_series" in field_problems and texts["title_series"]:
        field_problems["title_series"] = f"“{texts['title_series'][:30]}”不是可选的职称系列，请从模板的下拉列表中选择。"
    # A cell's own problem (a number that lost digits) says more than the rule it then fails.
    merged = {field: problems[field] or field_problems.get(field) for field in POSITION}
    return cleaned, id_number, {field: message for field, message in merged.items() if message}


def check_rows(rows: list[tuple[int, list]]) -> list[StaffRow]:
    """Check every row like a self-registration and across the file; return them all, or refuse with every problem."""
    problems: list[CellProblem] = []

    def problem(row: int, field: str, message: str) -> None:
        problems.append(CellProblem(row, POSITION[field], COLUMNS[POSITION[field]].header, message))

    checked: list[StaffRow] = []
    first_row_of: dict[str, int] = {}
    example = [clean_text(v) for v in EXAMPLE]
    for row_number, values in rows:
        if [_cell_text(c.field, v)[0] for c, v in zip(COLUMNS, values, strict=True)] == example:
            problem(row_number, "name", "这是模板中的示例行，请删除后再上传。")
            continue
        cleaned, id_number, row_problems = _row_problems(values)
        if "id_number" not in row_problems:
            if id_number in first_row_of:
                row_problems["id_number"] = f"与第 {first_row_of[id_number]} 行的身份证号码重复。"
            else:
                first_row_of[id_number] = row_number
        for field, message in row_problems.items():
            problem(row_number, field, message)
        if not row_problems:
            checked.append(StaffRow(row=row_number, id_number=id_number, **cleaned))
    problems += _already_registered(checked)
    if problems:
        raise SheetRejected(problems, NOTHING_IMPORTED)
    if not checked:
        raise InvalidInput({"file": f"文件中没有人员：请在“{SHEET}”工作表中从第 2 行起每行填写一人。"})
    return checked


def _already_registered(rows: list[StaffRow]) -> list[CellProblem]:
    """Name the rows whose ID number already has an account anywhere, without saying whose or where."""
    numbers = [r.id_number for r in rows]
    taken: set[str] = set()
    for start in range(0, len(numbers), _IN_BATCH):
        batch = numbers[start:start + _IN_BATCH]
        taken.update(db.session.scalars(sa.select(User.id_number).where(User.id_number.in_(batch))))
        taken.update(db.session.scalars(sa.select(User.login).where(User.login.in_(batch))))
    column = POSITION["id_number"]
    return [CellProblem(r.row, column, COLUMNS[column].header,
                        "该身份证号码已在平台注册（可能在其他单位），不能重复导入；如是调入本单位的人员，请办理人员调转。")
            for r in rows if r.id_number in taken]


def read_staff(data: bytes, filename: str) -> list[StaffRow]:
    """Open an uploaded file and check every row; return the people, or refuse the whole file in Chinese."""
    workbook = open_upload(data, filename, LIMITS)
    return check_rows(data_rows(workbook, SHEET, COLUMNS, LIMITS.max_rows))


def import_staff(actor: User, data: bytes, filename: str, org_id=None) -> ImportResult:
    """Import a sheet of staff into a unit of the actor's subtree as approved learners: all rows or none."""
    org = import_target(actor, org_id)
    staff = read_staff(data, filename)
    now = utcnow()
    accounts = [dict(login=p.id_number, id_number=p.id_number, name=p.name, phone=p.phone, role=Role.LEARNER,
                     org_id=org.id, status=ReviewStatus.APPROVED, title_series=p.title_series,
                     professional_post=p.professional_post, title_level=p.title_level,
                     password_hash=NO_PASSWORD_YET, session_version=1, reviewed_at=now, created_at=now) for p in staff]
    # The driver's executemany (psycopg: pipelined, the statement parsed once) instead of one INSERT per person.
    # A RETURNING insert would be turned into multi-row VALUES statements whose 13,000 placeholders psycopg
    # converts in Python: four times slower than inserting and then reading the new ids back by ID number.
    try:
        db.session.execute(sa.insert(User.__table__), accounts)
    except sa.exc.IntegrityError:
        # Someone registered one of these numbers between the check and the insert (or a second import ran).
        raise Conflict("文件中有身份证号码刚刚在平台注册，未导入任何人员：请重新上传，页面会列出是哪些行。") from None
    # The insert skipped the ORM, so the statistics' people counts are brought up to date here.
    tally.recount_people([org.id])
    numbers = [p.id_number for p in staff]
    user_ids = [user_id for start in range(0, len(numbers), _IN_BATCH)
                for user_id in db.session.scalars(sa.select(User.id).where(
                    User.id_number.in_(numbers[start:start + _IN_BATCH])))]
    db.session.execute(sa.insert(RegistrationDecision.__table__), [
        dict(user_id=user_id, action=DecisionAction.IMPORTED, actor_id=actor.id, created_at=now)
        for user_id in user_ids])
    name = clean_text(filename)[:100]
    record(actor, "people.import", object_type="org", object_id=org.id, label=f"{org.name}：导入 {len(staff)} 人",
           org=org, after={"count": len(staff), "org": org.name, "file": name})
    return ImportResult(org=org, count=len(staff))
