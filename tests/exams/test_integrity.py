"""Quiz integrity (issue 16): the server times each question, and attempts carry evidence that holds them for review.

A script answering at machine speed is held; colleagues handing in the same answers (wrong ones included) within
minutes leave evidence on both; a learner retrying to see the whole bank is refused past the setting; another
account's device leaves evidence; people answering at a human pace are never held. A held attempt posts no hours
until a reviewer releases it, and then exactly once. Time is the quiz's test clock, never a sleep.
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.accounts.models import Role
from lms.audit.models import AuditEntry
from lms.courses.models import Category
from lms.exams import integrity, service
from lms.exams.models import Attempt, AttemptEvent
from lms.extensions import db
from lms.ledger.models import CourseCredit, CreditState, LedgerEntry
from lms.orgs.models import OrgKind
from lms.tracking.models import HoldState
from tests.conftest import api_token, csrf_token, login, make_org, make_user
from tests.exams import Clock, make_bank, open_quiz
from tests.ledger import mark_watched
from tests.player import enroll, make_published_course

DEVICE_A, DEVICE_B = "device-aaaaaaaa", "device-bbbbbbbb"


@pytest.fixture
def clock(app):
    return Clock(app)


def quiz_course(tree, *, bank: int = 10, draw: int = 5, max_attempts: int = 5):
    course = make_published_course(tree.base_a, hours=(1.0,), category=Category.PROFESSIONAL)
    make_bank(course, singles=bank - 2, multiples=1, true_falses=1)
    open_quiz(course, draw_count=draw, pass_percent=60, time_limit_minutes=60, max_attempts=max_attempts)
    return course


def learner_ready(course, user):
    enroll(user, course)
    mark_watched(user, course)
    return user


def sign_in(client, user, address: str = "10.1.1.1"):
    """Log in from an address (the login session is bound to it, so the address stays for the whole visit)."""
    client.environ_base["REMOTE_ADDR"] = address
    login(client, user)


def start(client, course, device: str | None = DEVICE_A):
    """Start an attempt from the quiz page as a browser does (device id in the form); return the attempt or None."""
    url = f"/courses/{course.id}/quiz"
    data = {"csrf_token": csrf_token(client, url)}
    if device:
        data["device"] = device
    response = client.post(f"{url}/start", data=data)
    match = re.search(r"/quiz/attempts/(\d+)$", response.headers.get("Location", ""))
    if not match:
        return None
    attempt = db.session.get(Attempt, int(match.group(1)))
    assert client.get(f"/quiz/attempts/{attempt.id}").status_code == 200  # the questions are shown now
    return attempt


def key_of(attempt) -> dict[int, list[int]]:
    db.session.refresh(attempt)
    return {position: list(q["correct"]) for position, q in enumerate(attempt.questions, start=1)}


def wrong_of(question: dict) -> list[int]:
    return [next(i for i in range(len(question["options"])) if i not in question["correct"])]


def answer(client, clock, attempt, answers: dict[int, list[int]], seconds_each: float):
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    for position, choices in answers.items():
        clock.advance(seconds=seconds_each)
        response = client.post(f"/api/v1/quiz/attempts/{attempt.id}/answers",
                               json={"question": position, "choices": choices}, headers={"X-CSRFToken": token})
        assert response.status_code == 200, response.get_json()
        token = response.headers["X-CSRFToken"]


def submit(client, attempt):
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    assert client.post(f"/quiz/attempts/{attempt.id}/submit", data={"csrf_token": token}).status_code == 302
    db.session.rollback()
    db.session.refresh(attempt)
    return attempt


def events(attempt, event_type: str | None = None) -> list[AttemptEvent]:
    db.session.rollback()
    return [e for e in integrity.events_of(attempt.id) if event_type is None or e.type == event_type]


def entries(user) -> list[LedgerEntry]:
    db.session.rollback()
    return db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == user.id)).all()


def credit_of(user, course) -> CourseCredit:
    db.session.rollback()
    return db.session.scalar(sa.select(CourseCredit).where(CourseCredit.user_id == user.id,
                                                           CourseCredit.course_id == course.id))


def scripted_pass(client, clock, course, user, device=DEVICE_A):
    """Log in and pass the quiz answering every question 200 ms after the last: the attempt is held."""
    sign_in(client, user)
    attempt = start(client, course, device)
    answer(client, clock, attempt, key_of(attempt), seconds_each=0.2)
    return submit(client, attempt)


# ------------------------------------------------------------------------------------------------ machine speed


def test_a_scripted_attempt_answering_each_question_in_200_ms_is_held_and_posts_no_hours(app, client, tree, clock):
    course = quiz_course(tree)
    learner = learner_ready(course, tree.learner_a)
    attempt = scripted_pass(client, clock, course, learner)
    assert attempt.passed and attempt.hold_state == HoldState.HELD
    assert attempt.risk_score >= integrity.hold_threshold()
    [fast] = events(attempt, "quiz_fast")
    assert fast.values["count"] == 5 and fast.values["of"] == 5
    credit = credit_of(learner, course)
    assert credit.state == CreditState.HELD and "测验记录正在审核" in credit.state_reason
    assert entries(learner) == []
    page = client.get(f"/courses/{course.id}/quiz").get_data(as_text=True)
    assert "待审核后入账" in page
    result = client.get(f"/quiz/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "待审核后入账" in result and integrity.QUIZ_HOLD_REASONS["quiz_fast"] in result


def test_the_timeline_gives_each_question_the_time_since_the_previous_first_answer(app, client, tree, clock):
    course = quiz_course(tree)
    learner = learner_ready(course, tree.learner_a)
    sign_in(client, learner)
    attempt = start(client, course)
    key = key_of(attempt)
    answer(client, clock, attempt, {1: key[1]}, seconds_each=30)
    answer(client, clock, attempt, {2: key[2]}, seconds_each=0.5)
    answer(client, clock, attempt, {1: wrong_of(attempt.questions[0])}, seconds_each=10)  # a change, not a first
    db.session.rollback()
    rows = integrity.timeline(db.session.get(Attempt, attempt.id))
    assert [(r.position, r.given_s) for r in rows[:2]] == [(1, 30.0), (2, 0.5)]
    assert not rows[0].fast and rows[1].fast
    assert rows[0].last_saved_at > rows[0].first_answered_at
    assert [r.first_answered_at for r in rows[2:]] == [None, None, None]


# ------------------------------------------------------------------------------------------------ human speed


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_honest_attempts_at_human_speed_are_never_held(app, tree, data):
    """People behind one address, each on their own device, answer in any order at a reading pace, right or wrong,
    change answers, and come back quickly to at most two questions they had read before: none is ever held.

    Each is in a unit of their own: identical answers among colleagues are a rule of their own (tests below)."""
    course = make_published_course(tree.base_a, hours=(1.0,), category=Category.PROFESSIONAL)
    make_bank(course, singles=4, multiples=2, true_falses=2)
    open_quiz(course, draw_count=6, time_limit_minutes=60, max_attempts=3)
    clock = Clock(app)
    people = data.draw(st.integers(min_value=1, max_value=3))
    settings_now = integrity.integrity_settings()
    for _ in range(people):
        learner = learner_ready(course, make_user(make_org(OrgKind.UNIT, tree.dept_a), Role.LEARNER))
        moment = clock.advance(seconds=data.draw(st.floats(min_value=0, max_value=120)))
        attempt = service.start_attempt(learner, course.id, moment, ip="10.9.9.9", device=f"honest-{uuid.uuid4().hex}")
        integrity.mark_shown(attempt, moment)
        db.session.commit()
        order = data.draw(st.permutations(list(range(1, len(attempt.questions) + 1))))
        quick_returns = set(data.draw(st.lists(st.sampled_from(order), max_size=2, unique=True)))
        for position in order:
            question = attempt.questions[position - 1]
            if position in quick_returns:
                pace = data.draw(st.floats(min_value=0.3, max_value=1.0))
            else:
                pace = integrity.min_read_seconds(question, settings_now) * data.draw(
                    st.floats(min_value=1.0, max_value=5.0))
            clock.advance(seconds=pace)
            choices = data.draw(st.sampled_from([list(question["correct"]), wrong_of(question)]))
            service.save_answer(learner, attempt.id, position, choices, clock.now)
            if data.draw(st.booleans()):  # second thoughts: changing an answer later is not a new reading
                clock.advance(seconds=data.draw(st.floats(min_value=0.1, max_value=3)))
                service.save_answer(learner, attempt.id, position, list(question["correct"]), clock.now)
            db.session.commit()
        service.submit_attempt(learner, attempt.id, clock.advance(seconds=2))
        db.session.commit()
    held = db.session.scalars(sa.select(Attempt).where(Attempt.course_id == course.id,
                                                       Attempt.hold_state != HoldState.NONE)).all()
    assert held == [], [(a.id, [(e.type, e.values) for e in integrity.events_of(a.id)]) for a in held]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttemptEvent).where(
        AttemptEvent.type == "quiz_fast")) == 0


# ------------------------------------------------------------------------------------------------ shared answers


def test_two_colleagues_submitting_identical_answer_sequences_within_a_minute_leave_evidence_on_both(
        app, client, tree, clock):
    course = quiz_course(tree, bank=6, draw=6)
    first = learner_ready(course, tree.learner_a)
    colleague = learner_ready(course, make_user(tree.unit_a, Role.LEARNER))
    elsewhere = learner_ready(course, tree.learner_b)  # another organisation, the same answers

    def canonical_answers(attempt) -> dict[int, list[int]]:
        """Right answers but two fixed wrong ones, translated to this attempt's own order of options."""
        answers = {}
        for position, q in enumerate(attempt.questions, start=1):
            if q["question_id"] in wrong_ids:
                bank_wrong = min(set(range(len(q["options"]))) - bank_correct[q["question_id"]])
                answers[position] = [q["order"].index(bank_wrong)]
            else:
                answers[position] = list(q["correct"])
        return answers

    # Side by side: each in their own browser, answering at the same time, handing in 30 s apart.
    browsers, attempts = [], []
    for person, device in ((first, DEVICE_A), (colleague, DEVICE_B), (elsewhere, "device-cccccccc")):
        browser = app.test_client()
        sign_in(browser, person)
        attempt = start(browser, course, device)
        browsers.append(browser)
        attempts.append(attempt)
    questions = sorted(attempts[0].questions, key=lambda q: q["question_id"])
    wrong_ids = {q["question_id"] for q in questions[:2]}
    bank_correct = {q["question_id"]: {q["order"][c] for c in q["correct"]} for q in questions}
    sheets = [canonical_answers(a) for a in attempts]
    for position in range(1, 7):
        for browser, attempt, sheet in zip(browsers, attempts, sheets, strict=True):
            answer(browser, clock, attempt, {position: sheet[position]}, seconds_each=7)
    for browser, attempt in zip(browsers, attempts, strict=True):
        submit(browser, attempt)
        clock.advance(seconds=30)
    mine, theirs, other_org = attempts
    assert mine.passed and len(mine.wrong_positions) == 2
    [on_mine] = events(mine, "quiz_same_answers")
    [on_theirs] = events(theirs, "quiz_same_answers")
    assert on_mine.values["other"] == theirs.id and on_theirs.values["other"] == mine.id
    assert on_mine.values["wrong"] == 2 and on_mine.values["common"] == 6 and on_mine.values["gap_s"] < 60
    assert events(other_org, "quiz_same_answers") == []


