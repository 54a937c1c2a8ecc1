"""Learners' quiz attempts (SPEC §5): gated by watching, timed by the server, graded once, no answer key leaked.

A quiz opens only after every courseware meets its watch requirement. Each attempt draws its own questions and
shuffles their options; no response before submission says which option is right, and none after it shows the
right answers. Answers are saved one by one as the learner goes; after the deadline nothing more is saved and
the attempt is graded on what was saved in time. Passing posts the course's hours to the ledger, exactly once.
"""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from lms.core.db import utcnow
from lms.courses.models import Category
from lms.exams import service
from lms.exams.models import Attempt, AttemptAnswer, ClosedBy, Question, QuestionKind, Quiz
from lms.extensions import db
from lms.ledger.models import CourseCredit, CreditState, LedgerEntry
from lms.tracking.models import HoldState, PlaybackSession
from tests.conftest import csrf_token, login
from tests.exams import Clock, make_bank, open_quiz
from tests.ledger import mark_watched
from tests.player import enroll, make_published_course

LETTERS = "ABCDEFGH"
NOT_WATCHED = "须先完成全部课件的观看要求"


@pytest.fixture
def clock(app):
    return Clock(app)


@pytest.fixture(autouse=True)
def lenient_integrity(app):
    """These tests hold grading, time limits and the ledger; they answer at machine speed and retry at once, which
    the integrity rules (tests/exams/test_integrity.py) would hold or refuse."""
    app.config["LMS_EXAMS_INTEGRITY"] = {"fast_min_count": 10_000, "exposure_max_share": 1.0}


@pytest.fixture
def course(tree):
    """A published 1.5-hour professional course with an 8-question bank, its quiz drawing 5; learner_a enrolled."""
    course = make_published_course(tree.base_a, hours=(1.0, 0.5), category=Category.PROFESSIONAL)
    make_bank(course, singles=4, multiples=2, true_falses=2)
    open_quiz(course, draw_count=5, pass_percent=60, time_limit_minutes=30, max_attempts=3)
    enroll(tree.learner_a, course)
    return course


def quiz_url(course) -> str:
    return f"/courses/{course.id}/quiz"


def start(client, course):
    """Start (or resume) an attempt through the quiz page; return the response of the start request."""
    return client.post(f"{quiz_url(course)}/start", data={"csrf_token": csrf_token(client, quiz_url(course))})


def started(client, course) -> Attempt:
    response = start(client, course)
    match = re.search(r"/quiz/attempts/(\d+)$", response.headers.get("Location", ""))
    assert response.status_code == 302 and match, response.get_data(as_text=True)
    return db.session.get(Attempt, int(match.group(1)))


def save(client, attempt, position, choices, token=None):
    token = token or csrf_token(client, f"/quiz/attempts/{attempt.id}")
    return client.post(f"/api/v1/quiz/attempts/{attempt.id}/answers", json={"question": position, "choices": choices},
                       headers={"X-CSRFToken": token})


def submit(client, attempt, answers: dict[int, list[int]] | None = None, token=None):
    token = token or csrf_token(client, quiz_url(attempt.course))
    data = {"csrf_token": token}
    if answers is not None:
        data["sheet"] = "1"
        data.update({f"q{position}": [str(c) for c in choices] for position, choices in answers.items()})
    return client.post(f"/quiz/attempts/{attempt.id}/submit", data=data)


def right_answers(attempt) -> dict[int, list[int]]:
    """The answer key, read from the database (never from a response)."""
    db.session.refresh(attempt)
    return {position: list(q["correct"]) for position, q in enumerate(attempt.questions, start=1)}


def a_wrong_answer(question: dict) -> list[int]:
    return [next(i for i in range(len(question["options"])) if i not in question["correct"])]


def ledger_entries(user) -> list[LedgerEntry]:
    db.session.rollback()
    return db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == user.id)).all()


def saved(attempt) -> dict[int, list[int]]:
    db.session.rollback()
    return service.saved_answers(attempt.id)


# ------------------------------------------------------------------------------------------------ the answer key


ALLOWED_JSON_KEYS = {"id", "state", "remaining_seconds", "answers", "saved", "question", "choices",
                     "error", "code", "message", "fields"}
FIELDSET = re.compile(r'<fieldset class="card question" id="q-(\d+)"[^>]*>(.*?)</fieldset>', re.S)
OPTION = re.compile(r'<label class="option">(.*?)</label>', re.S)


def _json_keys(value, path="") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if path.endswith("answers"):
                assert key.isdigit(), f"unexpected key {key!r} under {path}"
            else:
                assert key in ALLOWED_JSON_KEYS, f"unexpected key {key!r} at {path or 'top'}"
            _json_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            _json_keys(item, path)


