"""The review chain from the rule set (hubei-2026: 单位审核 → 主管部门审查 → 人社部门审验; hunan-2026: the notice's
cases), central units and archive agencies, send-back resuming where it was sent back, and the step's queue with its
filters, pagination and batch decisions, through the page and the API."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from lms.accounts.models import Role
from lms.core.errors import NotAllowed
from lms.courses.models import Category
from lms.declarations import service
from lms.declarations.models import Declaration, DeclarationStatus
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import LedgerEntry
from lms.orgs.models import OrgKind
from lms.rules import RuleSetError, validate
from tests.conftest import api_token, make_org, make_user
from tests.declarations import PDF, client_for, decide, declare, declared_id, kind_of, required_slots

PAPER = {"presented_paper": True}


# The conditions of 第十一条 the chain tests are not about: a national conference in the field, an HR-run class.
SERVICE_FACTS = {"conference": {"level": "national", "field": "临床医学", "in_own_field": True},
                 "org_training": {"organiser": "hr"}}


def _submit(person, title="全国学术年会", kind="conference", facts=None, start="2026-05-10", end="2026-05-11"):
    facts = {**SERVICE_FACTS.get(kind, {}), **(PAPER if facts is None else facts)}
    materials = {slot: [(io.BytesIO(PDF), f"{slot}.pdf")] for slot in required_slots(kind_of(kind), facts)}
    declaration, _keys = service.submit(person, kind_id=kind, title=title, start_date=start, end_date=end, year="",
                                        facts=facts, uploads=[] if materials else [(io.BytesIO(PDF), "通知.pdf")],
                                        materials=materials)
    db.session.commit()
    return declaration


def _chain(declaration) -> list[tuple[str, int]]:
    return [(step.label, step.org_id) for step in declaration.review_steps]


def test_hubei_takes_three_steps_and_posts_only_after_the_bureaus_check(app, tree):
    declaration = _submit(tree.learner_a)
    assert _chain(declaration) == [("单位审核", tree.unit_a.id), ("主管部门审查", tree.dept_a.id),
                                   ("人社部门审验", tree.city.id)]
    for admin in ("unit_a", "dept_a"):
        service.decide(tree.admins[admin], declaration.id, "approve", None)
        db.session.commit()
        assert ledger.balances(tree.learner_a.id, 2026)[Category.PROFESSIONAL] == 0
    # Nobody may skip a step: the province is above the city but is not this declaration's reviewer.
    with pytest.raises(NotAllowed):
        service.decide(tree.admins["province"], declaration.id, "approve", None)
    db.session.rollback()
    service.decide(tree.admins["city"], declaration.id, "approve", None)
    db.session.commit()
    assert declaration.status == DeclarationStatus.FILED and declaration.step_index is None
    assert ledger.balances(tree.learner_a.id, 2026)[Category.PROFESSIONAL] == 12
    labels = [d.step_label for d in declaration.decisions if d.action.value == "approved"]
    assert labels == ["单位审核", "主管部门审查", "人社部门审验"]


def test_sent_back_at_the_third_step_it_resumes_there_and_earlier_approvals_stand(app, tree):
    declaration = _submit(tree.learner_a)
    service.decide(tree.admins["unit_a"], declaration.id, "approve", None)
    service.decide(tree.admins["dept_a"], declaration.id, "approve", None)
    service.decide(tree.admins["city"], declaration.id, "return", "请补充参会回执")
    db.session.commit()
    assert (declaration.status, declaration.step_index) == (DeclarationStatus.RETURNED, 2)
    service.resubmit(tree.learner_a, declaration.id, [(io.BytesIO(PDF), "回执.pdf")], "已补充")
    db.session.commit()
    assert (declaration.status, declaration.step_index) == (DeclarationStatus.PENDING, 2)
    assert [d.id for d in service.review_queue(tree.admins["city"])] == [declaration.id]
    assert service.review_queue(tree.admins["unit_a"]) == [] and service.review_queue(tree.admins["dept_a"]) == []
    service.decide(tree.admins["city"], declaration.id, "approve", None)
    db.session.commit()
    assert declaration.status == DeclarationStatus.FILED


def test_hunan_skips_the_department_of_a_city_unit_and_the_bureau_files(app, tree):
    tree.city.region = "hunan"
    db.session.commit()
    declaration = _submit(tree.learner_a, title="论文", kind="paper", facts={"author": "first"})
    assert declaration.rule_set_id == "hunan-2026"
    # 二（二）: 市州 "经用人单位审核后，报市州或县市区人社部门备案" — no department step.
    assert _chain(declaration) == [("用人单位初审", tree.unit_a.id), ("人社部门备案", tree.city.id)]
    service.decide(tree.admins["unit_a"], declaration.id, "approve", None)
    service.decide(tree.admins["city"], declaration.id, "approve", None)
    db.session.commit()
    assert declaration.status == DeclarationStatus.FILED


def test_hunan_provincial_units_go_through_their_department_to_the_province(app, tree):
    tree.province.region = "hunan"
    db.session.commit()
    department = make_org(OrgKind.DEPARTMENT, tree.province, name="省教育厅")
    unit = make_org(OrgKind.UNIT, department, name="省属高校")
    person = make_user(unit, Role.LEARNER)
    declaration = _submit(person, title="论文", kind="paper", facts={"author": "first"})
    # 二（一）: 省直单位 "用人单位初审，经主管单位复审确认后，报省人社厅备案".
    assert _chain(declaration) == [("用人单位初审", unit.id), ("主管单位复审", department.id),
                                   ("人社部门备案", tree.province.id)]


def test_central_units_review_their_own_in_hubei_and_report_to_the_province_in_hunan(app, tree):
    central = make_org(OrgKind.UNIT, tree.dept_b, name="中央在鄂单位")
    central.reviews_own_hours = True
    db.session.commit()
    person = make_user(central, Role.LEARNER)
    assert service.review_orgs(person) == (central,)
    tree.province.region = "hunan"
    db.session.commit()
    # 二（三）: 中央驻湘单位 "由单位人事部门审核后，统一报省人力资源社会保障厅备案".
    declaration = _submit(person, title="论文", kind="paper", facts={"author": "first"})
    assert _chain(declaration) == [("单位人事部门审核", central.id), ("省人社厅备案", tree.province.id)]


def test_an_archive_agency_takes_the_unit_step_and_the_rest_follows_the_agency(app, tree):
    agency = make_org(OrgKind.UNIT, tree.dept_b, name="人才交流服务中心")
    agency.archive_agency = True
    db.session.commit()
    agency_admin = make_user(agency, login="agency_admin")
    service.record_archive_hosting(agency_admin, tree.learner_a, agency)
    db.session.commit()
    declaration = _submit(tree.learner_a)
    assert [org_id for _label, org_id in _chain(declaration)] == [agency.id, tree.dept_b.id, tree.county.id]


def test_declarations_submitted_before_keep_their_two_steps_and_finish_there(app, tree):
    # A row migrated from the fixed first/second columns: two steps, labelled as they were.
    declaration = _submit(tree.learner_a)
    db.session.delete(declaration.review_steps[2])
    declaration.review_steps[0].label, declaration.review_steps[1].label = "初审", "复审"
    db.session.commit()
    db.session.expire_all()
    declaration = db.session.get(Declaration, declaration.id)
    service.decide(tree.admins["unit_a"], declaration.id, "approve", None)
    service.decide(tree.admins["dept_a"], declaration.id, "approve", None)
    db.session.commit()
    assert declaration.status == DeclarationStatus.FILED


@pytest.mark.parametrize("steps, problem", [
    ([], "审核链至少要有一步"),
    ([{"reviewer": "department", "label": "审查"}], "第一步必须是"),
    ([{"reviewer": "unit", "label": "审核"}, {"reviewer": "mayor", "label": "x"}], "未知的审核者"),
    ([{"reviewer": "unit", "label": "审核"}, {"reviewer": "hr", "label": "a"}, {"reviewer": "hr", "label": "b"}],
     "重复"),
    ([{"reviewer": "unit", "label": "审核"}, {"reviewer": "hr", "label": "a", "when": "provincial"}], "when"),
])
def test_a_broken_review_section_is_refused_with_its_place(steps, problem):
    import tomllib

    from lms.rules import DATA_DIR

    data = tomllib.loads((DATA_DIR / "hubei-2026.toml").read_text(encoding="utf-8"))
    data["review"]["steps"] = steps
    with pytest.raises(RuleSetError, match=problem) as error:
        validate(data, "hubei-2026.toml")
    assert "review.steps" in str(error.value)


@pytest.mark.parametrize("kinds, problem", [(["conference"], "不能按名单申报"), (["nope"], "未知的学时类型")])
def test_roster_kinds_must_be_kinds_computed_from_attendance(kinds, problem):
    import tomllib

    from lms.rules import DATA_DIR

    data = tomllib.loads((DATA_DIR / "hubei-2026.toml").read_text(encoding="utf-8"))
    data["review"]["roster_kinds"] = kinds
    with pytest.raises(RuleSetError, match=problem):
        validate(data, "hubei-2026.toml")


# ------------------------------------------------------------------------------------------------ the queue


def _queue_of(app, tree, **filters):
    client = client_for(app, tree.admins["dept_a"])
    return client.get("/declarations/review", query_string=filters).get_data(as_text=True)


@pytest.fixture
def department_queue(app, tree):
    """Five declarations at the department's step: two units, two kinds, different hours and names."""
    other_unit = make_org(OrgKind.UNIT, tree.dept_a, name="第二医院")
    other_unit_admin = make_user(other_unit, login="second_unit_admin")
    zhang = make_user(other_unit, Role.LEARNER, name="张三丰")
    made = [
        _submit(tree.learner_a, title="省学术年会"),
        _submit(tree.learner_a, title="全国年会", start="2026-06-01", end="2026-06-02",
                facts={"presented_paper": False}),
        _submit(tree.learner_a, title="集中培训", kind="org_training", start="2026-04-01", end="2026-04-03",
                facts={"travel_days": 0, "hours": "20", "category": "professional", "start_date": "2026-04-01",
                       "end_date": "2026-04-03"}),
        _submit(zhang, title="院内研讨会"),
        _submit(zhang, title="短期培训", kind="org_training", start="2026-04-10", end="2026-04-10",
                facts={"travel_days": 0, "hours": "4", "category": "public", "start_date": "2026-04-10",
                       "end_date": "2026-04-10"}),
    ]
    for declaration in made:
        reviewer = tree.admins["unit_a"] if declaration.user_id == tree.learner_a.id else other_unit_admin
        service.decide(reviewer, declaration.id, "approve", None)
    db.session.commit()
    return {"made": made, "other_unit": other_unit, "zhang": zhang}


