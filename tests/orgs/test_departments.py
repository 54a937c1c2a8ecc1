"""内设部门 (admin manual 5.1.1.2) through the API and the pages, on both backends: the tree, its refusals, people
assigned to one department, and the people list and statistics filtered by a department with its sub-departments."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import Role
from lms.audit.models import AuditEntry
from lms.extensions import db
from lms.orgs.models import DepartmentMember, InternalDepartment, OrgKind
from lms.orgs.permissions import Permission, super_admin_permissions
from lms.transfers import service as transfers
from tests.conftest import api_token, csrf_token, make_user
from tests.declarations import client_for


def _create(client, headers, name, parent=None, position=0):
    return client.post("/api/v1/org/departments", json={"name": name, "parent_id": parent, "position": position},
                       headers=headers)


def _tree(client, headers) -> list[tuple[str, int]]:
    return [(row["name"], row["depth"]) for row in client.get("/api/v1/org/departments", headers=headers).get_json()]


def _assign(client, headers, person, department_id):
    return client.put(f"/api/v1/people/{person.id}/department", json={"department_id": department_id},
                      headers=headers)


def _state() -> tuple:
    db.session.expire_all()
    departments = db.session.execute(sa.select(InternalDepartment.id, InternalDepartment.name,
                                               InternalDepartment.parent_id, InternalDepartment.path,
                                               InternalDepartment.position).order_by(InternalDepartment.id)).all()
    members = db.session.execute(sa.select(DepartmentMember.user_id, DepartmentMember.department_id)
                                 .order_by(DepartmentMember.user_id)).all()
    audit = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    return departments, members, audit


def test_every_administering_kind_keeps_internal_departments():
    for kind in OrgKind:
        assert Permission.MANAGE_DEPARTMENTS in super_admin_permissions(kind)


def test_the_tree_is_built_renamed_reordered_moved_and_emptied_before_deletion(client, tree):
    headers = api_token(client, tree.admins["unit_a"])
    medicine = _create(client, headers, "内科", position=2).get_json()
    surgery = _create(client, headers, "外科", position=1).get_json()
    cardiology = _create(client, headers, "心内科", parent=medicine["id"]).get_json()
    assert _tree(client, headers) == [("外科", 0), ("内科", 0), ("心内科", 1)]
    assert cardiology["parent_id"] == medicine["id"]

    response = client.patch(f"/api/v1/org/departments/{cardiology['id']}", json={"parent_id": surgery["id"],
                                                                                  "name": "心外科"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert _tree(client, headers) == [("外科", 0), ("心外科", 1), ("内科", 0)]
    response = client.patch(f"/api/v1/org/departments/{surgery['id']}", json={"parent_id": medicine["id"]},
                            headers=headers)
    assert response.status_code == 200
    assert _tree(client, headers) == [("内科", 0), ("外科", 1), ("心外科", 2)]
    db.session.expire_all()
    moved = db.session.get(InternalDepartment, cardiology["id"])
    assert moved.path == f"/{medicine['id']}/{surgery['id']}/{cardiology['id']}/"  # the sub-tree's paths followed

    person = make_user(tree.unit_a, Role.LEARNER)
    assert _assign(client, headers, person, cardiology["id"]).status_code == 200
    before = _state()
    response = client.delete(f"/api/v1/org/departments/{surgery['id']}", headers=headers)
    assert response.status_code == 409 and "1 个下级部门" in response.get_json()["error"]["message"]
    response = client.delete(f"/api/v1/org/departments/{cardiology['id']}", headers=headers)
    assert response.status_code == 409 and "1 名人员" in response.get_json()["error"]["message"]
    assert _state() == before
    assert _assign(client, headers, person, None).get_json() == {"user_id": person.id, "department_id": None}
    assert client.delete(f"/api/v1/org/departments/{cardiology['id']}", headers=headers).status_code == 204
    assert _tree(client, headers) == [("内科", 0), ("外科", 1)]
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("department.%"))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["department.create"] * 3 + ["department.update"] * 2 + ["department.assign"] * 2 + [
        "department.delete"]


def test_each_bad_change_is_refused_in_chinese_and_changes_nothing(client, tree):
    headers = api_token(client, tree.admins["unit_a"])
    top = _create(client, headers, "内科").get_json()
    child = _create(client, headers, "心内科", parent=top["id"]).get_json()
    foreign = _create(client, api_token(client, tree.admins["unit_b"]), "办公室").get_json()
    before = _state()
    cases = [
        (lambda: _create(client, headers, "  "), 422, "请填写部门名称"),
        (lambda: _create(client, headers, "科" * 51), 422, "不能超过 50 字"),
        (lambda: _create(client, headers, "内科"), 422, "同一级已有名为“内科”"),
        (lambda: _create(client, headers, "新部门", parent=foreign["id"]), 422, "不属于本单位"),
        (lambda: _create(client, headers, "新部门", position=-1), 422, "排序应在"),
        (lambda: client.patch(f"/api/v1/org/departments/{top['id']}", json={"parent_id": child["id"]},
                              headers=headers), 409, "它自己或它的下级部门"),
        (lambda: client.patch(f"/api/v1/org/departments/{top['id']}", json={"parent_id": top["id"]},
                              headers=headers), 409, "它自己或它的下级部门"),
        (lambda: client.patch(f"/api/v1/org/departments/{foreign['id']}", json={"name": "改名"},
                              headers=headers), 404, "不属于本单位"),
        (lambda: client.delete(f"/api/v1/org/departments/{foreign['id']}", headers=headers), 404, "不属于本单位"),
        (lambda: _assign(client, headers, tree.learner_b, top["id"]), 403, "不在本单位管辖范围内"),
        (lambda: _assign(client, headers, tree.learner_a, foreign["id"]), 404, "不属于本单位"),
        (lambda: _assign(client, api_token(client, tree.admins["dept_a"]), tree.learner_a, top["id"]), 409,
         "只能由本单位把自己的人员分到内设部门"),
        (lambda: _create(client, api_token(client, tree.learner_a), "学员的部门"), 403, "内设部门管理"),
    ]
    for call, status, message in cases:
        response = call()
        assert response.status_code == status, (message, response.get_json())
        assert message in response.get_json()["error"]["message"], response.get_json()
    assert _state() == before


def test_people_and_statistics_filter_by_a_department_with_its_sub_departments(client, tree):
    unit_headers = api_token(client, tree.admins["unit_a"])
    top = _create(client, unit_headers, "内科").get_json()
    child = _create(client, unit_headers, "心内科", parent=top["id"]).get_json()
    other = _create(client, unit_headers, "外科").get_json()
    in_top, in_child, in_other = (make_user(tree.unit_a, Role.LEARNER) for _ in range(3))
    for person, department in ((in_top, top), (in_child, child), (in_other, other)):
        assert _assign(client, unit_headers, person, department["id"]).status_code == 200

    def people(headers, department):
        response = client.get(f"/api/v1/people?per_page=100&department_id={department['id']}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return {row["id"] for row in response.get_json()["items"]}

    def statistics(headers, department, status=200):
        response = client.get(f"/api/v1/statistics/people?org_id={tree.unit_a.id}&department_id={department['id']}",
                              headers=headers)
        assert response.status_code == status, response.get_json()
        return {row["id"] for row in response.get_json()["items"]} if status == 200 else None

    dept_headers = api_token(client, tree.admins["dept_a"])
    for headers in (unit_headers, dept_headers):  # the level above filters by the unit's departments too
        assert people(headers, top) == {in_top.id, in_child.id}
        assert people(headers, child) == {in_child.id}
        assert statistics(headers, top) == {in_top.id, in_child.id}
        assert statistics(headers, other) == {in_other.id}
    outside = api_token(client, tree.admins["dept_b"])
    response = client.get(f"/api/v1/people?department_id={top['id']}", headers=outside)
    assert response.status_code == 403 and "不在本单位管辖范围内" in response.get_json()["error"]["message"]
    statistics(outside, top, status=403)
    page = client_for(client.application, tree.admins["unit_a"])
    html = page.get(f"/statistics/people?department_id={child['id']}").get_data(as_text=True)
    assert in_child.name in html and in_top.name not in html and "内设部门" in html


def test_a_person_transferred_out_leaves_the_old_units_department(client, tree):
    headers = api_token(client, tree.admins["unit_a"])
    department = _create(client, headers, "内科").get_json()
    assert _assign(client, headers, tree.learner_a, department["id"]).status_code == 200
    transfer = transfers.start_transfer(tree.admins["unit_a"], tree.learner_a.id, target=tree.unit_b.credit_code)
    transfers.confirm_transfer(tree.admins["unit_b"], transfer.id)
    db.session.commit()
    assert db.session.get(DepartmentMember, tree.learner_a.id) is None
    assert client.get("/api/v1/org/departments", headers=headers).get_json()[0]["members"] == 0


def test_the_page_adds_departments_and_assigns_people(app, tree):
    page = client_for(app, tree.admins["unit_a"])
    token = csrf_token(page, "/org/departments")
    assert page.post("/org/departments", data={"csrf_token": token, "name": "护理部"}).status_code == 302
    department = db.session.scalars(sa.select(InternalDepartment)).one()
    response = page.post("/org/departments", data={"csrf_token": token, "name": "护理部"})
    assert "同一级已有名为“护理部”" in page.get(response.headers["Location"]).get_data(as_text=True)
    html = page.get(f"/org/departments?q={tree.learner_a.name}").get_data(as_text=True)
    assert tree.learner_a.name in html and tree.learner_a.id_number not in html
    response = page.post(f"/org/departments/members/{tree.learner_a.id}",
                         data={"csrf_token": token, "department_id": department.id,
                               "back": f"/org/departments?q={tree.learner_a.name}"})
    assert response.status_code == 302
    assert db.session.get(DepartmentMember, tree.learner_a.id).department_id == department.id
    listed = page.get(f"/org/departments?department_id={department.id}").get_data(as_text=True)
    assert tree.learner_a.name in listed
    people = page.get(f"/people?department_id={department.id}").get_data(as_text=True)
    assert tree.learner_a.name in people and tree.pending_a.name not in people
    refused = client_for(app, tree.admins["unit_b"]).get(f"/people?department_id={department.id}")
    assert "所选内设部门不在本单位管辖范围内" in refused.get_data(as_text=True)
    assert tree.learner_a.name not in refused.get_data(as_text=True)
