"""The notification centre: every decision about a person's things leaves exactly one notification (none when the
action rolls back), read marks, the header's counts, and that nobody reads or marks another person's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms.accounts import changes as person_changes
from lms.accounts import resets
from lms.accounts import service as accounts
from lms.declarations import service as declarations
from lms.declarations.models import Declaration, DeclarationStatus
from lms.extensions import db
from lms.notices import notifications
from lms.notices.notification_models import Notification, SmsDelivery
from lms.orgs import changes as org_changes
from lms.orgs import service as orgs
from lms.review import attempts as attempt_review
from lms.review import service as review
from lms.transfers import service as transfers
from tests.conftest import api_token, csrf_token
from tests.declarations import client_for, declare, declared_id
from tests.exams import Clock
from tests.exams.test_integrity import learner_ready, quiz_course, scripted_pass
from tests.notices import publish
from tests.review import make_session
from tests.tracking import make_ready_courseware


@pytest.fixture(autouse=True)
def _drain_jobs(app):
    """Let the embedded job thread finish its SMS jobs before the database is emptied."""
    yield
    runner = app.extensions.get("lms.jobs")
    if runner is not None:
        runner.shutdown(wait=True)


def count(user, kind: str | None = None) -> int:
    query = sa.select(sa.func.count(Notification.id)).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return db.session.scalar(query)


def exactly_one(user, kind: str, act) -> Notification:
    """Run the action and roll it back (no notification), then run it again and commit (exactly one more)."""
    before = count(user, kind)
    act()
    db.session.rollback()
    assert count(user, kind) == before, "a rolled-back action left a notification"
    act()
    db.session.commit()
    assert count(user, kind) == before + 1
    return db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id,
                                                            Notification.kind == kind)
                              .order_by(Notification.id.desc())).first()


# ------------------------------------------------------------------------------------------------ hooks


def test_a_registration_decided_notifies_the_person_once(app, tree):
    note = exactly_one(tree.pending_a, "registration",
                       lambda: accounts.decide_learners(tree.admins["unit_a"], [tree.pending_a.id], True, None))
    assert note.title == "注册审核通过" and tree.unit_a.name in note.text
    rejected = exactly_one(tree.pending_b, "registration", lambda: accounts.decide_learners(
        tree.admins["unit_b"], [tree.pending_b.id], False, "身份证号与姓名不符"))
    assert "身份证号与姓名不符" in rejected.text


def test_an_org_registration_decided_notifies_its_pending_admin(app, tree):
    from lms.accounts.models import Role
    from lms.orgs.models import OrgKind, ReviewStatus
    from tests.conftest import make_org, make_user

    unit = make_org(OrgKind.UNIT, tree.dept_a, status=ReviewStatus.PENDING)
    admin = make_user(unit, Role.UNIT_ADMIN, status=ReviewStatus.PENDING)
    exactly_one(admin, "registration", lambda: orgs.decide_orgs(tree.admins["dept_a"], [unit.id], True, None))


def _declaration(app, tree) -> int:
    return declared_id(declare(client_for(app, tree.learner_a)))


def test_a_declaration_sent_back_rejected_or_filed_notifies_the_applicant(app, tree):
    sent_back = _declaration(app, tree)
    note = exactly_one(tree.learner_a, "declaration", lambda: declarations.decide(
        tree.admins["unit_a"], sent_back, "return", "请补充会议日程"))
    assert note.title == "学时申报被退回" and "请补充会议日程" in note.text
    assert note.link == f"/declarations/{sent_back}"
    rejected = _declaration(app, tree)
    note = exactly_one(tree.learner_a, "declaration", lambda: declarations.decide(
        tree.admins["unit_a"], rejected, "reject", "会议不属于专业范围"))
    assert note.title == "学时申报未通过"

    filed = _declaration(app, tree)
    while db.session.get(Declaration, filed).status == DeclarationStatus.PENDING:
        declaration = db.session.get(Declaration, filed)
        reviewer = next(a for a in tree.admins.values() if declarations.reviewer_of_step(a, declaration))
        if declaration.step_index < len(declaration.review_steps) - 1:
            before = count(tree.learner_a, "declaration")
            declarations.decide(reviewer, filed, "approve", None)
            db.session.commit()
            assert count(tree.learner_a, "declaration") == before  # an intermediate step tells nobody yet
            continue
        note = exactly_one(tree.learner_a, "declaration",
                           lambda reviewer=reviewer: declarations.decide(reviewer, filed, "approve", None))
    assert note.title == "学时申报已入账" and "学时" in note.text


def test_a_voided_declaration_notifies_the_applicant(app, tree):
    filed = _declaration(app, tree)
    while db.session.get(Declaration, filed).status == DeclarationStatus.PENDING:
        declaration = db.session.get(Declaration, filed)
        reviewer = next(a for a in tree.admins.values() if declarations.reviewer_of_step(a, declaration))
        declarations.decide(reviewer, filed, "approve", None)
        db.session.commit()
    voider = next(a for a in (tree.admins["dept_a"], tree.admins["city"])
                  if declarations.may_void(a, db.session.get(Declaration, filed)))
    note = exactly_one(tree.learner_a, "declaration",
                       lambda: declarations.void(voider, filed, "会议通知系伪造"))
    assert note.title == "学时申报被认定弄虚作假" and "第二十一条" in note.text


def test_a_held_session_decided_notifies_the_learner(app, tree):
    courseware = make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0, labelled_hours="0.1")
    session = make_session(tree.learner_a, courseware)
    db.session.commit()
    note = exactly_one(tree.learner_a, "session_review", lambda: review.decide_sessions(
        tree.reviewer, [session.id], "void", "多个账号同一设备交替播放"))
    assert note.title == "观看记录审核作废" and "多个账号同一设备交替播放" in note.text
    assert note.link == "/my/watch-records"


def test_a_quiz_attempt_held_and_then_decided_notifies_the_learner_each_time(app, client, tree):
    clock = Clock(app)
    course = quiz_course(tree)
    learner = learner_ready(course, tree.learner_a)
    attempt = scripted_pass(client, clock, course, learner)
    db.session.expire_all()
    [held] = db.session.scalars(sa.select(Notification).where(Notification.user_id == learner.id,
                                                              Notification.kind == "attempt_review")).all()
    assert held.title == "测验记录被暂扣"
    note = exactly_one(learner, "attempt_review", lambda: attempt_review.decide_attempts(
        tree.reviewer, [attempt.id], "release", "核实为本人作答"))
    assert note.title == "测验记录审核通过"


def test_a_transfer_confirmed_or_refused_notifies_the_person(app, tree):
    transfer = transfers.start_transfer(tree.admins["unit_a"], tree.learner_a.id, to_org_id=tree.unit_b.id)
    db.session.commit()
    refused = exactly_one(tree.learner_a, "transfer",
                          lambda: transfers.refuse_transfer(tree.admins["unit_b"], transfer.id, "编制已满"))
    assert refused.title == "人员调转未获同意" and "编制已满" in refused.text
    again = transfers.start_transfer(tree.admins["unit_a"], tree.learner_a.id, to_org_id=tree.unit_b.id)
    db.session.commit()
    done = exactly_one(tree.learner_a, "transfer",
                       lambda: transfers.confirm_transfer(tree.admins["unit_b"], again.id))
    assert done.title == "人员调转已完成" and tree.unit_b.name in done.text


def test_a_personal_data_change_decided_notifies_the_person(app, tree):
    change = person_changes.request_change(tree.learner_a, {"professional_post": "高级工程师"})
    db.session.commit()
    note = exactly_one(tree.learner_a, "person_change",
                       lambda: person_changes.approve_change(tree.admins["unit_a"], change.id))
    assert note.title == "个人信息修改已通过"


def test_an_org_change_decided_notifies_the_admin_who_asked(app, tree):
    asker = tree.admins["unit_a"]
    _org, change = org_changes.edit_own_org(asker, {"name": "第一测试单位（更名）"})
    db.session.commit()
    note = exactly_one(asker, "org_change",
                       lambda: org_changes.reject_change(tree.admins["dept_a"], change.id, "缺少更名批复文件"))
    assert note.title == "机构信息修改未通过" and "缺少更名批复文件" in note.text


def test_a_password_reset_by_an_admin_notifies_the_person_without_the_password(app, tree):
    passwords = []
    note = exactly_one(tree.learner_a, "password_reset", lambda: passwords.append(
        resets.reset_password(tree.admins["unit_a"], tree.learner_a.id)[1]))
    assert passwords[-1] not in note.text and tree.admins["unit_a"].name in note.text
    # SMS is on by default for a reset: the delivery row was written with the notification, no password in it.
    [delivery] = db.session.scalars(sa.select(SmsDelivery).where(SmsDelivery.notification_id == note.id)).all()
    assert delivery.phone == tree.learner_a.phone and passwords[-1] not in delivery.text


def test_a_session_decision_sends_no_sms_by_default_but_does_when_the_person_asks(app, tree):
    courseware = make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0, labelled_hours="0.1")
    first, second = make_session(tree.learner_a, courseware), make_session(tree.learner_a, courseware)
    db.session.commit()
    review.decide_sessions(tree.reviewer, [first.id], "release", "核实无误")
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(SmsDelivery.id))) == 0
    notifications.save_sms_choices(tree.learner_a, ["session_review"])
    db.session.commit()
    review.decide_sessions(tree.reviewer, [second.id], "release", "核实无误")
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(SmsDelivery.id))) == 1


# ------------------------------------------------------------------------------------------------ reading


def _some(user, n: int) -> list[Notification]:
    made = [notifications.notify(user, "declaration", f"第 {i} 条消息", "/declarations") for i in range(n)]
    db.session.commit()
    return made


def test_the_list_is_paginated_newest_first_and_marks_read_one_or_all(app, tree):
    app.config["LMS_NOTIFICATIONS"] = {"page_size": 2}
    made = _some(tree.learner_a, 3)
    client = client_for(app, tree.learner_a)
    first = client.get("/notifications").get_data(as_text=True)
    assert "第 2 条消息" in first and "第 1 条消息" in first and "第 0 条消息" not in first
    assert "第 0 条消息" in client.get("/notifications?page=2").get_data(as_text=True)
    token = csrf_token(client, "/notifications")
    assert client.post(f"/notifications/{made[0].id}/read", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, made[0].id).read_at is not None
    assert "第 0 条消息" not in client.get("/notifications?unread=1&page=2").get_data(as_text=True)
    client.post("/notifications/read-all", data={"csrf_token": token})
    assert notifications.unread_count(tree.learner_a) == 0
    assert client.post("/notifications/read-all", data={}).status_code == 400  # no CSRF token, nothing done


def test_opening_a_notification_marks_it_read_and_goes_to_its_link(app, tree):
    [made] = _some(tree.learner_a, 1)
    response = client_for(app, tree.learner_a).get(f"/notifications/{made.id}/open")
    assert response.status_code == 302 and response.headers["Location"].endswith("/declarations")
    db.session.expire_all()
    assert db.session.get(Notification, made.id).read_at is not None


def test_the_api_lists_marks_read_and_marks_all_read(app, client, tree):
    made = _some(tree.learner_a, 3)
    headers = api_token(client, tree.learner_a)
    body = client.get("/api/v1/notifications", headers=headers).get_json()
    assert [item["id"] for item in body["items"]] == [n.id for n in reversed(made)] and body["unread"] == 3
    marked = client.post(f"/api/v1/notifications/{made[1].id}/read", headers=headers)
    assert marked.status_code == 200 and marked.get_json()["read_at"]
    assert client.get("/api/v1/notifications?unread=true", headers=headers).get_json()["total"] == 2
    assert client.post("/api/v1/notifications/read-all", headers=headers).get_json()["marked"] == 2
    assert client.get("/api/v1/notifications", headers=headers).get_json()["unread"] == 0
    assert client.get("/api/v1/notifications").status_code == 401
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"/api/v1/notifications", "/api/v1/notifications/{notification_id}/read",
            "/api/v1/notifications/read-all"} <= set(paths)


def test_nobody_reads_or_marks_another_persons_notifications(app, client, tree):
    [mine] = _some(tree.learner_a, 1)
    other = api_token(client, tree.learner_b)
    assert client.get("/api/v1/notifications", headers=other).get_json()["items"] == []
    refused = client.post(f"/api/v1/notifications/{mine.id}/read", headers=other)
    assert refused.status_code == 404 and refused.get_json()["error"]["message"] == "消息不存在。"
    assert client.post("/api/v1/notifications/read-all", headers=other).get_json()["marked"] == 0
    page = client_for(app, tree.learner_b)
    assert "第 0 条消息" not in page.get("/notifications").get_data(as_text=True)
    page.get(f"/notifications/{mine.id}/open")
    page.post(f"/notifications/{mine.id}/read", data={"csrf_token": csrf_token(page, "/notifications")})
    db.session.expire_all()
    assert db.session.get(Notification, mine.id).read_at is None


def test_the_header_shows_unread_notices_and_notifications_from_one_query(app, tree):
    publish(tree.admins["city"], title="城市通知")
    _some(tree.learner_a, 2)
    client = client_for(app, tree.learner_a)
    statements = []

    def count_statement(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        home = client.get("/").get_data(as_text=True)  # the home page shows the notice count too
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count_statement)
    assert "通知公告（1）" in home and "消息（2）" in home
    assert sum(1 for s in statements if "notice_reads" in s or "FROM notifications" in s) == 1


def test_the_settings_page_keeps_the_sms_choice_per_kind(app, tree):
    client = client_for(app, tree.learner_a)
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'value="deadline" checked' in page and 'value="session_review" checked' not in page
    token = csrf_token(client, "/notifications/settings")
    client.post("/notifications/settings", data={"csrf_token": token, "sms": ["session_review"]})
    assert notifications.sms_choices(tree.learner_a.id)["session_review"] is True
    assert notifications.sms_choices(tree.learner_a.id)["deadline"] is False
    bad = client.post("/notifications/settings", data={"csrf_token": token, "sms": ["nonsense"]},
                      follow_redirects=True).get_data(as_text=True)
    assert "没有这种消息" in bad


def test_a_plan_decided_notifies_the_base_admin_who_filed_it(app, tree):
    from lms.plans import service as plans
    from tests.plans import plan_json, year

    base_admin, dept_admin = tree.admins["base_a"], tree.admins["dept_a"]
    filing, _ = plans.submit(base_admin, "annual_plan", year(), "年度计划", plan_json())
    db.session.commit()
    filing_id = filing.id
    note = exactly_one(base_admin, "plan", lambda: plans.decide(dept_admin, filing_id, "return", "请补充课程安排"))
    assert note.title == "培训计划被退回修改" and "请补充课程安排" in note.text
    assert note.link == f"/plans/{filing_id}"


def test_each_attendee_of_a_filed_training_is_told_their_hours(app, tree):
    from lms.plans import trainings
    from tests.plans import declare_training

    training = declare_training(tree.admins["base_a"], [tree.learner_a, tree.learner_b])
    db.session.commit()
    trainings.decide(tree.admins["dept_a"], training.id, "approve", None)
    db.session.commit()
    before = {person.id: count(person, "training") for person in (tree.learner_a, tree.learner_b)}
    trainings.decide(tree.admins["city"], training.id, "approve", None)
    db.session.commit()
    for person in (tree.learner_a, tree.learner_b):
        assert count(person, "training") == before[person.id] + 1
    note = db.session.scalars(sa.select(Notification).where(Notification.user_id == tree.learner_a.id,
                                                            Notification.kind == "training")).one()
    assert note.title == "培训学时已入账" and "16" in note.text and note.link == "/my/hours/2026"