def assert_no_answer_key(body: str, attempt: Attempt, is_json: bool) -> None:
    """Fail if a response marks the right options in any way.

    JSON may carry only the documented keys. On a page, the markup of every option of a question must be the
    same once its own text, letter, value and the learner's own ``checked`` are blanked out, so no attribute,
    class or hidden field can single out the right one; and no option text may appear outside its label.
    """
    assert "correct" not in body.lower()
    if is_json:
        _json_keys(json.loads(body))
        return
    tokens = [text for q in attempt.questions if q["kind"] != "true_false" for text in q["options"]]
    for position, block in FIELDSET.findall(body):
        question = attempt.questions[int(position) - 1]
        labels = OPTION.findall(block)
        assert len(labels) == len(question["options"])
        shapes = set()
        for index, (label, text) in enumerate(zip(labels, question["options"], strict=True)):
            assert text in label
            shapes.add(label.replace(text, "TEXT").replace(f'value="{index}"', 'value="N"')
                       .replace(f"{LETTERS[index]}. ", "L. ").replace(" checked", ""))
        assert len(shapes) == 1, f"question {position}'s options differ in markup: {shapes}"
        assert not any(text in OPTION.sub("", block) for text in tokens)
    outside = FIELDSET.sub("", body)
    assert not any(text in outside for text in tokens), "an option's text appears outside the questions"


def assert_no_options_shown(body: str, attempt: Attempt) -> None:
    """After submission: no option of any drawn question is shown at all, so right answers cannot be harvested."""
    assert "correct" not in body.lower()
    for question in attempt.questions:
        if question["kind"] != "true_false":
            assert not any(text in body for text in question["options"]), "the result shows options"


def test_no_response_of_an_attempt_reveals_the_answer_key(client, tree, course):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    before, after = [], []

    def record(response, into):
        assert response.status_code < 500
        into.append((response.get_data(as_text=True), response.is_json))
        return response

    record(client.get(quiz_url(course)), before)
    attempt = started(client, course)
    page = record(client.get(f"/quiz/attempts/{attempt.id}"), before).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    record(client.get(f"/api/v1/quiz/attempts/{attempt.id}"), before)
    for position, question in enumerate(attempt.questions, start=1):
        choices = question["correct"] if position % 2 else a_wrong_answer(question)
        assert record(save(client, attempt, position, choices, token), before).status_code == 200
    record(save(client, attempt, 1, [99], token), before)  # an error answer is scanned too
    record(client.get(f"/quiz/attempts/{attempt.id}"), before)  # the reload, with the saved answers checked
    record(client.get(f"/api/v1/quiz/attempts/{attempt.id}"), before)
    assert submit(client, attempt).status_code == 302
    record(client.get(f"/quiz/attempts/{attempt.id}/result"), after)
    record(client.get(f"/quiz/attempts/{attempt.id}"), after)
    record(client.get(quiz_url(course)), after)
    record(client.get(f"/api/v1/quiz/attempts/{attempt.id}"), after)

    db.session.refresh(attempt)
    for body, is_json in before:
        assert_no_answer_key(body, attempt, is_json)
    for body, _is_json in after:
        assert_no_options_shown(body, attempt)
    result = after[0][0]
    assert f"{attempt.score_percent} 分" in result and result.count("答错") == len(attempt.wrong_positions) == 2

    # The checks above would catch a leak: a page marking the right option, or JSON naming it, fails them.
    page_body = next(body for body, is_json in before if 'class="card question"' in body)
    first = next(q for q in attempt.questions if q["kind"] != "true_false")
    right_text = first["options"][first["correct"][0]]
    marked = page_body.replace(f"<span>{LETTERS[first['correct'][0]]}. {right_text}",
                               f'<span data-k="1">{LETTERS[first["correct"][0]]}. {right_text}', 1)
    assert marked != page_body
    with pytest.raises(AssertionError):
        assert_no_answer_key(marked, attempt, is_json=False)
    with pytest.raises(AssertionError):
        assert_no_answer_key(json.dumps({"saved": True, "key": [0]}), attempt, is_json=True)
    with pytest.raises(AssertionError):
        assert_no_options_shown(result + right_text, attempt)


