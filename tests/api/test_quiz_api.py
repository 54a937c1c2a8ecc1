"""The learner's quiz through the API: the same attempts and grading as the pages, and the same integrity evidence
(per-question timing from the moment the questions leave the server, shared devices), with no way around it."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import Role
from lms.exams import integrity
from lms.exams.models import Attempt, AttemptAnswer
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.tracking.models import HoldState
from tests.api import bearer, error_of
from tests.conftest import make_org, make_user
from tests.exams import Clock
from tests.exams.test_integrity import DEVICE_A, events, key_of, learner_ready, quiz_course, scripted_pass


def _api_client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _start(client, headers, course, device=None):
    response = client.post(f"/api/v1/my/courses/{course.id}/quiz/attempts", json={"device": device}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _answer_all(client, headers, clock, attempt_id, answers, seconds_each):
    for number, choices in answers.items():
        clock.advance(seconds=seconds_each)
        response = client.put(f"/api/v1/my/quiz-attempts/{attempt_id}/answers/{number}", json={"choices": choices},
                              headers=headers)
        assert response.status_code == 200, response.get_json()


def test_a_learner_takes_the_quiz_through_the_api_and_the_questions_never_carry_the_answers(app, tree):
    clock = Clock(app)
    course = quiz_course(tree)
    learner = learner_ready(course, tree.learner_a)
    client = _api_client(app, "10.3.3.3")
    headers = bearer(app, client, learner)
    state = client.get(f"/api/v1/my/courses/{course.id}/quiz", headers=headers).get_json()
    assert state["may_start"] and state["quiz"]["draw_count"] == 5 and state["attempts"] == []

    started = _start(client, headers, course, device="api-device-0001")
    assert started["state"] == "open" and not started["questions_sent"]
    assert _start(client, headers, course)["id"] == started["id"]  # resumed, not a second attempt
    attempt = db.session.get(Attempt, started["id"])
    assert (attempt.ip, attempt.device_id) == ("10.3.3.3", "api-device-0001")

    early = client.put(f"/api/v1/my/quiz-attempts/{attempt.id}/answers/1", json={"choices": [0]}, headers=headers)
    assert early.status_code == 409 and "请先取得本次测验的题目" in error_of(early)["message"]
    assert db.session.scalars(sa.select(AttemptAnswer)).all() == []

    shown = client.get(f"/api/v1/my/quiz-attempts/{attempt.id}/questions", headers=headers)
    assert shown.headers["Cache-Control"] == "no-store"
    questions = shown.get_json()["questions"]
    assert len(questions) == 5 and all(set(q) == {"number", "kind", "kind_label", "prompt", "options", "chosen"}
                                       for q in questions)
    assert "correct" not in shown.get_data(as_text=True) and '"order"' not in shown.get_data(as_text=True)

    url = f"/api/v1/my/quiz-attempts/{attempt.id}/answers/1"
    assert error_of(client.put(url, json={"choices": "A"}, headers=headers))["fields"]["choices"].startswith("所选答案")
    out_of_range = client.put(f"/api/v1/my/quiz-attempts/{attempt.id}/answers/9", json={"choices": [0]},
                              headers=headers)
    assert out_of_range.status_code == 422 and "题号应为 1–5" in error_of(out_of_range)["message"]
    other = bearer(app, client, tree.learner_b)
    assert client.get(f"/api/v1/my/quiz-attempts/{attempt.id}/questions", headers=other).status_code == 404
    assert client.get(f"/api/v1/my/quiz-attempts/{attempt.id}/questions").status_code == 401
    not_yet = client.get(f"/api/v1/my/quiz-attempts/{attempt.id}/result", headers=headers)
    assert not_yet.status_code == 409 and error_of(not_yet)["message"] == "本次测验还没有交卷。"

    _answer_all(client, headers, clock, attempt.id, key_of(attempt), seconds_each=30)
    result = client.post(f"/api/v1/my/quiz-attempts/{attempt.id}/submit", json={}, headers=headers).get_json()
    assert result["passed"] and result["score_percent"] == 100 and not result["held"]
    assert result["credit"]["state"] == "posted"
    assert client.get(f"/api/v1/my/quiz-attempts/{attempt.id}/result", headers=headers).get_json() == result
    late = client.put(url, json={"choices": [0]}, headers=headers)
    assert late.status_code == 409 and "已经交卷" in error_of(late)["message"]


def test_the_api_path_records_the_same_timing_evidence_as_the_pages(app, client, tree):
    """A script answering every question 200 ms after the last is held whether it uses the pages or the API."""
    clock = Clock(app)
    course = quiz_course(tree)
    page_learner = learner_ready(course, tree.learner_a)
    api_learner = learner_ready(course, make_user(make_org(OrgKind.UNIT, tree.dept_b), Role.LEARNER))
    by_page = scripted_pass(client, clock, course, page_learner)

    api = _api_client(app, "10.4.4.4")
    headers = bearer(app, api, api_learner)
    clock.advance(minutes=30)
    started = _start(api, headers, course, device="api-device-0002")
    api.get(f"/api/v1/my/quiz-attempts/{started['id']}/questions", headers=headers)
    attempt = db.session.get(Attempt, started["id"])
    _answer_all(api, headers, clock, attempt.id, key_of(attempt), seconds_each=0.2)
    result = api.post(f"/api/v1/my/quiz-attempts/{attempt.id}/submit", json={}, headers=headers).get_json()

    db.session.rollback()
    by_api = db.session.get(Attempt, attempt.id)
    assert by_page.hold_state == by_api.hold_state == HoldState.HELD
    assert result["held"] and result["credit"]["state"] == "held"
    assert result["hold_reasons"] == integrity.hold_reasons(by_api.id) and result["hold_reasons"]
    [page_fast], [api_fast] = events(by_page, "quiz_fast"), events(by_api, "quiz_fast")
    assert (api_fast.values["count"], api_fast.values["of"]) == (page_fast.values["count"], page_fast.values["of"])
    assert [round(r.given_s, 1) for r in integrity.timeline(by_api)] == [0.2] * 5


def test_an_answer_sheet_handed_in_with_the_submission_counts_as_answered_at_that_moment(app, tree):
    """Sending every answer at hand-in (as the page's sheet can) gives them one moment: too fast to be read."""
    clock = Clock(app)
    course = quiz_course(tree)
    learner = learner_ready(course, tree.learner_a)
    client = _api_client(app, "10.5.5.5")
    headers = bearer(app, client, learner)
    attempt_id = _start(client, headers, course)["id"]
    sheet = {str(n): choices for n, choices in key_of(db.session.get(Attempt, attempt_id)).items()}
    unseen = client.post(f"/api/v1/my/quiz-attempts/{attempt_id}/submit", json={"answers": sheet}, headers=headers)
    assert unseen.status_code == 409 and "请先取得本次测验的题目" in error_of(unseen)["message"]
    client.get(f"/api/v1/my/quiz-attempts/{attempt_id}/questions", headers=headers)
    clock.advance(seconds=120)
    bad = client.post(f"/api/v1/my/quiz-attempts/{attempt_id}/submit", json={"answers": {"一": [0]}}, headers=headers)
    assert bad.status_code == 422 and "题号" in error_of(bad)["message"]
    result = client.post(f"/api/v1/my/quiz-attempts/{attempt_id}/submit", json={"answers": sheet},
                         headers=headers).get_json()
    assert result["passed"] and result["held"]
    attempt = db.session.get(Attempt, attempt_id)
    assert [e.type for e in events(attempt, "quiz_fast")] == ["quiz_fast"]


def test_another_accounts_attempt_from_the_same_device_through_the_api_leaves_evidence(app, client, tree):
    clock = Clock(app)
    course = quiz_course(tree)
    first = learner_ready(course, tree.learner_a)
    second = learner_ready(course, make_user(make_org(OrgKind.UNIT, tree.dept_b), Role.LEARNER))
    scripted_pass(client, clock, course, first, device=DEVICE_A)
    api = _api_client(app, "10.6.6.6")
    started = _start(api, bearer(app, api, second), course, device=DEVICE_A)
    attempt = db.session.get(Attempt, started["id"])
    assert [e.values["account"] for e in events(attempt, "quiz_shared_device")] == [first.id]
