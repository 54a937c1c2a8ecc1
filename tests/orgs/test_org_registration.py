"""Registration of departments, units and bases; HR bureaus created by the province."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms.accounts.models import User
from lms.demo import credit_code
from lms.extensions import db
from lms.orgs.models import Org, ReviewStatus
from lms.orgs.service import credit_code_problem
from tests.conftest import api_token, csrf_token, login


def org_registration(parent_id: int, kind: str = "unit", **overrides) -> dict:
    body = {"kind": kind, "name": "荆州市第一人民医院", "credit_code": credit_code(777), "parent_id": parent_id,
            "admin_login": "hospital1", "admin_name": "王芳", "admin_phone": "13712345678",
            "password": "Hospital2026"}
    body.update(overrides)
    return body


def org_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Org.id)))


def test_unit_registers_and_its_department_approves_it_with_its_admin(client, tree):
    response = client.post("/api/v1/registrations/orgs", json=org_registration(tree.dept_a.id))
    assert response.status_code == 201, response.get_json()
    org_id = response.get_json()["id"]
    dept = api_token(client, tree.admins["dept_a"])
    assert org_id in [o["id"] for o in client.get("/api/v1/registrations/orgs/pending", headers=dept).get_json()]
    assert client.post("/api/v1/registrations/orgs/decisions", headers=dept,
                       json={"ids": [org_id], "approve": True}).status_code == 200
    admin = db.session.scalar(sa.select(User).where(User.login == "hospital1"))
    assert admin.status == ReviewStatus.APPROVED and admin.org.status == ReviewStatus.APPROVED
    assert admin.org.path == f"{tree.dept_a.path}{org_id}/"


def test_department_registers_under_a_county_bureau_and_is_reviewed_there(client, tree):
    response = client.post("/api/v1/registrations/orgs",
                           json=org_registration(tree.county.id, kind="department", name="沙市区教育局"))
    assert response.status_code == 201
    county = api_token(client, tree.admins["county"])
    pending = client.get("/api/v1/registrations/orgs/pending", headers=county).get_json()
    assert [o["name"] for o in pending] == ["沙市区教育局"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"kind": "unit", "parent_id_from": "city"}, "parent_id", "上级应为主管部门"),
    ({"kind": "department", "parent_id_from": "dept_a"}, "parent_id", "上级应为"),
    ({"kind": "city_hr"}, "kind", "请选择单位类型"),
    ({"credit_code": "91420100MA4K0000X1"}, "credit_code", "校验位"),
    ({"credit_code": "1234"}, "credit_code", "18 位"),
    ({"name": "院" * 101}, "name", "不能超过 100 个字符"),
    ({"admin_login": "1ab"}, "admin_login", "管理员账号"),
    ({"admin_login": "admin_unit_a"}, "admin_login", "已被使用"),
    ({"admin_phone": "0716-8278488"}, "admin_phone", "11 位"),
], ids=["unit-under-hr", "department-under-department", "bureau-self-registration", "bad-check-char",
        "short-code", "long-name", "bad-login", "taken-login", "landline"])
def test_bad_org_registrations_are_refused_with_the_reason_and_nothing_saved(client, tree, overrides, field, message):
    overrides = dict(overrides)
    parent = getattr(tree, overrides.pop("parent_id_from", "dept_a"))
    before = (org_count(), db.session.scalar(sa.select(sa.func.count(User.id))))
    response = client.post("/api/v1/registrations/orgs", json=org_registration(parent.id, **overrides))
    assert response.status_code == 422
    assert message in response.get_json()["error"]["fields"][field]
    assert (org_count(), db.session.scalar(sa.select(sa.func.count(User.id)))) == before


def test_duplicate_credit_code_is_refused(client, tree):
    assert client.post("/api/v1/registrations/orgs", json=org_registration(tree.dept_a.id)).status_code == 201
    again = client.post("/api/v1/registrations/orgs",
                        json=org_registration(tree.dept_b.id, name="另一家", admin_login="other1"))
    assert again.status_code == 422
    assert "已注册" in again.get_json()["error"]["fields"]["credit_code"]


def test_rejected_unit_corrects_its_details_and_reapplies(client, tree):
    org_id = client.post("/api/v1/registrations/orgs", json=org_registration(tree.dept_a.id)).get_json()["id"]
    dept = api_token(client, tree.admins["dept_a"])
    client.post("/api/v1/registrations/orgs/decisions", headers=dept,
                json={"ids": [org_id], "approve": False, "reason": "名称与营业执照不符"})
    admin = db.session.scalar(sa.select(User).where(User.login == "hospital1"))
    headers = api_token(client, admin, "Hospital2026")
    status = client.get("/api/v1/me", headers=headers).get_json()
    assert status["status"] == "rejected" and status["reject_reason"] == "名称与营业执照不符"
    response = client.put("/api/v1/org/registration", headers=headers,
                          json={"name": "荆州市第一人民医院（本部）", "credit_code": credit_code(777),
                                "parent_id": tree.dept_a.id})
    assert response.status_code == 200 and response.get_json()["status"] == "pending"
    assert db.session.get(Org, org_id).name == "荆州市第一人民医院（本部）"


def test_org_registration_page_shows_field_errors_in_chinese(client, tree):
    token = csrf_token(client, "/register/org")
    response = client.post("/register/org", data={**org_registration(tree.dept_a.id, credit_code="X"),
                                                  "password_confirm": "Hospital2026", "csrf_token": token})
    assert response.status_code == 422
    assert "统一社会信用代码应为 18 位" in response.get_data(as_text=True)


def test_province_creates_a_city_bureau_that_is_active_at_once(client, tree):
    login(client, tree.admins["province"])
    token = csrf_token(client, "/orgs/bureaus/new")
    response = client.post("/orgs/bureaus/new", data={
        "csrf_token": token, "kind": "city_hr", "name": "宜昌市人力资源和社会保障局",
        "parent_id": str(tree.province.id),
        "admin_login": "yichang_hr", "admin_name": "赵强", "admin_phone": "13612345678",
        "password": "Yichang2026", "password_confirm": "Yichang2026"})
    assert response.status_code == 302
    bureau = db.session.scalar(sa.select(Org).where(Org.name == "宜昌市人力资源和社会保障局"))
    assert bureau.status == ReviewStatus.APPROVED and bureau.parent_id == tree.province.id


def test_credit_code_check_character():
    assert credit_code_problem(credit_code(1)) is None
    assert credit_code_problem("91350100M000100Y43") is None  # a published example code