def test_each_attempt_draws_its_own_questions_and_shuffles_options_consistently(client, tree, course):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    bank = {q.id: q for q in db.session.scalars(sa.select(Question))}
    draws = []
    for _ in range(2):
        attempt = started(client, course)
        assert submit(client, attempt).status_code == 302  # nothing answered: a fail, so another may start
        draws.append(attempt.questions)
        assert len(attempt.questions) == 5 and len({q["question_id"] for q in attempt.questions}) == 5
        for drawn in attempt.questions:
            source = bank[drawn["question_id"]]
            assert sorted(drawn["options"]) == sorted(source.options)
            assert {drawn["options"][i] for i in drawn["correct"]} == {source.options[i] for i in source.correct}
    assert draws[0] != draws[1]


# ------------------------------------------------------------------------------------------------ gating


def test_the_quiz_opens_only_after_every_courseware_is_watched(client, tree, course):
    login(client, tree.learner_a)
    assert NOT_WATCHED in client.get(quiz_url(course)).get_data(as_text=True)
    response = start(client, course)
    assert response.status_code == 302
    assert NOT_WATCHED in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0
    mark_watched(tree.learner_a, course)
    assert started(client, course).number == 1
    assert f'href="{quiz_url(course)}"' in client.get(f"/courses/{course.id}").get_data(as_text=True)