def test_colleagues_who_both_answer_everything_right_leave_no_evidence(app, client, tree, clock):
    course = quiz_course(tree, bank=6, draw=6)
    people = [learner_ready(course, tree.learner_a), learner_ready(course, make_user(tree.unit_a, Role.LEARNER))]
    attempts = []
    for person, device in zip(people, (DEVICE_A, DEVICE_B), strict=True):
        if attempts:
            client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
        sign_in(client, person)
        attempt = start(client, course, device)
        answer(client, clock, attempt, key_of(attempt), seconds_each=20)
        attempts.append(submit(client, attempt))
    assert all(events(a, "quiz_same_answers") == [] and a.hold_state == HoldState.NONE for a in attempts)


# ------------------------------------------------------------------------------------------------ devices, retries


def test_an_attempt_from_a_device_another_account_used_is_evidence_on_both_and_holds(app, client, tree, clock):
    course = quiz_course(tree)
    first = learner_ready(course, tree.learner_a)
    second = learner_ready(course, make_user(tree.unit_a, Role.LEARNER))
    sign_in(client, first)
    one = start(client, course, DEVICE_A)
    answer(client, clock, one, key_of(one), seconds_each=20)
    submit(client, one)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, second)
    two = start(client, course, DEVICE_A)
    db.session.rollback()
    assert [e.values["other"] for e in events(two, "quiz_shared_device")] == [one.id]
    assert [e.values["other"] for e in events(one, "quiz_shared_device")] == [two.id]
    assert db.session.get(Attempt, two.id).hold_state == HoldState.HELD
    # The first account's hours were posted before the evidence came; voiding its attempt takes them back, once.
    assert db.session.get(Attempt, one.id).hold_state == HoldState.HELD
    assert credit_of(first, course).state == CreditState.POSTED and len(entries(first)) == 1
    headers = api_token(client, tree.reviewer)
    body = {"ids": [one.id], "decision": "void", "reason": "同一设备替他人测验"}
    assert client.post("/api/v1/review/attempt-decisions", json=body, headers=headers).status_code == 201
    assert client.post("/api/v1/review/attempt-decisions", json=body, headers=headers).status_code == 409
    assert sorted(e.hours for e in entries(first)) == [-1, 1]
    assert credit_of(first, course).state == CreditState.VOIDED


