"""Every admin action × every permission × inside/outside the subtree (admin manual 5.1.1.3.1, SPEC §7).

An admin whose role holds exactly one permission may do exactly the actions that need it, and only on
organisations and people inside their own subtree; a generated set of permissions never lets an admin
act beyond their union. "Allowed" means the request got past authorisation (any status but 403).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.accounts.models import Role
from lms.extensions import db
from lms.orgs.models import AdminRole, OrgAdmin, OrgKind
from lms.orgs.permissions import Permission, permissions_for_kind
from tests.conftest import api_token, make_org, make_user
from tests.declarations import client_for

# Full numbers change what an answer shows rather than whether it comes (tests/statistics checks both).
NOT_YET_ROUTED = {Permission.VIEW_FULL_ID_NUMBERS}
CHILD_KIND = {OrgKind.PROVINCE_HR: OrgKind.CITY_HR, OrgKind.CITY_HR: OrgKind.DEPARTMENT,
              OrgKind.DEPARTMENT: OrgKind.UNIT}
_names = itertools.count(1)


@dataclasses.dataclass
class Targets:
    inside_person: object
    outside_person: object | None
    inside_org: object | None
    outside_org: object | None


@dataclasses.dataclass(frozen=True)
class Action:
    name: str
    permission: Permission
    # (api client, page client, targets, inside) -> response; inside is None for actions without a target.
    call: Callable
    # Which target the action is tried on, inside and outside the subtree (_person or _org); None: no target.
    target: Callable | None = None


def _api(method: str, url: Callable, body=None):
    def call(api, page, targets, inside):
        return api.open(url(targets, inside), method=method, json=body)
    return call


def _page(method: str, url: Callable, data=None):
    def call(api, page, targets, inside):
        if method == "GET":
            return page.get(url(targets, inside))
        from tests.conftest import csrf_token

        return page.post(url(targets, inside), data={"csrf_token": csrf_token(page, "/"), **(data or {})})
    return call


def _fixed(url: str):
    return lambda targets, inside: url


def _person(targets, inside):
    return targets.inside_person if inside else targets.outside_person


def _org(targets, inside):
    return targets.inside_org if inside else targets.outside_org


def _own_or_outside_org(targets, inside):
    return targets.inside_person.org if inside else targets.outside_org


def _import_into(api, page, targets, inside):
    # No file: past authorisation the answer is 422 (choose a file), before it 403.
    org = _own_or_outside_org(targets, inside)
    return api.client.post("/api/v1/people/imports", data={"org_id": str(org.id)}, headers=api.headers,
                           content_type="multipart/form-data")


def _transfer_out(api, page, targets, inside):
    # No unit given: past authorisation the answer is 422 (choose the unit), before it 403.
    return api.open("/api/v1/transfers", method="POST", json={"person_id": _person(targets, inside).id})


ACTIONS = [
    Action("待审核人员", Permission.APPROVE_PEOPLE, _api("GET", _fixed("/api/v1/registrations/learners/pending"))),
    Action("待审核单位", Permission.APPROVE_ORGS, _api("GET", _fixed("/api/v1/registrations/orgs/pending"))),
    Action("人员列表", Permission.MANAGE_PEOPLE, _api("GET", _fixed("/api/v1/people"))),
    Action("停用人员", Permission.MANAGE_PEOPLE,
           _api("POST", lambda t, i: f"/api/v1/people/{_person(t, i).id}/disable", {"reason": "矩阵测试"}), _person),
    Action("重置密码", Permission.RESET_PASSWORDS,
           _api("POST", lambda t, i: f"/api/v1/people/{_person(t, i).id}/password-reset", {}), _person),
    Action("批量导入人员", Permission.IMPORT_PEOPLE, _import_into, _own_or_outside_org),
    Action("人员导入模板", Permission.IMPORT_PEOPLE, _api("GET", _fixed("/api/v1/people/imports/template"))),
    Action("停用下级单位", Permission.MANAGE_SUB_ORGS,
           _api("POST", lambda t, i: f"/api/v1/orgs/{_org(t, i).id}/disable", {"reason": "矩阵测试"}), _org),
    Action("单位设置", Permission.EDIT_ORG_SETTINGS, _page("GET", lambda t, i: f"/orgs/{_org(t, i).id}/settings"),
           _org),
    Action("创建人社部门", Permission.CREATE_BUREAUS, _page("GET", _fixed("/orgs/bureaus/new"))),
    Action("管理员列表", Permission.MANAGE_ADMINS, _api("GET", _fixed("/api/v1/org/admins"))),
    Action("操作日志", Permission.VIEW_AUDIT_LOG, _api("GET", _fixed("/api/v1/audit"))),
    Action("综合统计", Permission.VIEW_STATISTICS,
           _api("GET", lambda t, i: f"/api/v1/statistics?org_id={_org(t, i).id}"), _org),
    Action("专技人员信息查询", Permission.VIEW_STATISTICS,
           _page("GET", lambda t, i: f"/statistics/people?org_id={_org(t, i).id}"), _org),
    Action("学时审核", Permission.REVIEW_DECLARATIONS, _page("GET", _fixed("/declarations/review"))),
    Action("学时审核队列", Permission.REVIEW_DECLARATIONS, _api("GET", _fixed("/api/v1/declaration-reviews"))),
    # No declaration chosen: past authorisation the answer is 422 (choose one), before it 403.
    Action("批量审核学时申报", Permission.REVIEW_DECLARATIONS,
           _api("POST", _fixed("/api/v1/declaration-reviews/decisions"), {"ids": [], "decision": "approve"})),
    Action("培训申报审核", Permission.REVIEW_DECLARATIONS, _page("GET", _fixed("/trainings/review"))),
    Action("审核培训申报", Permission.REVIEW_DECLARATIONS, _page("POST", _fixed("/trainings/999999/decision"))),
    Action("培训申报", Permission.DECLARE_TRAININGS, _page("GET", _fixed("/trainings/new"))),
    Action("培训申报列表", Permission.DECLARE_TRAININGS, _page("GET", _fixed("/trainings"))),
    Action("参训人员名单模板", Permission.DECLARE_TRAININGS, _page("GET", _fixed("/trainings/roster-template.xlsx"))),
    Action("认定弄虚作假", Permission.VOID_DECLARATIONS, _page("POST", _fixed("/declarations/999999/void"))),
    Action("顺延补学", Permission.GRANT_DEFERRALS, _page("GET", _fixed("/declarations/deferrals"))),
    Action("记录无正当理由未补学", Permission.GRANT_DEFERRALS,
           _page("POST", _fixed("/declarations/deferrals/999999/title-extension"))),
    Action("档案托管", Permission.HOST_ARCHIVES, _page("GET", _fixed("/declarations/archive-hostings"))),
    Action("人员调出", Permission.TRANSFER_PEOPLE, _transfer_out, _person),
    Action("调转目标单位查询", Permission.TRANSFER_PEOPLE, _api("GET", _fixed("/api/v1/transfers/targets?q=单位"))),
    Action("人员调入审核", Permission.TRANSFER_PEOPLE, _api("GET", _fixed("/api/v1/transfers/awaiting"))),
    Action("调转记录", Permission.MANAGE_PEOPLE, _api("GET", _fixed("/api/v1/transfers"))),
    Action("证书查询", Permission.LOOKUP_CERTIFICATES, _page("GET", _fixed("/certificates/lookup"))),
    Action("课程管理", Permission.MANAGE_COURSES, _api("GET", _fixed("/api/v1/base/courses"))),
    Action("观看审核队列", Permission.VIEW_SESSIONS, _api("GET", _fixed("/api/v1/review/sessions"))),
    Action("观看审核决定", Permission.REVIEW_SESSIONS,
           _api("POST", _fixed("/api/v1/review/decisions"), {"ids": [], "decision": "release", "reason": ""})),
    Action("本单位通知", Permission.PUBLISH_NOTICES, _api("GET", _fixed("/api/v1/notices/published"))),
    Action("撤回通知", Permission.PUBLISH_NOTICES, _api("POST", _fixed("/api/v1/notices/999999/withdraw"))),
    Action("发布通知页", Permission.PUBLISH_NOTICES, _page("GET", _fixed("/notices/new"))),
    Action("短信发送记录", Permission.VIEW_SMS_DELIVERIES, _page("GET", _fixed("/notifications/sms"))),
    Action("单位网络地址", Permission.MANAGE_ADDRESSES, _api("GET", _fixed("/api/v1/org/addresses"))),
    Action("单位网络地址页", Permission.MANAGE_ADDRESSES, _page("GET", _fixed("/org/addresses"))),
    Action("本级机构信息", Permission.EDIT_OWN_ORG, _api("GET", _fixed("/api/v1/org/info"))),
    Action("修改本级机构信息页", Permission.EDIT_OWN_ORG, _page("GET", _fixed("/org/info"))),
    Action("机构信息修改审核", Permission.REVIEW_ORG_CHANGES, _api("GET", _fixed("/api/v1/org/changes"))),
    Action("驳回机构信息修改", Permission.REVIEW_ORG_CHANGES,
           _api("POST", _fixed("/api/v1/org/changes/999999/reject"), {"reason": "矩阵测试"})),
    Action("人员信息修改审核", Permission.REVIEW_PERSON_CHANGES, _page("GET", _fixed("/people/changes"))),
    Action("通过人员信息修改", Permission.REVIEW_PERSON_CHANGES,
           _api("POST", _fixed("/api/v1/people/changes/999999/approve"))),
    # No reason: past authorisation the answer is 422 (give a reason), before it 403.
    Action("更正身份信息", Permission.MANAGE_PEOPLE,
           _api("POST", lambda t, i: f"/api/v1/people/{_person(t, i).id}/identity", {}), _person),
    Action("本单位更换上级部门申请", Permission.CHANGE_PARENT, _api("GET", _fixed("/api/v1/org/parent-moves"))),
    Action("待审核的更换上级部门", Permission.REVIEW_PARENT_CHANGES,
           _api("GET", _fixed("/api/v1/parent-moves/awaiting"))),
    Action("内设部门", Permission.MANAGE_DEPARTMENTS, _api("GET", _fixed("/api/v1/org/departments"))),
    # No such department: past authorisation the answer is 404, before it 403.
    Action("分配内设部门", Permission.MANAGE_DEPARTMENTS,
           _api("PUT", lambda t, i: f"/api/v1/people/{_person(t, i).id}/department", {"department_id": 999999}),
           _person),
    Action("诚信档案", Permission.VIEW_INTEGRITY_RECORDS,
           _api("GET", lambda t, i: f"/api/v1/people/{_person(t, i).id}/integrity-records"), _person),
    Action("诚信档案页", Permission.VIEW_INTEGRITY_RECORDS,
           _page("GET", lambda t, i: f"/people/{_person(t, i).id}/integrity"), _person),
    Action("学时审核（接口）", Permission.REVIEW_DECLARATIONS, _api("GET", _fixed("/api/v1/declarations/review"))),
    # No reason: past authorisation the answer is 404 (no such declaration), before it 403.
    Action("认定弄虚作假（接口）", Permission.VOID_DECLARATIONS,
           _api("POST", _fixed("/api/v1/declarations/999999/void"), {"reason": "矩阵测试"})),
    Action("培训计划", Permission.SUBMIT_PLANS, _api("GET", _fixed("/api/v1/plans"))),
    Action("填报培训计划页", Permission.SUBMIT_PLANS, _page("GET", _fixed("/plans/new"))),
    Action("培训计划审核", Permission.REVIEW_PLANS, _api("GET", _fixed("/api/v1/plans/review"))),
    # No such filing: past authorisation the answer is 404, before it 403.
    Action("审核培训计划", Permission.REVIEW_PLANS,
           _api("POST", _fixed("/api/v1/plans/999999/decision"), {"decision": "approve"})),
    Action("课程审核", Permission.VET_COURSES, _api("GET", _fixed("/api/v1/plans/courses"))),
    Action("审核课程", Permission.VET_COURSES,
           _api("POST", _fixed("/api/v1/plans/courses/999999/decision"), {"decision": "approve"})),
    Action("年度工作材料", Permission.SUBMIT_MATERIALS, _api("GET", _fixed("/api/v1/plans/materials"))),
    Action("年度工作材料页", Permission.SUBMIT_MATERIALS, _page("GET", _fixed("/plans/materials"))),
    Action("年度工作材料报送情况", Permission.VIEW_MATERIALS, _api("GET", _fixed("/api/v1/plans/materials/overview"))),
]


def test_every_permission_has_an_action_in_the_matrix():
    assert {a.permission for a in ACTIONS} | NOT_YET_ROUTED == set(Permission)


class BearerClient:
    """An API client that sends one account's bearer token on every request."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def open(self, url, method, json=None):
        return self.client.open(url, method=method, json=json, headers=self.headers)