def test_the_queue_filters_by_kind_unit_hours_applicant_and_search(app, tree, department_queue):
    from lms.core.queues import ListFilters
    from lms.declarations.queue import QueueFilters, queue_query

    dept = tree.admins["dept_a"]

    def titles(**args):
        query = queue_query(dept, ListFilters.parse(args), QueueFilters.parse(args))
        return sorted(d.title for d in db.session.scalars(query))

    assert len(titles()) == 5
    assert titles(kind="org_training") == ["短期培训", "集中培训"]
    assert titles(unit_id=str(department_queue["other_unit"].id)) == ["短期培训", "院内研讨会"]
    assert titles(hours_min="9", hours_max="12") == ["省学术年会", "院内研讨会"]
    assert titles(hours_max="8") == ["全国年会", "短期培训"]
    assert titles(name="张三") == ["短期培训", "院内研讨会"]
    assert titles(q="年会") == ["全国年会", "省学术年会"]
    assert titles(q=department_queue["zhang"].id_number) == ["短期培训", "院内研讨会"]
    assert titles(id_suffix=tree.learner_a.id_number[-4:]) == ["全国年会", "省学术年会", "集中培训"]
    assert titles(kind="org_training", unit_id=str(tree.unit_a.id)) == ["集中培训"]
    # Another department sees none of them, whatever it filters by.
    assert db.session.scalars(queue_query(tree.admins["dept_b"], ListFilters(), QueueFilters())).all() == []