def test_accounts_behind_one_address_on_their_own_devices_are_not_held(app, client, tree, clock):
    course = quiz_course(tree)
    people = [learner_ready(course, make_user(tree.unit_a, Role.LEARNER)) for _ in range(4)]
    for index, person in enumerate(people):
        if index:
            client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
        sign_in(client, person, address="10.2.2.2")
        attempt = start(client, course, f"device-{index:08d}")
        answer(client, clock, attempt, key_of(attempt), seconds_each=20)
        submit(client, attempt)
    db.session.rollback()
    attempts = db.session.scalars(sa.select(Attempt)).all()
    assert len(attempts) == 4 and all(a.hold_state == HoldState.NONE for a in attempts)
    assert len(events(attempts[-1], "quiz_shared_address")) == 1
    assert all(credit_of(p, course).state == CreditState.POSTED for p in people)


def test_an_attempt_started_within_the_cooldown_is_evidence_and_one_after_it_is_not(app, client, tree, clock):
    app.config["LMS_EXAMS_INTEGRITY"] = {"retry_cooldown_s": 600}
    course = quiz_course(tree, bank=30, draw=3)
    learner = learner_ready(course, tree.learner_a)
    sign_in(client, learner)
    failed = []
    for wait_s in (0, 60, 900):
        clock.advance(seconds=wait_s)
        attempt = start(client, course)
        answer(client, clock, attempt, {p: wrong_of(q) for p, q in enumerate(attempt.questions, start=1)}, 20)
        failed.append(submit(client, attempt))
    assert [len(events(a, "quiz_quick_retry")) for a in failed] == [0, 1, 0]
    assert events(failed[1], "quiz_quick_retry")[0].values["after_s"] == 60


