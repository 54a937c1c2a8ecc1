"""Trainings declared with a roster (admin manual 5.2): the chain, per-row roster errors, each attendee's hours by the
rules engine with their own caps, posted exactly once."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lms.accounts.models import Role
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.xlsx import SheetRejected
from lms.courses.models import Category
from lms.declarations import service as declarations
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import LedgerEntry, SourceType
from lms.orgs.models import OrgKind
from lms.plans import trainings
from lms.plans.training_models import Training, TrainingAttendee, TrainingStatus
from tests.conftest import csrf_token, make_org, make_user
from tests.declarations import PDF, client_for
from tests.plans import declare_training, person_row, roster_bytes


def _entries(user) -> list[LedgerEntry]:
    return db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == user.id)
                              .order_by(LedgerEntry.id)).all()


def _approve_all(training, *admins):
    for admin in admins:
        trainings.decide(admin, training.id, "approve", None)
        db.session.commit()


def test_a_bases_training_goes_to_its_department_then_the_bureau_and_each_attendee_gets_their_hours(app, tree):
    training = declare_training(tree.admins["base_a"], [tree.learner_a, tree.learner_b])
    db.session.commit()
    # The base's declaration is the unit's step; 主管部门审查 and 人社部门审验 follow (hubei-2026).
    assert [(s.label, s.org_id) for s in training.review_steps] == [("主管部门审查", tree.dept_a.id),
                                                                    ("人社部门审验", tree.city.id)]
    assert [a.user_id for a in training.attendees] == [tree.learner_a.id, tree.learner_b.id]
    with pytest.raises(NotAllowed):  # the bureau cannot skip the department
        trainings.decide(tree.admins["city"], training.id, "approve", None)
    db.session.rollback()
    _approve_all(training, tree.admins["dept_a"])
    assert _entries(tree.learner_a) == []  # nothing before the last step
    _approve_all(training, tree.admins["city"])
    assert training.status == TrainingStatus.FILED
    for person in (tree.learner_a, tree.learner_b):
        [entry] = _entries(person)
        assert (entry.source_type, entry.category, entry.hours, entry.kind) == (
            SourceType.TRAINING, Category.PUBLIC, 16, "org_training")
    learner = client_for(app, tree.learner_a)
    yearly = learner.get("/my/hours/2026").get_data(as_text=True)
    assert "培训申报：全省公需科目集中培训班" in yearly
    page = client_for(app, tree.admins["dept_a"]).get(f"/trainings/{training.id}").get_data(as_text=True)
    assert "已备案入账" in page and page.count('class="attendee-hours">16') == 2


def test_a_roster_with_bad_rows_is_refused_whole_and_every_row_is_named(app, tree):
    other_city = make_org(OrgKind.CITY_HR, tree.province)
    far_away = make_user(make_org(OrgKind.UNIT, make_org(OrgKind.DEPARTMENT, other_city)), Role.LEARNER)
    rows = [
        person_row(tree.learner_a),
        ("无名", "420106199001011234", ""),  # a wrong check digit
        ("查无此人", "11010519491231002X", ""),  # well formed, nobody registered with it
        (tree.learner_b.name + "错", tree.learner_b.id_number, ""),  # the name does not match
        person_row(far_away),  # outside the base's bureau
        person_row(tree.learner_a),  # a duplicate
        person_row(tree.learner_b, "三天"),
        person_row(tree.learner_b, "0"),
        person_row(tree.learner_b, "5"),
        person_row(tree.learner_b, "1.3"),
    ]
    with pytest.raises(SheetRejected) as error:
        declare_training(tree.admins["base_a"], [], rows=rows)
    db.session.rollback()
    problems = {(p.row, p.header): p.message for p in error.value.problems}
    assert "校验" in problems[(3, "身份证号码")] or "身份证" in problems[(3, "身份证号码")]
    assert "平台上没有" in problems[(4, "身份证号码")] and "平台上没有" in problems[(5, "身份证号码")]
    assert "不在" in problems[(6, "身份证号码")] and "可申报的范围" in problems[(6, "身份证号码")]
    assert "与第 2 行重复" in problems[(7, "身份证号码")]
    assert "应为数字" in problems[(8, "出勤天数")] and "应大于 0" in problems[(9, "出勤天数")]
    assert "不能超过培训的天数（2 天）" in problems[(10, "出勤天数")] and "半天" in problems[(11, "出勤天数")]
    assert (2, "身份证号码") not in problems  # the good row is not blamed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Training)) == 0

    # Through the page: 422, each row listed, nothing kept.
    base = client_for(app, tree.admins["base_a"])
    response = base.post("/trainings/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(base, "/trainings/new"), "title": "培训", "kind": "org_training",
        "start_date": "2026-04-01", "end_date": "2026-04-02", "hours_per_day": "8", "category": "public",
        "fact-org_training-organiser": "hr", "roster": (io.BytesIO(roster_bytes(rows)), "名单.xlsx")})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "第 7 行" in text and "与第 2 行重复" in text and "导入失败" not in text[:0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Training)) == 0


def test_a_unit_declares_only_its_own_people_and_bad_fields_say_what_is_wrong(app, tree):
    unit = tree.admins["unit_a"]
    with pytest.raises(SheetRejected) as error:
        declare_training(unit, [tree.learner_a, tree.learner_b], kind="unit_training", category="professional")
    db.session.rollback()
    [problem] = error.value.problems
    assert problem.row == 3 and "单位只能申报本单位人员" in problem.message
    with pytest.raises(InvalidInput) as error:
        declare_training(unit, [tree.learner_a], start="2026-04-03", end="2026-04-01", hours_per_day="x")
    db.session.rollback()
    assert error.value.fields.keys() == {"end_date", "hours_per_day"}
    with pytest.raises(InvalidInput, match="可按名单申报"):
        declare_training(unit, [tree.learner_a], kind="conference")
    db.session.rollback()
    with pytest.raises(InvalidInput, match="请选择科目类别"):
        declare_training(unit, [tree.learner_a], category="nope")
    db.session.rollback()
    with pytest.raises(InvalidInput, match="不能跨年度"):
        declare_training(unit, [tree.learner_a], start="2025-12-31", end="2026-01-01")
    db.session.rollback()
    with pytest.raises(NotAllowed):  # a department does not declare trainings with a roster
        declare_training(tree.admins["dept_a"], [tree.learner_a])
    db.session.rollback()


def test_the_caps_apply_per_person_across_what_each_already_has(app, tree):
    # learner_a already has 16 filed hours on 2026-04-01/02 (8 a day) and 12 hours of the unit's own training.
    filed, _keys = declarations.submit(tree.learner_a, kind_id="org_training", title="研修班", start_date="2026-04-01",
                                       end_date="2026-04-02", year="",
                                       facts={"start_date": "2026-04-01", "end_date": "2026-04-02", "travel_days": 0,
                                              "hours": "16", "category": "professional", "organiser": "hr"},
                                       uploads=[], materials={"attendance_proof": [(io.BytesIO(PDF), "结业证书.pdf")]})
    for admin in ("unit_a", "dept_a", "city"):
        declarations.decide(tree.admins[admin], filed.id, "approve", None)
    own = declare_training(tree.admins["unit_a"], [tree.learner_a], title="院内培训一", kind="unit_training",
                           start="2026-03-01", end="2026-03-02", hours_per_day="6", category="professional")
    db.session.commit()
    _approve_all(own, tree.admins["dept_a"], tree.admins["city"])
    assert own.attendees[0].hours == 12

    colleague = make_user(tree.unit_a, Role.LEARNER)
    same_days = declare_training(tree.admins["base_a"], [tree.learner_a, colleague], title="同期培训",
                                 start="2026-04-01", end="2026-04-03")
    second_own = declare_training(tree.admins["unit_a"], [tree.learner_a, colleague], title="院内培训二",
                                  kind="unit_training", start="2026-05-01", end="2026-05-02", hours_per_day="8",
                                  category="professional")
    db.session.commit()
    for training in (same_days, second_own):
        _approve_all(training, tree.admins["dept_a"], tree.admins["city"])
    hours = {(t.title, a.user_id): a.hours for t in (same_days, second_own) for a in t.attendees}
    # 8 a day (第十一条（一）): learner_a's first two days are full already, only the third day counts.
    assert hours[("同期培训", tree.learner_a.id)] == 8 and hours[("同期培训", colleague.id)] == 24
    # The unit's own training ≤ 20 a year: learner_a had 12, so 8 of 16; the colleague gets all 16.
    assert hours[("院内培训二", tree.learner_a.id)] == 8 and hours[("院内培训二", colleague.id)] == 16
    learner_a_row = next(a for a in same_days.attendees if a.user_id == tree.learner_a.id)
    assert any("每天最多计 8 学时" in cut["message"] for cut in learner_a_row.outcome["cuts"])
    # And a later declaration of the learner's own sees the rostered days as taken.
    outcome = declarations.compute_outcome(tree.learner_a, 2026, "org_training", {
        "start_date": "2026-04-03", "end_date": "2026-04-03", "travel_days": 0, "hours": "8",
        "category": "public", "organiser": "hr"})[1]
    assert outcome.hours == 0


def test_send_back_resumes_at_the_step_a_new_roster_replaces_the_old_and_nothing_posts_twice(app, tree):
    base = tree.admins["base_a"]
    training = declare_training(base, [tree.learner_a])
    db.session.commit()
    _approve_all(training, tree.admins["dept_a"])
    trainings.decide(tree.admins["city"], training.id, "return", "名单缺少两人")
    db.session.commit()
    assert (training.status, training.step_index) == (TrainingStatus.RETURNED, 1)
    with pytest.raises(NotFound):  # another organisation's training is not even visible
        trainings.resubmit(tree.admins["unit_a"], training.id, None, None, "")
    db.session.rollback()
    colleague = make_user(tree.unit_a, Role.LEARNER)
    trainings.resubmit(base, training.id, roster_bytes([person_row(tree.learner_a), person_row(colleague, "1")]),
                       "名单.xlsx", "已补充")
    db.session.commit()
    assert (training.status, training.step_index) == (TrainingStatus.PENDING, 1)
    assert [(a.user_id, a.days) for a in training.attendees] == [(tree.learner_a.id, 2), (colleague.id, 1)]
    _approve_all(training, tree.admins["city"])
    with pytest.raises(Conflict):
        trainings.decide(tree.admins["city"], training.id, "approve", None)
    db.session.rollback()
    with pytest.raises(Conflict):
        trainings.resubmit(base, training.id, roster_bytes([person_row(tree.learner_a)]), "名单.xlsx", "")
    db.session.rollback()
    # The same training declared again is refused: its hours count once.
    with pytest.raises(Conflict, match="不能重复申报"):
        declare_training(base, [tree.learner_a])
    db.session.rollback()
    assert [e.hours for e in _entries(tree.learner_a)] == [16] and [e.hours for e in _entries(colleague)] == [8]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 2


def test_a_central_units_own_training_is_filed_by_its_declaration(app, tree):
    central = make_org(OrgKind.UNIT, tree.dept_a, name="中央在鄂单位")
    central.reviews_own_hours = True
    db.session.commit()
    admin, person = make_user(central, login="central_admin"), make_user(central, Role.LEARNER)
    training = declare_training(admin, [person], kind="unit_training", category="professional")
    db.session.commit()
    assert (training.status, training.review_steps) == (TrainingStatus.FILED, [])
    assert ledger.balances(person.id, 2026)[Category.PROFESSIONAL] == 16


def test_hunan_counts_8_hours_a_day_whatever_the_declared_hours(app, tree):
    tree.city.region = "hunan"
    db.session.commit()
    assert [k.id for k in trainings.training_kinds(trainings.rule_set_of_org(tree.base_a, 2026))] == [
        "training_or_meeting"]
    training = declare_training(tree.admins["base_a"], [tree.learner_a], kind="training_or_meeting",
                                hours_per_day="6", rows=[person_row(tree.learner_a, "1.5")])
    db.session.commit()
    # 二（二）: no department step for a 市州 base; the city bureau files.
    assert [s.org_id for s in training.review_steps] == [tree.city.id]
    _approve_all(training, tree.admins["city"])
    assert training.attendees[0].hours == 12  # 1.5 days × 8 (学时折算细则第二部分第1条)
    assert training.facts == {"activity": "training"}  # the activity type only chooses the evidence


def test_the_pages_declare_review_in_a_batch_and_the_template_downloads(app, tree):
    base = client_for(app, tree.admins["base_a"])
    template = base.get("/trainings/roster-template.xlsx")
    assert template.status_code == 200
    sheet = load_workbook(io.BytesIO(template.data)).worksheets[0]
    assert [c.value for c in sheet[1]] == ["姓名", "身份证号码", "出勤天数"]
    form = base.get("/trainings/new").get_data(as_text=True)
    assert "参加组织、人社、行业主管部门举办的线下培训班" in form and "参加学术会议" not in form
    # The organiser is the training's own fact: one select, shown for the kind that asks it.
    assert 'name="fact-org_training-organiser"' in form and "其他单位（培训机构、学会等）" in form
    assert 'name="fact-unit_training-' not in form
    response = base.post("/trainings/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(base, "/trainings/new"), "title": "护理新技术培训班", "kind": "org_training",
        "start_date": "2026-04-01", "end_date": "2026-04-02", "hours_per_day": "8", "category": "professional",
        "fact-org_training-organiser": "industry",
        "roster": (io.BytesIO(roster_bytes([person_row(tree.learner_a)])), "名单.xlsx")})
    assert response.status_code == 302
    training_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert db.session.get(Training, training_id).facts == {"organiser": "industry"}
    assert "护理新技术培训班" in base.get("/trainings").get_data(as_text=True)

    department = client_for(app, tree.admins["dept_a"])
    queue = department.get("/trainings/review").get_data(as_text=True)
    assert "待我审核（1）" in queue and "护理新技术培训班" in queue
    assert "待我审核（0）" in department.get("/trainings/review?q=不存在的培训").get_data(as_text=True)
    refused = department.post("/trainings/review", data={"csrf_token": csrf_token(department, "/trainings/review"),
                                                         "ids": [str(training_id)], "decision": "reject"})
    assert refused.status_code == 422 and "请填写不通过的原因" in refused.get_data(as_text=True)
    done = department.post("/trainings/review", data={"csrf_token": csrf_token(department, "/trainings/review"),
                                                      "ids": [str(training_id)], "decision": "approve"})
    assert done.status_code == 302
    city = client_for(app, tree.admins["city"])
    url = f"/trainings/{training_id}"
    shown = city.get(url).get_data(as_text=True)  # the reviewers see who organised it
    assert "<dt>举办单位类别</dt><dd>行业主管部门</dd>" in shown
    assert city.post(f"{url}/decision", data={"csrf_token": csrf_token(city, url),
                                              "decision": "approve"}).status_code == 302
    assert [e.hours for e in _entries(tree.learner_a)] == [16]

    outsider = client_for(app, tree.admins["dept_b"])
    assert outsider.get(url).status_code == 404
    assert client_for(app, tree.learner_a).get("/trainings").status_code == 403
    assert client_for(app, tree.admins["dept_a"]).get("/trainings/new").status_code == 403


def test_two_simultaneous_final_approvals_post_each_attendee_once(app, tree, config):
    import threading

    if config.embedded_database:
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers and refuses a stale one")
    training = declare_training(tree.admins["base_a"], [tree.learner_a, tree.learner_b])
    db.session.commit()
    _approve_all(training, tree.admins["dept_a"])
    training_id = training.id
    admin_ids = [tree.admins["city"].id, make_user(tree.city, login="city_second").id]
    barrier = threading.Barrier(2)
    done, refused, failures = [], [], []

    def approve(admin_id):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                trainings.decide(db.session.get(trainings.User, admin_id), training_id, "approve", None)
                db.session.commit()
                done.append(admin_id)
            except Conflict as error:
                db.session.rollback()
                refused.append(error.message)
            except Exception as error:  # noqa: BLE001 - shown below
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(admin_id,)) for admin_id in admin_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == [] and len(done) == 1 and len(refused) == 1
    db.session.expire_all()
    entries = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.source_type == SourceType.TRAINING)).all()
    attendee_ids = set(db.session.scalars(sa.select(TrainingAttendee.id)
                                          .where(TrainingAttendee.training_id == training_id)))
    assert len(entries) == 2 and {e.source_id for e in entries} == attendee_ids


def test_the_departments_to_do_list_counts_the_trainings_at_its_step(client, tree):
    from tests.conftest import api_token

    declare_training(tree.admins["base_a"], [tree.learner_a])
    db.session.commit()

    def count(user):
        items = client.get("/api/v1/me/todo", headers=api_token(client, user)).get_json()
        return {item["key"]: item["count"] for item in items}.get("trainings")

    assert (count(tree.admins["dept_a"]), count(tree.admins["city"]), count(tree.admins["dept_b"])) == (1, 0, 0)


def test_the_organiser_is_declared_once_and_a_training_by_anyone_else_is_refused_with_the_article(app, tree):
    base = tree.admins["base_a"]
    with pytest.raises(InvalidInput) as error:
        declare_training(base, [tree.learner_a], facts={})
    db.session.rollback()
    assert error.value.fields == {"facts.organiser": "请选择举办单位类别。"}
    with pytest.raises(InvalidInput, match="举办单位类别应为以下之一"):
        declare_training(base, [tree.learner_a], facts={"organiser": "society"})
    db.session.rollback()
    with pytest.raises(InvalidInput) as error:
        declare_training(base, [tree.learner_a], facts={"organiser": "other"})
    db.session.rollback()
    assert "第十一条（一）只认定由各级组织部门、人力资源社会保障部门、行业主管部门举办" in error.value.fields["facts"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Training)) == 0

    # Through the page: the error names the field and the chosen value is kept.
    page = client_for(app, base)
    response = page.post("/trainings/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page, "/trainings/new"), "title": "培训", "kind": "org_training",
        "start_date": "2026-04-01", "end_date": "2026-04-02", "hours_per_day": "8", "category": "public",
        "roster": (io.BytesIO(roster_bytes([person_row(tree.learner_a)])), "名单.xlsx")})
    assert response.status_code == 422 and "请选择举办单位类别" in response.get_data(as_text=True)

    # An accepted organiser reaches each attendee's facts, so the engine's condition is met at filing.
    training = declare_training(base, [tree.learner_a], facts={"organiser": "organisation"})
    db.session.commit()
    kind = trainings.rule_set_of_org(tree.base_a, 2026).kinds["org_training"]
    assert trainings.attendee_facts(kind, training, training.attendees[0].days)["organiser"] == "organisation"
    _approve_all(training, tree.admins["dept_a"], tree.admins["city"])
    assert training.attendees[0].hours == 16
