"""Bulk staff import (批量导入): a unit admin uploads the .xlsx template and gets every person or none.

Each refused file is answered in Chinese and leaves the database as it was (users, registration history and
audit log counted before and after); a clean file makes approved members of the unit without a password.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.accounts import service
from lms.accounts.models import DecisionAction, RegistrationDecision, Role, User
from lms.accounts.passwords import NO_PASSWORD_YET
from lms.accounts.staff_import import COLUMNS, EXAMPLE
from lms.audit.models import AuditEntry
from lms.core.idcard import check_digit, make_id_number
from lms.extensions import db
from lms.orgs.models import AdminRole, OrgAdmin
from lms.orgs.permissions import Permission
from tests.conftest import api_token, csrf_token, make_user
from tests.declarations import client_for

HEADERS = [c.header for c in COLUMNS]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
MIB = 1024 * 1024


def staff_id(i: int) -> str:
    """A valid ID number per index, unlike any the test factories make (another district code)."""
    return make_id_number("420111", dt.date(1970, 1, 1) + dt.timedelta(days=i % 12_000), 500 + i // 12_000)


def person_row(i: int) -> list:
    return [f"职工{i}", staff_id(i), f"138{i:08d}", "卫生技术人员", "主治医师"]


def sheet_bytes(rows, headers=HEADERS) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("人员")
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def multipart(fields: dict, data: bytes, filename: str) -> dict:
    """A multipart body built in memory: the test client spools large bodies to a temporary file it never closes."""
    upload = FileStorage(io.BytesIO(data), filename=filename, content_type="application/octet-stream")
    boundary, body = encode_multipart({**fields, "file": upload})
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload_api(client, user, data: bytes, filename: str = "职工名单.xlsx", org_id=None, headers=None):
    fields = {} if org_id is None else {"org_id": str(org_id)}
    return client.post("/api/v1/people/imports", **multipart(fields, data, filename),
                       headers=headers or api_token(client, user))


def upload_page(app, user, data: bytes, filename: str = "职工名单.xlsx", org_id=None):
    page = client_for(app, user)
    fields = {"csrf_token": csrf_token(page, "/people")}
    if org_id is not None:
        fields["org_id"] = str(org_id)
    return page.post("/people/import", **multipart(fields, data, filename))


def counts() -> tuple[int, int, int]:
    db.session.rollback()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (User, RegistrationDecision, AuditEntry))


def refusal(response, status: int = 422) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    message = response.get_json()["error"]["message"]
    assert CHINESE.search(message), message
    return message


def test_a_clean_5000_row_file_makes_5000_approved_people_of_the_unit_and_one_audit_row(app, client, tree):
    admin = tree.admins["unit_a"]
    users_before, decisions_before, audit_before = counts()
    response = upload_api(client, admin, sheet_bytes(person_row(i) for i in range(5000)), "五千人.xlsx")
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"imported": 5000, "org_id": tree.unit_a.id, "org_name": tree.unit_a.name}
    assert counts() == (users_before + 5000, decisions_before + 5000, audit_before + 1)
    imported = db.session.scalars(sa.select(User).where(User.id_number.like("420111%"))).all()
    assert len(imported) == 5000
    assert {(u.org_id, u.role, u.status.value, u.password_hash) for u in imported} == {
        (tree.unit_a.id, Role.LEARNER, "approved", NO_PASSWORD_YET)}
    first = next(u for u in imported if u.id_number == staff_id(0))
    assert (first.login, first.name, first.phone, first.title_series, first.professional_post) == (
        staff_id(0), "职工0", "13800000000", "卫生技术人员", "主治医师")
    assert first.is_approved
    [history] = service.registration_history(user=first)
    assert (history.action, history.actor_id) == (DecisionAction.IMPORTED, admin.id)
    [entry] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "people.import")).all()
    assert (entry.actor_id, entry.object_id, entry.org_path) == (admin.id, str(tree.unit_a.id), tree.unit_a.path)
    assert entry.after == {"count": 5000, "org": tree.unit_a.name, "file": "五千人.xlsx"}
    written = json.dumps([entry.object_label, entry.reason, entry.before, entry.after], ensure_ascii=False)
    assert not re.search(r"\d{17}[\dX]|1[3-9]\d{9}", written)  # no ID-card or phone number in the log


def test_an_imported_person_cannot_log_in_until_they_set_a_password_and_is_told_how(app, client, tree):
    response = upload_api(client, tree.admins["unit_a"], sheet_bytes([person_row(1)]))
    assert response.status_code == 201, response.get_json()
    for password in ("", NO_PASSWORD_YET, "Passw0rd-test", "!"):
        answer = client.post("/api/v1/auth/token", json={"login": staff_id(1), "password": password})
        assert answer.status_code == 401
        assert "忘记密码" in answer.get_json()["error"]["message"]
        assert "手机号码" in answer.get_json()["error"]["message"]
    page = app.test_client()
    refused = page.post("/login", data={"login": staff_id(1), "password": "whatever1",
                                        "csrf_token": csrf_token(page, "/login")})
    assert refused.status_code == 401 and "忘记密码" in refused.get_data(as_text=True)
    # The same answer as for a number nobody registered: the login form does not tell who was imported.
    unknown = client.post("/api/v1/auth/token", json={"login": staff_id(2), "password": "whatever1"})
    assert unknown.get_json()["error"]["message"] == answer.get_json()["error"]["message"]


def test_a_file_with_each_kind_of_bad_row_is_refused_whole_naming_every_row_column_and_problem(app, client, tree):
    good = person_row(10)
    bad_check_digit = staff_id(11)[:17] + ("0" if staff_id(11)[17] != "0" else "1")
    rows = [
        good,                                                               # row 2: fine
        ["", staff_id(12), "13800000012", "卫生技术人员", "护士"],            # 3: no name
        ["李十三", bad_check_digit, "13800000013", "卫生技术人员", "护士"],    # 4: check digit
        ["李十四", staff_id(14), "2380000001", "卫生技术人员", "护士"],       # 5: phone
        ["李十五", staff_id(15), "13800000015", "厨师", "护士"],             # 6: title series
        ["李十六", staff_id(16), "13800000016", "卫生技术人员", ""],          # 7: no post
        ["李十七", good[1], "13800000017", "卫生技术人员", "护士"],           # 8: same ID as row 2
        ["李十八", tree.learner_b.id_number, "13800000018", "卫生技术人员", "护士"],  # 9: registered elsewhere
        ["李十九", float(staff_id(19)), "13800000019", "卫生技术人员", "护士"],  # 10: Excel made a number of it
        list(EXAMPLE),                                                       # 11: the template's example
        ["名" * 51, staff_id(21), "13800000021", "卫生技术人员", "护士"],     # 12: name too long
    ]
    before = counts()
    response = upload_api(client, tree.admins["unit_a"], sheet_bytes(rows))
    message = refusal(response)
    assert "未导入任何人员" in message
    body = response.get_json()["error"]
    found = {(p["row"], p["column"]): p["message"] for p in body["problems"]}
    assert body["problem_count"] == len(found) == 10
    assert set(found) == {(3, "A"), (4, "B"), (5, "C"), (6, "D"), (7, "E"), (8, "B"), (9, "B"), (10, "B"),
                          (11, "A"), (12, "A")}
    assert "请填写姓名" in found[(3, "A")]
    assert "校验位" in found[(4, "B")]
    assert "手机号码" in found[(5, "C")]
    assert "厨师" in found[(6, "D")] and "职称系列" in found[(6, "D")]
    assert "专业技术岗位" in found[(7, "E")]
    assert "第 2 行" in found[(8, "B")]
    assert "已在平台注册" in found[(9, "B")]
    assert tree.learner_b.name not in json.dumps(body, ensure_ascii=False)  # whose number it is stays unsaid
    assert tree.unit_b.name not in json.dumps(body, ensure_ascii=False)
    assert "文本" in found[(10, "B")]
    assert "示例行" in found[(11, "A")]
    assert "50" in found[(12, "A")]
    assert all(p["header"] == HEADERS["ABCDE".index(p["column"])] for p in body["problems"])
    assert counts() == before

    page = upload_page(app, tree.admins["unit_a"], sheet_bytes(rows))
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "未导入任何人员" in html
    assert "第 9 行" in html and "B 列（身份证号码）" in html and "已在平台注册" in html
    assert counts() == before


def _not_a_sheet() -> bytes:
    return "姓名,身份证号码\n张三,42010619900101001X\n".encode()


def _zip_not_a_workbook() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


REFUSED_FILES = {
    "csv named csv": (_not_a_sheet, "名单.csv", ".xlsx"),
    "text named xlsx": (_not_a_sheet, "名单.xlsx", "不是有效的 .xlsx"),
    "zip that is no workbook": (_zip_not_a_workbook, "名单.xlsx", "不是有效的 .xlsx"),
    "empty file": (lambda: b"", "名单.xlsx", "不能为空"),
    "wrong headers": (lambda: sheet_bytes([person_row(1)], ["姓名", "证件号", "电话", "职称", "岗位"]), "名单.xlsx",
                      "第 1 行应为表头"),
    "headers only": (lambda: sheet_bytes([]), "名单.xlsx", "没有人员"),
    "10,001 people": (lambda: sheet_bytes(person_row(i) for i in range(10_001)), "名单.xlsx", "最多 10,000 行"),
    "10 MiB of junk": (lambda: os.urandom(10 * MIB), "名单.xlsx", "不是有效的 .xlsx"),
    "a byte over 10 MiB": (lambda: os.urandom(10 * MIB + 1), "名单.xlsx", "不超过 10 MB"),
    "far over the limit": (lambda: b"\0" * (12 * MIB), "名单.xlsx", "不超过 10 MB"),
}


@pytest.mark.parametrize("case", REFUSED_FILES, ids=list(REFUSED_FILES))
def test_a_file_that_is_not_a_usable_sheet_is_refused_in_chinese_and_changes_nothing(app, client, tree, case):
    make_data, filename, expected = REFUSED_FILES[case]
    data = make_data()
    before = counts()
    assert expected in refusal(upload_api(client, tree.admins["unit_a"], data, filename))
    assert counts() == before
    page = upload_page(app, tree.admins["unit_a"], data, filename)
    assert page.status_code == 422 and expected in page.get_data(as_text=True)
    assert counts() == before


def test_an_upload_without_a_file_is_refused(app, client, tree):
    response = client.post("/api/v1/people/imports", data={}, content_type="multipart/form-data",
                           headers=api_token(client, tree.admins["unit_a"]))
    assert "请选择" in refusal(response)


def test_imports_are_refused_without_the_permission_or_outside_the_subtree_and_change_nothing(app, client, tree):
    data = sheet_bytes([person_row(30)])
    clerk = make_user(tree.unit_a, login="unit_a_clerk")  # a further admin whose role lacks the permission
    role = AdminRole(org_id=tree.unit_a.id, name="注册审核员", permission_codes=Permission.APPROVE_PEOPLE.value)
    db.session.add(role)
    db.session.flush()
    db.session.scalars(sa.select(OrgAdmin).where(OrgAdmin.user_id == clerk.id)).one().role_id = role.id
    db.session.commit()
    before = counts()
    # Another unit's admin, naming a unit that is not theirs.
    assert "管辖范围" in refusal(upload_api(client, tree.admins["unit_b"], data, org_id=tree.unit_a.id), 403)
    assert upload_page(app, tree.admins["unit_b"], data, org_id=tree.unit_a.id).status_code == 403
    # Department and HR admins do not import (units register their own people), nor do learners.
    for actor in (tree.admins["dept_a"], tree.admins["city"], tree.learner_a):
        assert upload_api(client, actor, data, org_id=tree.unit_a.id).status_code == 403
    assert "批量导入人员" in refusal(upload_api(client, clerk, data), 403)
    assert client_for(app, clerk).get("/people/import/template.xlsx").status_code == 403
    # A unit that does not exist.
    assert refusal(upload_api(client, tree.admins["unit_a"], data, org_id=999_999), 404)
    assert counts() == before


def test_an_admin_given_the_permission_by_role_imports_into_their_unit_chosen_explicitly(app, client, tree):
    importer = make_user(tree.unit_a, login="unit_a_importer")
    role = AdminRole(org_id=tree.unit_a.id, name="人员导入员", permission_codes=Permission.IMPORT_PEOPLE.value)
    db.session.add(role)
    db.session.flush()
    db.session.scalars(sa.select(OrgAdmin).where(OrgAdmin.user_id == importer.id)).one().role_id = role.id
    db.session.commit()
    response = upload_page(app, importer, sheet_bytes([person_row(40), person_row(41)]), org_id=tree.unit_a.id)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    people = client_for(app, importer).get("/people").get_data(as_text=True)
    assert "已向" in people and "导入 2 人" in people
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.org_id == tree.unit_a.id,
                                                                                User.id_number.like("420111%"))) == 2


def test_the_template_has_the_registration_fields_an_example_and_the_title_list_and_imports_once_filled(
        app, client, tree):
    admin = tree.admins["unit_a"]
    response = client.get("/api/v1/people/imports/template", headers=api_token(client, admin))
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    page_copy = client_for(app, admin).get("/people/import/template.xlsx")
    assert page_copy.status_code == 200 and page_copy.data[:2] == b"PK"
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook["人员"]
    assert [c.value for c in sheet[1]] == ["姓名", "身份证号码", "手机号码", "职称系列", "专业技术岗位", "职称级别"]
    assert [c.value for c in sheet[2]] == list(EXAMPLE)
    assert sheet["B2"].number_format == "@"
    assert "工程技术人员" in [row[0] for row in workbook["职称系列"].iter_rows(values_only=True)]
    assert sheet.data_validations.dataValidation[0].formula1.startswith("'职称系列'")
    assert [row[0] for row in workbook["职称级别"].iter_rows(values_only=True)] == ["正高级", "副高级", "中级", "初级"]
    # Uploaded as downloaded, the example row is refused; with it replaced by a real person, the file imports.
    assert "示例行" in json.dumps(upload_api(client, admin, response.data).get_json(), ensure_ascii=False)
    for column, value in enumerate(person_row(60), start=1):
        sheet.cell(row=2, column=column, value=value)
    filled = io.BytesIO()
    workbook.save(filled)
    assert upload_api(client, admin, filled.getvalue()).status_code == 201
    # The example's level was left in the row: the person is imported with it.
    assert db.session.scalar(sa.select(User.title_level).where(User.id_number == staff_id(60))) == "中级"


def test_imports_are_rate_limited_per_admin_across_page_and_api(app, client, tree):
    app.config["LMS_IMPORT_RATE_LIMIT"] = "2 per hour"
    admin = tree.admins["unit_a"]
    headers = api_token(client, admin)
    assert upload_api(client, admin, b"", headers=headers).status_code == 422
    assert upload_page(app, admin, b"").status_code == 422
    limited = upload_api(client, admin, sheet_bytes([person_row(70)]), headers=headers)
    assert limited.status_code == 429 and "频繁" in limited.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(User.id).where(User.id_number == staff_id(70))) is None


def test_ids_typed_with_a_small_x_or_spaces_are_the_same_person(app, client, tree):
    number = next(staff_id(i) for i in range(80, 200) if staff_id(i).endswith("X"))
    assert check_digit(number[:17]) == "X"
    rows = [["甲", number[:6] + " " + number[6:-1] + "x", "13800000080", "会计专业人员", "会计"]]
    assert upload_api(client, tree.admins["unit_a"], sheet_bytes(rows)).status_code == 201
    assert db.session.scalar(sa.select(User.login).where(User.id_number == number)) == number