def test_a_learner_not_enrolled_or_a_closed_quiz_starts_nothing_new(client, tree, course):
    mark_watched(tree.learner_b, course)
    login(client, tree.learner_b)
    response = client.get(quiz_url(course))
    assert response.status_code == 403 and "请先选修本课程" in response.get_data(as_text=True)
    enroll(tree.learner_b, course)
    attempt = started(client, course)
    db.session.scalar(sa.select(Quiz)).is_open = False
    db.session.commit()
    # Closing the quiz stops new attempts; the one in progress may still be finished and handed in.
    assert f"/quiz/attempts/{attempt.id}" in client.get(quiz_url(course)).get_data(as_text=True)
    assert submit(client, attempt).status_code == 302
    assert "本课程的测验尚未开放" in client.get(quiz_url(course)).get_data(as_text=True)
    assert "本课程的测验尚未开放" in client.get(start(client, course).headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 1


# ------------------------------------------------------------------------------------------------ time limit


def test_answers_after_the_deadline_are_refused_and_the_attempt_is_graded_on_those_saved_in_time(
        client, tree, course, clock):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    key = right_answers(attempt)
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    clock.advance(minutes=29, seconds=59)
    assert save(client, attempt, 1, key[1], token).status_code == 200
    clock.advance(seconds=1)  # the deadline
    response = save(client, attempt, 2, key[2], token)
    assert response.status_code == 409 and "已超过答题时限，答案未保存" in response.get_json()["error"]["message"]
    assert saved(attempt) == {1: key[1]}
    # The refused save touched the attempt: it is closed and graded on the one answer saved in time.
    db.session.refresh(attempt)
    assert (attempt.closed_by, attempt.correct_count, attempt.passed) == (ClosedBy.TIMED_OUT, 1, False)
    clock.advance(minutes=1)
    assert submit(client, attempt, key, token).status_code == 302  # a late answer sheet changes nothing
    db.session.refresh(attempt)
    assert (attempt.correct_count, saved(attempt)) == (1, {1: key[1]})


def test_a_late_submission_is_graded_on_what_was_saved_in_time(client, tree, course, clock):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    key = right_answers(attempt)
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    for position in (1, 2):
        assert save(client, attempt, position, key[position], token).status_code == 200
    clock.advance(minutes=31)
    response = submit(client, attempt, key, token)  # every answer right, but a minute late
    assert response.status_code == 302 and response.headers["Location"].endswith("/result")
    db.session.refresh(attempt)
    assert (attempt.closed_by, attempt.correct_count, attempt.score_percent, attempt.passed) == \
        (ClosedBy.TIMED_OUT, 2, 40, False)
    assert saved(attempt) == {1: key[1], 2: key[2]} and ledger_entries(tree.learner_a) == []


def test_an_attempt_left_open_past_its_deadline_is_graded_when_the_quiz_page_is_next_read(
        client, tree, course, clock):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    for position, choices in right_answers(attempt).items():
        assert save(client, attempt, position, choices, token).status_code == 200
    clock.advance(hours=5)
    db.session.refresh(attempt)
    assert attempt.graded_at is None
    page = client.get(quiz_url(course)).get_data(as_text=True)
    assert "您已通过本课程测验" in page and "已入账" in page
    db.session.refresh(attempt)
    assert (attempt.closed_by, attempt.score_percent, attempt.passed) == (ClosedBy.TIMED_OUT, 100, True)
    [entry] = ledger_entries(tree.learner_a)
    assert (entry.category, entry.hours) == (Category.PROFESSIONAL, Decimal("1.5"))


# ------------------------------------------------------------------------------------------------ limits


def test_the_attempt_limit_and_the_wait_between_attempts_are_enforced(client, tree, course, clock):
    quiz = db.session.scalar(sa.select(Quiz))
    quiz.max_attempts, quiz.wait_minutes = 2, 30
    db.session.commit()
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    first = started(client, course)
    assert started(client, course).id == first.id  # starting again resumes the attempt in progress
    assert submit(client, first).status_code == 302
    clock.advance(minutes=29)
    response = start(client, course)
    assert "两次测验之间须间隔 30 分钟" in client.get(response.headers["Location"]).get_data(as_text=True)
    clock.advance(minutes=1)
    second = started(client, course)
    assert second.number == 2 and submit(client, second).status_code == 302
    clock.advance(days=1)
    response = start(client, course)
    assert "测验次数已用完（每人最多 2 次）" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 2


# ------------------------------------------------------------------------------------------------ bad requests


def test_someone_elses_attempt_is_not_found_and_nothing_changes(client, tree, course):
    mark_watched(tree.learner_a, course)
    enroll(tree.learner_b, course)
    mark_watched(tree.learner_b, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    client.post("/logout", data={"csrf_token": csrf_token(client, quiz_url(course))})
    login(client, tree.learner_b)
    token = csrf_token(client, quiz_url(course))
    responses = [client.get(f"/quiz/attempts/{attempt.id}"), client.get(f"/quiz/attempts/{attempt.id}/result"),
                 client.get(f"/api/v1/quiz/attempts/{attempt.id}"), save(client, attempt, 1, [0], token),
                 submit(client, attempt, {1: [0]}, token)]
    assert [r.status_code for r in responses] == [404] * 5
    assert responses[3].get_json()["error"]["message"] == "测验记录不存在。"
    db.session.refresh(attempt)
    assert attempt.graded_at is None and saved(attempt) == {}
    client.post("/logout", data={"csrf_token": token})
    login(client, tree.admins["base_a"])
    assert client.get(f"/quiz/attempts/{attempt.id}").status_code == 403
    assert client.get(f"/api/v1/quiz/attempts/{attempt.id}").status_code == 403


OUT_OF_RANGE = [
    ({"question": 0, "choices": [0]}, "题号应为 1–8 之间的整数"),
    ({"question": 9, "choices": [0]}, "题号应为 1–8 之间的整数"),
    ({"question": "1", "choices": [0]}, "题号应为 1–8 之间的整数"),
    ({"question": True, "choices": [0]}, "题号应为 1–8 之间的整数"),
    ({"question": "single", "choices": [4]}, "题只有 4 个选项，所选答案不在其中"),
    ({"question": "true_false", "choices": [2]}, "题只有 2 个选项，所选答案不在其中"),
    ({"question": "single", "choices": [-1]}, "题只有 4 个选项，所选答案不在其中"),
    ({"question": "single", "choices": [0, 1]}, "题是单选题，只能选一个答案"),
    ({"question": "true_false", "choices": [0, 1]}, "题是判断题，只能选一个答案"),
    ({"question": "multiple", "choices": [1, 1]}, "题的答案中有重复的选项"),
    ({"question": "single", "choices": [True]}, "所选答案应为选项序号的列表"),
    ({"question": "single", "choices": "A"}, "所选答案应为选项序号的列表"),
    ({"question": "multiple", "choices": [0.0]}, "所选答案应为选项序号的列表"),
    (["not", "an", "object"], "请求体应为 JSON 对象"),
]


def test_out_of_range_answers_are_refused_and_nothing_is_saved(client, tree, course):
    db.session.scalar(sa.select(Quiz)).draw_count = 8  # the whole bank: every kind of question is drawn
    db.session.commit()
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    for body, message in OUT_OF_RANGE:
        if isinstance(body, dict) and body["question"] in ("single", "multiple", "true_false"):
            position = next(p for p, q in enumerate(attempt.questions, start=1) if q["kind"] == body["question"])
            body = {**body, "question": position}
        response = client.post(f"/api/v1/quiz/attempts/{attempt.id}/answers", json=body,
                               headers={"X-CSRFToken": token})
        assert response.status_code == 422, body
        assert message in response.get_json()["error"]["message"]
    assert saved(attempt) == {}


def test_an_answer_without_the_pages_csrf_token_is_refused(client, tree, course):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    response = client.post(f"/api/v1/quiz/attempts/{attempt.id}/answers", json={"question": 1, "choices": [0]})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    assert saved(attempt) == {}


# ------------------------------------------------------------------------------------------------ grading, ledger


def test_passing_posts_the_courses_hours_and_the_result_says_so(client, tree, course):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    key = right_answers(attempt)
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    wrong_first = a_wrong_answer(attempt.questions[0])
    for position, choices in key.items():
        response = save(client, attempt, position, wrong_first if position == 1 else choices, token)
        assert response.status_code == 200
        token = response.headers["X-CSRFToken"]  # each answer brings the page a fresh token, which works
    page = client.get(f"/quiz/attempts/{attempt.id}").get_data(as_text=True)  # a reload keeps every answer
    assert page.count(" checked>") == sum(len(c) for c in key.values()) - len(key[1]) + 1
    response = submit(client, attempt, token=token)
    result = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "80 分" in result and "通过" in result and "已入账" in result and result.count("答错") == 1
    [entry] = ledger_entries(tree.learner_a)
    assert (entry.category, entry.hours) == (Category.PROFESSIONAL, Decimal("1.5"))
    credit = db.session.scalar(sa.select(CourseCredit))
    assert (credit.state, credit.attempt_id) == (CreditState.POSTED, attempt.id)
    assert "您已通过本课程测验" in client.get(quiz_url(course)).get_data(as_text=True)
    response = start(client, course)
    assert "您已通过本课程测验" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_pass_while_a_session_is_held_for_review_holds_the_credit(client, tree, course):
    mark_watched(tree.learner_a, course)
    db.session.add(PlaybackSession(public_id="held-1", user_id=tree.learner_a.id,
                                   courseware_id=course.coursewares[0].id, started_at=utcnow(),
                                   hold_state=HoldState.HELD, credited_seconds=100))
    db.session.commit()
    login(client, tree.learner_a)
    attempt = started(client, course)
    response = submit(client, attempt, right_answers(attempt))
    result = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "100 分" in result and "待审核后入账" in result and "本课程有观看记录正在审核" in result
    assert db.session.scalar(sa.select(CourseCredit.state)) == CreditState.HELD
    assert ledger_entries(tree.learner_a) == []


def test_parallel_submissions_of_one_attempt_grade_it_once_and_post_one_entry(app, client, tree, course):
    mark_watched(tree.learner_a, course)
    login(client, tree.learner_a)
    attempt = started(client, course)
    key = right_answers(attempt)
    token = csrf_token(client, f"/quiz/attempts/{attempt.id}")
    cookie = client.get_cookie("lms_session").value
    form = {"csrf_token": token, "sheet": "1", **{f"q{p}": [str(c) for c in choices] for p, choices in key.items()}}
    url = f"/quiz/attempts/{attempt.id}/submit"
    threads_count = 8
    barrier, outcomes, errors = threading.Barrier(threads_count), [], []

    def submit_in_parallel():
        browser = app.test_client()  # one browser tab each, sharing the learner's session
        browser.set_cookie("lms_session", cookie)
        barrier.wait()
        try:
            outcomes.append(browser.post(url, data=form).status_code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit_in_parallel) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # SQLite has one writer at a time; one that waited too long says "locked" and changed nothing.
    assert all("locked" in str(e) and db.engine.dialect.name == "sqlite" for e in errors), errors
    assert len(outcomes) + len(errors) == threads_count and outcomes and set(outcomes) == {302}
    db.session.rollback()
    db.session.refresh(attempt)
    assert (attempt.closed_by, attempt.score_percent) == (ClosedBy.SUBMITTED, 100)
    assert len(ledger_entries(tree.learner_a)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CourseCredit)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttemptAnswer)) == 5


# ------------------------------------------------------------------------------------------------ attention checks


def test_attention_questions_come_from_single_choice_and_true_false_questions(app, tree):
    course = make_published_course(tree.base_a, hours=(1.0,))
    assert service.attention_question(course.id) is None
    make_bank(course, singles=0, multiples=2, true_falses=0)
    assert service.attention_question(course.id) is None
    [single] = make_bank(course, singles=1, multiples=0, true_falses=0)
    for _ in range(5):
        picked = service.attention_question(course.id)
        assert picked["prompt"] == single.prompt and sorted(picked["options"]) == sorted(single.options)
        assert picked["options"][picked["answer"]] == single.options[single.correct[0]]
    [true_false] = make_bank(course, singles=0, multiples=0, true_falses=1)
    db.session.delete(db.session.get(Question, single.id))
    db.session.commit()
    picked = service.attention_question(course.id)
    assert (picked["options"], picked["answer"]) == (["正确", "错误"], true_false.correct[0])
    assert QuestionKind.TRUE_FALSE.label == "判断题"