# ------------------------------------------------------------------------------------------------ exposure


def test_a_learner_retrying_to_see_the_whole_bank_is_refused_past_the_setting(app, client, tree, clock):
    app.config["LMS_EXAMS_INTEGRITY"] = {"exposure_max_share": 0.8}
    course = quiz_course(tree, bank=10, draw=3, max_attempts=20)
    learner = learner_ready(course, tree.learner_a)
    sign_in(client, learner)
    quiz = service.quiz_of(course.id)
    for _ in range(20):
        clock.advance(hours=1)
        seen = integrity.exposure(learner.id, quiz.id, course.id)
        attempt = start(client, course)
        if seen.seen >= 8:
            assert attempt is None
            page = client.get(f"/courses/{course.id}/quiz").get_data(as_text=True)
            assert f"已见过本课程题库的 {seen.seen}/10 题" in page and "不能再次测验" in page
            break
        assert attempt is not None, f"refused at {seen.seen}/10 seen"
        answer(client, clock, attempt, {p: wrong_of(q) for p, q in enumerate(attempt.questions, start=1)}, 20)
        submit(client, attempt)
    else:
        pytest.fail("never refused")
    assert "已见过本题库" in client.get(f"/courses/{course.id}/quiz").get_data(as_text=True)


def test_the_base_is_warned_on_its_bank_page_when_the_bank_is_too_small_for_its_draw(app, client, tree):
    small = quiz_course(tree, bank=10, draw=5, max_attempts=3)
    large = quiz_course(tree, bank=20, draw=5, max_attempts=3)
    sign_in(client, tree.admins["base_a"])
    page = client.get(f"/base/courses/{small.id}/quiz").get_data(as_text=True)
    assert 'id="bank-warning"' in page and "最少只能测验 2 次（设置为 3 次）" in page and "建议题库至少 19 题" in page
    assert 'id="bank-warning"' not in client.get(f"/base/courses/{large.id}/quiz").get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ review