def test_the_queue_page_pages_and_says_what_is_wrong_with_a_filter(app, tree, department_queue):
    page = _queue_of(app, tree, per_page="2")
    assert "待我审核（5）" in page and "第 1 / 3 页" in page and "下一页" in page
    assert "第 3 / 3 页" in _queue_of(app, tree, per_page="2", page="3")
    filtered = _queue_of(app, tree, kind="org_training")
    assert "待我审核（2）" in filtered and "集中培训" in filtered and "省学术年会" not in filtered
    bad = _queue_of(app, tree, hours_min="很多")
    assert "学时应为数字" in bad and "待我审核（5）" in bad
    reversed_range = _queue_of(app, tree, hours_min="10", hours_max="2")
    assert "学时上限不能小于下限" in reversed_range


def test_the_api_lists_the_step_and_decides_a_batch_all_or_nothing(app, client, tree, department_queue):
    dept_headers = api_token(client, tree.admins["dept_a"])
    listed = client.get("/api/v1/declaration-reviews?per_page=2&kind=conference", headers=dept_headers).get_json()
    assert (listed["total"], listed["pages"], len(listed["items"])) == (3, 2, 2)
    first = listed["items"][0]
    assert first["step_index"] == 1 and [s["label"] for s in first["steps"]] == ["单位审核", "主管部门审查",
                                                                               "人社部门审验"]
    bad = client.get("/api/v1/declaration-reviews?hours_max=x", headers=dept_headers)
    assert bad.status_code == 422 and "学时应为数字" in bad.get_json()["error"]["message"]

    ids = [d.id for d in department_queue["made"]]
    foreign = _submit(tree.learner_b)
    refused = client.post("/api/v1/declaration-reviews/decisions", headers=dept_headers,
                          json={"ids": [*ids, foreign.id], "decision": "approve"})
    assert refused.status_code == 404
    db.session.expire_all()
    assert {d.step_index for d in db.session.scalars(sa.select(Declaration).where(Declaration.id.in_(ids)))} == {1}
    no_reason = client.post("/api/v1/declaration-reviews/decisions", headers=dept_headers,
                            json={"ids": ids[:2], "decision": "return"})
    assert no_reason.status_code == 422 and "需要补充的材料" in no_reason.get_json()["error"]["message"]

    returned = client.post("/api/v1/declaration-reviews/decisions", headers=dept_headers,
                           json={"ids": ids[:2], "decision": "return", "reason": "请补充参会回执"})
    assert returned.status_code == 200 and {d["status"] for d in returned.get_json()} == {"returned"}
    approved = client.post("/api/v1/declaration-reviews/decisions", headers=dept_headers,
                           json={"ids": ids[2:], "decision": "approve"})
    assert approved.status_code == 200 and {d["step_index"] for d in approved.get_json()} == {2}
    city = api_token(client, tree.admins["city"])
    assert client.get("/api/v1/declaration-reviews", headers=city).get_json()["total"] == 3
    filed = client.post("/api/v1/declaration-reviews/decisions", headers=city,
                        json={"ids": ids[2:], "decision": "approve"})
    assert {d["status"] for d in filed.get_json()} == {"filed"}
    again = client.post("/api/v1/declaration-reviews/decisions", headers=city,
                        json={"ids": ids[2:3], "decision": "approve"})
    assert again.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 3
    learner_headers = api_token(client, tree.learner_a)
    assert client.get("/api/v1/declaration-reviews", headers=learner_headers).status_code == 403


def test_the_page_decides_a_filtered_batch_with_one_reason(app, tree, department_queue):
    from tests.declarations import decide_batch

    dept = client_for(app, tree.admins["dept_a"])
    ids = [d.id for d in department_queue["made"][:2]]
    response = decide_batch(dept, ids, "reject", "非省级以上学术会议")
    assert response.status_code == 302
    db.session.expire_all()
    rejected = db.session.scalars(sa.select(Declaration).where(Declaration.id.in_(ids))).all()
    assert {d.status for d in rejected} == {DeclarationStatus.REJECTED}
    assert {d.decisions[-1].reason for d in rejected} == {"非省级以上学术会议"}
    assert decide(dept, ids[0], "approve").status_code == 409
    assert declared_id(declare(client_for(app, tree.learner_a), title="再次申报"))  # the learner may declare again