@pytest.fixture
def other_branch(tree):
    """A second city with a department and a unit: outside every admin of the tree but the province."""
    city2 = make_org(OrgKind.CITY_HR, tree.province)
    dept_c = make_org(OrgKind.DEPARTMENT, city2)
    unit_c = make_org(OrgKind.UNIT, dept_c)
    return {"city2": city2, "dept_c": dept_c, "unit_c": unit_c}


def admin_with(org, permissions) -> object:
    """A further admin of ``org`` whose role holds exactly ``permissions``."""
    user = make_user(org, login=f"matrix{next(_names)}")
    role = AdminRole(org_id=org.id, name=f"矩阵角色{next(_names)}", permission_codes=" ".join(sorted(permissions)))
    db.session.add(role)
    db.session.flush()
    membership = db.session.query(OrgAdmin).filter_by(user_id=user.id).one()
    membership.role_id = role.id
    db.session.commit()
    return user


def targets_for(org, tree, other_branch) -> Targets:
    inside_org = make_org(CHILD_KIND[org.kind], org) if org.kind in CHILD_KIND else None
    top = org.kind == OrgKind.PROVINCE_HR
    return Targets(inside_person=make_user(org, Role.LEARNER),
                   outside_person=None if top else make_user(other_branch["unit_c"], Role.LEARNER),
                   inside_org=inside_org, outside_org=None if top else make_org(OrgKind.UNIT, other_branch["dept_c"]))


