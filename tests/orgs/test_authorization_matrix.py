"""Who may decide which registration, create which bureau and see whom (鄂人社函〔2026〕35号 二(二), SPEC §1, §7).

A learner is decided by the approved admin of their own unit; a department, unit or base by the approved admin of
its direct parent; HR bureaus are created by the province only. Every refusal is a 403 with a Chinese message and
leaves every account, organisation and logged decision exactly as it was; batches are all or nothing.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lms.accounts.models import DecisionAction, RegistrationDecision, Role, User
from lms.extensions import db
from lms.orgs.models import Org, OrgKind, ReviewStatus
from tests.conftest import api_token, csrf_token, login, make_org, make_user

LEARNER_DECISIONS = "/api/v1/registrations/learners/decisions"
ORG_DECISIONS = "/api/v1/registrations/orgs/decisions"
REASON = "材料不全，请补充后重新提交"
ADMINS = ["province", "city", "county", "dept_a", "dept_b", "unit_a", "unit_b", "base_a"]
EVERYONE = [*ADMINS, "reviewer", "learner_a"]
CHINESE = re.compile(r"[\u4e00-\u9fff]")

# Pending organisations created on top of the tree: key -> (kind, key of the direct parent whose admin decides).
PENDING_ORGS = {
    "dept_under_city": (OrgKind.DEPARTMENT, "city"),
    "dept_under_county": (OrgKind.DEPARTMENT, "county"),
    "dept_under_province": (OrgKind.DEPARTMENT, "province"),
    "unit_under_dept_a": (OrgKind.UNIT, "dept_a"),
    "unit_under_dept_b": (OrgKind.UNIT, "dept_b"),
    "base_under_dept_a": (OrgKind.BASE, "dept_a"),
}

# The subtree each admin sees (SPEC §1: the county bureau hangs under the city, so the city sees both branches).
SUBTREES = {
    "province": ADMINS,
    "city": ["city", "county", "dept_a", "dept_b", "unit_a", "unit_b", "base_a"],
    "county": ["county", "dept_b", "unit_b"],
    "dept_a": ["dept_a", "unit_a", "base_a"],
    "dept_b": ["dept_b", "unit_b"],
    "unit_a": ["unit_a"],
    "unit_b": ["unit_b"],
    "base_a": ["base_a"],
}


# ---------------------------------------------------------------------------------------------------- helpers


def person(tree, key: str) -> User:
    """Resolve an actor key: an admin of the tree ("dept_a"), or a named person ("reviewer", "learner_a")."""
    return tree.admins[key] if key in tree.admins else getattr(tree, key)


def bearer(client, tree, key: str) -> dict:
    return {} if key == "anonymous" else api_token(client, person(tree, key))


def snapshot() -> dict:
    """Everything a decision can change: each account's and organisation's review state, and the decision log."""
    db.session.rollback()  # end the test's own transaction so that what the requests committed is read
    users = db.session.execute(sa.select(User.id, User.status, User.reject_reason, User.reviewed_at)).all()
    orgs = db.session.execute(sa.select(Org.id, Org.status, Org.reject_reason, Org.reviewed_at)).all()
    decisions = db.session.execute(sa.select(
        RegistrationDecision.id, RegistrationDecision.user_id, RegistrationDecision.org_id,
        RegistrationDecision.action, RegistrationDecision.reason, RegistrationDecision.actor_id)).all()
    return {"users": {r[0]: tuple(r[1:]) for r in users}, "orgs": {r[0]: tuple(r[1:]) for r in orgs},
            "decisions": {r[0]: tuple(r[1:]) for r in decisions}, "org_count": len(orgs), "user_count": len(users)}


def changes(before: dict) -> tuple[set, list]:
    """Return which accounts/organisations changed state since ``before``, and the decision rows added."""
    after = snapshot()
    changed = {("user", i) for i, row in after["users"].items() if before["users"].get(i) != row}
    changed |= {("org", i) for i, row in after["orgs"].items() if before["orgs"].get(i) != row}
    added = [row for i, row in sorted(after["decisions"].items()) if i not in before["decisions"]]
    return changed, added


def assert_refused(response, before: dict, status: int = 403) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert CHINESE.search(response.get_json()["error"]["message"])
    assert snapshot() == before, "a refused request changed something"


def decision(ids: list[int], approve: bool, reason: str | None = REASON) -> dict:
    return {"ids": ids, "approve": approve, "reason": reason}


def outcome(approve: bool) -> tuple[ReviewStatus, DecisionAction, str | None]:
    """The status, logged action and stored reject_reason a successful decision leaves."""
    if approve:
        return ReviewStatus.APPROVED, DecisionAction.APPROVED, None
    return ReviewStatus.REJECTED, DecisionAction.REJECTED, REASON


@pytest.fixture
def pending_orgs(tree) -> dict[str, tuple[int, int]]:
    """Six pending organisations, each with its pending admin: key -> (org id, admin id)."""
    created = {}
    for key, (kind, parent) in PENDING_ORGS.items():
        org = make_org(kind, getattr(tree, parent), status=ReviewStatus.PENDING)
        created[key] = (org.id, make_user(org, status=ReviewStatus.PENDING).id)
    return created


# ------------------------------------------------------------------------------- 1. learner decisions (API)


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize("target", ["pending_a", "pending_b"])
@pytest.mark.parametrize("actor", ["anonymous", "learner_a", "reviewer", "base_a", "unit_a", "unit_b", "dept_a",
                                   "city", "province"])
def test_only_the_learners_own_unit_admin_can_decide_their_registration(client, tree, actor, target, approve):
    learner_id = getattr(tree, target).id
    headers = bearer(client, tree, actor)
    before = snapshot()
    response = client.post(LEARNER_DECISIONS, headers=headers, json=decision([learner_id], approve))
    if (actor, target) not in {("unit_a", "pending_a"), ("unit_b", "pending_b")}:
        assert_refused(response, before, 401 if actor == "anonymous" else 403)
        return
    assert response.status_code == 200, response.get_json()
    status, action, reject_reason = outcome(approve)
    assert [(p["id"], p["status"]) for p in response.get_json()] == [(learner_id, status.value)]
    changed, added = changes(before)
    assert changed == {("user", learner_id)}
    learner = db.session.get(User, learner_id)
    assert (learner.status, learner.reject_reason) == (status, reject_reason) and learner.reviewed_at is not None
    assert added == [(learner_id, None, action, REASON, person(tree, actor).id)]


# -------------------------------------------------------------------------- 2. organisation decisions (API)


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize("actor", ["anonymous", *EVERYONE])
def test_only_the_direct_parents_admin_can_decide_an_organisation(client, tree, pending_orgs, actor, approve):
    # One test per actor walks the row of the matrix (all six pending organisations): each cell is independent,
    # and logging in once per row keeps the 2 × 11 × 6 × 2 matrix quick.
    headers = bearer(client, tree, actor)
    for target, (org_id, admin_id) in pending_orgs.items():
        cell = f"{actor} {'approving' if approve else 'rejecting'} {target}"
        before = snapshot()
        response = client.post(ORG_DECISIONS, headers=headers, json=decision([org_id], approve))
        if actor != PENDING_ORGS[target][1]:
            assert response.status_code == (401 if actor == "anonymous" else 403), cell
            assert CHINESE.search(response.get_json()["error"]["message"]), cell
            assert snapshot() == before, f"{cell}: refused but something changed"
            continue
        assert response.status_code == 200, (cell, response.get_json())
        status, action, reject_reason = outcome(approve)
        changed, added = changes(before)
        assert changed == {("org", org_id), ("user", admin_id)}, f"{cell}: the org and its admin, nothing else"
        for record in (db.session.get(Org, org_id), db.session.get(User, admin_id)):
            assert (record.status, record.reject_reason) == (status, reject_reason), cell
            assert record.reviewed_at is not None, cell
        assert added == [(None, org_id, action, REASON, person(tree, actor).id)], cell


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["none", "empty", "blank"])
@pytest.mark.parametrize("kind", ["learner", "org"])
def test_rejecting_without_a_reason_is_refused_and_changes_nothing(client, tree, pending_orgs, kind, reason):
    actor, url, target = ((tree.admins["unit_a"], LEARNER_DECISIONS, tree.pending_a.id) if kind == "learner" else
                          (tree.admins["dept_a"], ORG_DECISIONS, pending_orgs["unit_under_dept_a"][0]))
    headers = api_token(client, actor)
    before = snapshot()
    response = client.post(url, headers=headers, json=decision([target], False, reason))
    assert response.status_code == 422
    assert "原因" in response.get_json()["error"]["fields"]["reason"]
    assert snapshot() == before


# ---------------------------------------------------------------------------------- 3. the same, by pages


PAGE_CASES = [  # (actor, form prefix, target, expected: "done", "login" or a status)
    ("unit_a", "learners", "pending_a", "done"),
    ("unit_b", "learners", "pending_a", 403),  # another unit's admin
    ("dept_a", "learners", "pending_a", 403),  # the unit's own department, one level too high
    ("learner_a", "learners", "pending_a", 403),
    ("anonymous", "learners", "pending_a", "login"),
    ("dept_a", "orgs", "unit_under_dept_a", "done"),
    ("city", "orgs", "dept_under_city", "done"),
    ("dept_b", "orgs", "unit_under_dept_a", 403),  # the other branch
    ("city", "orgs", "unit_under_dept_a", 403),  # an ancestor, not the direct parent
    ("unit_a", "orgs", "unit_under_dept_a", 403),
    ("learner_a", "orgs", "unit_under_dept_a", 403),
    ("anonymous", "orgs", "unit_under_dept_a", "login"),
]


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize(("actor", "prefix", "target", "expected"), PAGE_CASES,
                         ids=[f"{a}-{p}-{t}" for a, p, t, _ in PAGE_CASES])
def test_review_pages_enforce_the_same_rules_as_the_api(client, tree, pending_orgs, actor, prefix, target,
                                                        expected, approve):
    target_id = getattr(tree, target).id if prefix == "learners" else pending_orgs[target][0]
    if actor != "anonymous":
        assert login(client, person(tree, actor)).status_code == 302
    # One CSRF token per session serves every form of it, the prefixed decision forms included.
    token = csrf_token(client, "/login" if actor == "anonymous" else "/me")
    before = snapshot()
    response = client.post(f"/registrations/{prefix}", data={
        f"{prefix}-ids": [str(target_id)], f"{prefix}-decision": "approve" if approve else "reject",
        f"{prefix}-reason": REASON, f"{prefix}-csrf_token": token})
    if expected == "login":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert snapshot() == before
    elif expected == 403:
        assert response.status_code == 403
        assert "无权" in response.get_data(as_text=True)
        assert snapshot() == before
    else:
        assert response.status_code == 302 and response.headers["Location"].endswith("/registrations")
        status, action, _reject_reason = outcome(approve)
        changed, added = changes(before)
        record = db.session.get(User if prefix == "learners" else Org, target_id)
        assert ("user" if prefix == "learners" else "org", target_id) in changed and record.status == status
        assert [row[2:] for row in added] == [(action, REASON, person(tree, actor).id)]


def test_an_unapproved_admin_posting_a_review_form_is_sent_to_their_status_page_and_nothing_changes(client, tree):
    pending_admin = make_user(tree.unit_a, status=ReviewStatus.PENDING)
    assert login(client, pending_admin).status_code == 302
    token = csrf_token(client, "/me")
    before = snapshot()
    response = client.post("/registrations/learners", data={
        "learners-ids": [str(tree.pending_a.id)], "learners-decision": "approve", "learners-csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/me")
    assert snapshot() == before
    assert "尚未通过审核" in client.get("/me").get_data(as_text=True)


# ------------------------------------------------------------------------------------- 4. HR bureaus


@pytest.mark.parametrize("kind", ["city_hr", "county_hr"])
@pytest.mark.parametrize("actor", EVERYONE)
def test_only_the_province_hr_admin_creates_hr_bureaus(client, tree, actor, kind):
    parent = tree.province if kind == "city_hr" else tree.city
    body = {"kind": kind, "name": "新设人社局", "parent_id": parent.id, "admin_login": "newbureau1",
            "admin_name": "李明", "admin_phone": "13812345678", "password": "Bureau2026x"}
    headers = api_token(client, person(tree, actor))
    before = snapshot()
    response = client.post("/api/v1/orgs/bureaus", headers=headers, json=body)
    if actor != "province":
        assert_refused(response, before)
        assert db.session.scalar(sa.select(Org).where(Org.name == "新设人社局")) is None
        return
    assert response.status_code == 201, response.get_json()
    org = db.session.get(Org, response.get_json()["id"])
    admin = db.session.scalar(sa.select(User).where(User.login == "newbureau1"))
    assert (org.kind.value, org.parent_id, org.status) == (kind, parent.id, ReviewStatus.APPROVED)
    assert (admin.org_id, admin.role, admin.status) == (org.id, Role.HR_ADMIN, ReviewStatus.APPROVED)
    assert snapshot()["org_count"] == before["org_count"] + 1


# ------------------------------------------------------------------------------------ 5. mixed batches


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize(("actor", "url", "targets"), [
    ("unit_a", LEARNER_DECISIONS, ["pending_a", "pending_b"]),
    ("unit_b", LEARNER_DECISIONS, ["pending_b", "pending_a"]),
    ("dept_a", ORG_DECISIONS, ["unit_under_dept_a", "unit_under_dept_b"]),
    ("city", ORG_DECISIONS, ["dept_under_city", "dept_under_county"]),
], ids=["unit_a-own-and-other-learner", "unit_b-own-and-other-learner", "dept_a-own-and-other-unit",
        "city-own-and-county-department"])
def test_a_batch_with_one_disallowed_record_is_refused_whole(client, tree, pending_orgs, actor, url, targets,
                                                             approve):
    ids = [getattr(tree, t).id if t.startswith("pending_") else pending_orgs[t][0] for t in targets]
    headers = api_token(client, person(tree, actor))
    before = snapshot()
    assert_refused(client.post(url, headers=headers, json=decision(ids, approve)), before)


# -------------------------------------------------------- 6. admins who are not (or no longer) approved


def _unapproved_admin_case(tree, case: str) -> tuple[User, str, int]:
    """Build an admin that is not approved (or whose organisation is not) and something they would decide."""
    if case in ("pending-unit-admin", "rejected-unit-admin"):
        status = ReviewStatus.PENDING if case.startswith("pending") else ReviewStatus.REJECTED
        return make_user(tree.unit_a, status=status), LEARNER_DECISIONS, tree.pending_a.id
    if case in ("pending-department-admin", "rejected-department-admin"):
        status = ReviewStatus.PENDING if case.startswith("pending") else ReviewStatus.REJECTED
        unit = make_org(OrgKind.UNIT, tree.dept_a, status=ReviewStatus.PENDING)
        return make_user(tree.dept_a, status=status), ORG_DECISIONS, unit.id
    if case == "admin-of-pending-unit":
        unit = make_org(OrgKind.UNIT, tree.dept_a, status=ReviewStatus.PENDING)
        learner = make_user(unit, Role.LEARNER, ReviewStatus.PENDING)
        return make_user(unit), LEARNER_DECISIONS, learner.id
    department = make_org(OrgKind.DEPARTMENT, tree.city, status=ReviewStatus.PENDING)
    unit = make_org(OrgKind.UNIT, department, status=ReviewStatus.PENDING)
    return make_user(department), ORG_DECISIONS, unit.id


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize("case", ["pending-unit-admin", "rejected-unit-admin", "pending-department-admin",
                                  "rejected-department-admin", "admin-of-pending-unit",
                                  "admin-of-pending-department"])
def test_an_admin_not_yet_approved_or_of_an_unapproved_org_cannot_decide(client, tree, case, approve):
    actor, url, target = _unapproved_admin_case(tree, case)
    headers = api_token(client, actor)
    before = snapshot()
    assert_refused(client.post(url, headers=headers, json=decision([target], approve)), before)


# --------------------------------------------------------------------------------------- 7. visibility


def _everyone_and_orgs(tree) -> tuple[list[User], dict[str, int]]:
    org_ids = {key: getattr(tree, key).id for key in ADMINS}
    people = [*tree.admins.values(), tree.reviewer, tree.learner_a, tree.learner_b, tree.pending_a, tree.pending_b]
    return people, org_ids


@pytest.mark.parametrize("actor", ADMINS)
def test_admins_see_only_their_subtree_and_only_masked_numbers(client, tree, actor):
    people, org_ids = _everyone_and_orgs(tree)
    visible = {org_ids[key] for key in SUBTREES[actor]}
    headers = api_token(client, person(tree, actor))

    orgs = client.get("/api/v1/orgs", headers=headers)
    assert orgs.status_code == 200
    assert {o["id"] for o in orgs.get_json()} == visible

    response = client.get("/api/v1/people?per_page=200", headers=headers)
    assert response.status_code == 200
    listed = {p["id"]: p for p in response.get_json()["items"]}
    assert set(listed) == {p.id for p in people if p.org_id in visible}
    text = response.get_data(as_text=True)
    for someone in people:
        assert someone.phone not in text, f"{someone.login}'s full phone number is listed"
        if someone.id_number:
            assert someone.id_number not in text, f"{someone.login}'s full ID-card number is listed"
        if someone.id in listed:
            assert listed[someone.id]["phone"] == someone.masked_phone
            assert listed[someone.id]["id_number"] == someone.masked_id_number


def test_the_department_never_sees_the_other_branch_and_the_city_sees_both(client, tree):
    dept_a = client.get("/api/v1/people?per_page=200", headers=api_token(client, tree.admins["dept_a"])).get_json()
    names = {p["org_name"] for p in dept_a["items"]}
    assert tree.unit_b.name not in names and tree.dept_b.name not in names
    assert {tree.learner_b.id, tree.pending_b.id}.isdisjoint(p["id"] for p in dept_a["items"])
    city = client.get("/api/v1/people?per_page=200", headers=api_token(client, tree.admins["city"])).get_json()
    assert {tree.learner_a.id, tree.learner_b.id} <= {p["id"] for p in city["items"]}


@pytest.mark.parametrize("url", ["/api/v1/orgs", "/api/v1/people"])
@pytest.mark.parametrize("actor", ["reviewer", "learner_a", "pending-unit-admin"])
def test_people_without_an_approved_admin_role_see_no_tree_and_no_people(client, tree, actor, url):
    user = make_user(tree.unit_a, status=ReviewStatus.PENDING) if actor == "pending-unit-admin" \
        else person(tree, actor)
    response = client.get(url, headers=api_token(client, user))
    assert response.status_code == 403
    assert CHINESE.search(response.get_json()["error"]["message"])
    assert tree.learner_a.name not in response.get_data(as_text=True)


def mentions(text: str, name: str) -> bool:
    """Whether a generated name ("用人单位7", "测试12") appears as itself, not as the start of a longer one."""
    return re.search(rf"{re.escape(name)}(?!\d)", text) is not None


@pytest.mark.parametrize(("actor", "hidden"), [("dept_a", ["unit_b", "dept_b", "county"]),
                                               ("county", ["unit_a", "dept_a", "base_a"]),
                                               ("unit_a", ["unit_b", "base_a", "dept_a"])],
                         ids=["dept_a-not-branch-b", "county-not-branch-a", "unit_a-only-itself"])
def test_the_people_and_tree_pages_show_only_the_subtree_with_masked_numbers(client, tree, actor, hidden):
    people, _org_ids = _everyone_and_orgs(tree)
    hidden_orgs = {getattr(tree, key).id: getattr(tree, key).name for key in hidden}
    assert login(client, person(tree, actor)).status_code == 302
    pages = [client.get(url) for url in ("/people", "/orgs")]
    assert [r.status_code for r in pages] == [200, 200]
    text = "".join(r.get_data(as_text=True) for r in pages)
    for key, name in zip(hidden, hidden_orgs.values(), strict=True):
        assert not mentions(text, name), f"{actor} sees {key}"
    for someone in people:
        assert someone.phone not in text and (not someone.id_number or someone.id_number not in text)
        if someone.org_id in hidden_orgs:
            assert not mentions(text, someone.name), f"{actor} sees {someone.login}"