def test_a_held_attempt_posts_its_hours_only_when_released_and_exactly_once(app, client, tree, clock):
    course = quiz_course(tree)
    learner = learner_ready(course, tree.learner_a)
    attempt = scripted_pass(client, clock, course, learner)
    assert entries(learner) == []
    headers = api_token(client, tree.reviewer)
    detail = client.get(f"/api/v1/review/attempts/{attempt.id}", headers=headers).get_json()
    assert len(detail["timeline"]) == 5 and all(row["fast"] for row in detail["timeline"])
    assert [e["type"] for e in detail["events"]] == ["quiz_fast"]
    body = {"ids": [attempt.id], "decision": "release", "reason": "核实为本人作答，熟悉题目"}
    url = "/api/v1/review/attempt-decisions"
    barrier, outcomes = threading.Barrier(3), []

    def release():
        browser = app.test_client()
        barrier.wait()
        outcomes.append(browser.post(url, json=body, headers=headers).status_code)

    threads = [threading.Thread(target=release) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # SQLite has one writer at a time: a release that waited too long for the lock fails and changes nothing.
    allowed = {201, 409, 500} if db.engine.dialect.name == "sqlite" else {201, 409}
    assert outcomes.count(201) == 1 and set(outcomes) <= allowed, outcomes
    assert client.post(url, json=body, headers=headers).status_code == 409  # and once more, later
    assert len(entries(learner)) == 1
    assert credit_of(learner, course).state == CreditState.POSTED
    db.session.refresh(attempt)
    assert attempt.hold_state == HoldState.RELEASED
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "attempt.decide")).all()
    assert [(a.object_id, a.reason) for a in audit] == [(str(attempt.id), "核实为本人作答，熟悉题目")]


def test_a_voided_attempt_never_posts_and_the_reviewer_page_shows_its_timeline(app, client, tree, clock):
    course = quiz_course(tree)
    learner = learner_ready(course, tree.learner_a)
    attempt = scripted_pass(client, clock, course, learner)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, tree.reviewer)
    page = client.get(f"/review/attempts/{attempt.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="attempt-timeline"' in text and text.count("（过快）") == 5
    assert f"测验 #{attempt.id}" in client.get("/review/attempts").get_data(as_text=True)
    token = csrf_token(client, f"/review/attempts/{attempt.id}")
    refused = client.post(f"/review/attempts/{attempt.id}/decide", data={"csrf_token": token, "decision": "void",
                                                                          "reason": ""})
    assert refused.status_code == 422
    decided = client.post(f"/review/attempts/{attempt.id}/decide",
                          data={"csrf_token": token, "decision": "void", "reason": "脚本作答"})
    assert decided.status_code == 302
    assert credit_of(learner, course).state == CreditState.VOIDED and entries(learner) == []


def test_only_reviewers_of_the_learners_subtree_see_and_decide_held_attempts(app, client, tree, clock):
    course = quiz_course(tree)
    attempt = scripted_pass(client, clock, course, learner_ready(course, tree.learner_a))
    url = f"/api/v1/review/attempts/{attempt.id}"
    body = {"ids": [attempt.id], "decision": "release", "reason": "理由"}
    county = api_token(client, tree.admins["county"])  # learner_a is in the city's branch, not the county's
    assert client.get(url, headers=county).status_code == 403
    city = api_token(client, tree.admins["city"])
    assert client.get(url, headers=city).status_code == 200
    assert client.post("/api/v1/review/attempt-decisions", json=body, headers=city).status_code == 403
    for user in (tree.learner_a, tree.admins["unit_a"], tree.admins["base_a"]):
        assert client.get(url, headers=api_token(client, user)).status_code == 403
    assert client.get("/api/v1/review/attempts/999999", headers=api_token(client, tree.reviewer)).status_code == 404
    listed = client.get("/api/v1/review/attempts", headers=api_token(client, tree.reviewer)).get_json()
    assert [a["id"] for a in listed] == [attempt.id]
    db.session.rollback()
    assert db.session.get(Attempt, attempt.id).hold_state == HoldState.HELD


def test_the_openapi_document_lists_the_attempt_review_calls(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"/api/v1/review/attempts", "/api/v1/review/attempts/{attempt_id}",
            "/api/v1/review/attempt-decisions"} <= set(paths)