def check(app, client, tree, other_branch, org, held: set[Permission]) -> None:
    """Try every action as an admin of ``org`` holding ``held``; each is allowed only where the matrix says."""
    if org.kind == OrgKind.UNIT:
        org.archive_agency = True
        db.session.commit()
    actor = admin_with(org, held)
    api = BearerClient(client, api_token(client, actor))
    page = client_for(app, actor)
    targets = targets_for(org, tree, other_branch)
    for action in ACTIONS:
        applicable = org.kind in action.permission.kinds
        places = [True, False] if action.target else [None]
        for inside in places:
            if action.target and action.target(targets, inside) is None:
                continue
            response = action.call(api, page, targets, inside)
            expected = applicable and action.permission in held and inside is not False
            allowed = response.status_code != 403
            where = {True: "本辖区内", False: "本辖区外", None: ""}[inside]
            assert allowed == expected, (f"{org.kind.value} 持有 {sorted(held)}：{action.name}{where} "
                                         f"应{'允许' if expected else '拒绝'}，实际 {response.status_code}")


MATRIX = [(key, permission) for key, kind in (("province", OrgKind.PROVINCE_HR), ("city", OrgKind.CITY_HR),
                                              ("dept_a", OrgKind.DEPARTMENT), ("unit_a", OrgKind.UNIT),
                                              ("base_a", OrgKind.BASE))
          for permission in permissions_for_kind(kind) if permission not in NOT_YET_ROUTED]


@pytest.mark.parametrize("org_key, permission", MATRIX, ids=[f"{k}-{p.value}" for k, p in MATRIX])
def test_an_admin_holding_one_permission_does_exactly_its_actions_inside_the_subtree(app, client, tree, other_branch,
                                                                                     org_key, permission):
    check(app, client, tree, other_branch, getattr(tree, org_key), {permission})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_a_generated_role_never_acts_beyond_the_union_of_its_permissions_and_subtree(app, client, tree, other_branch,
                                                                                    data):
    org_key = data.draw(st.sampled_from(["city", "dept_a", "unit_a"]), label="org")
    org = getattr(tree, org_key)
    choices = [p for p in permissions_for_kind(org.kind) if p not in NOT_YET_ROUTED]
    held = data.draw(st.sets(st.sampled_from(choices), min_size=1, max_size=len(choices)), label="permissions")
    check(app, client, tree, other_branch, db.session.merge(org), set(held))
