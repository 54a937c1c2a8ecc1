"""The attempt page in headless Chromium against the real server: keyboard answers saved as the learner goes,
kept across a reload, handed in at the server's deadline by the page itself, and a pass posting the hours.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms.courses.models import Category
from lms.exams import service
from lms.exams.models import Attempt
from lms.extensions import db
from lms.ledger.models import LedgerEntry
from tests.exams import Clock, make_bank, open_quiz
from tests.ledger import mark_watched
from tests.player import enroll, live_server, make_published_course
from tests.support.browser import chromium, log_in


@pytest.fixture
def phone(tree):
    """A phone-sized headless Chromium page (not yet logged in)."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page


def _latest_attempt() -> Attempt:
    db.session.rollback()
    return db.session.scalar(sa.select(Attempt).order_by(Attempt.id.desc()).limit(1))


def test_a_learner_answers_with_the_keyboard_reloads_and_passes_and_the_page_hands_in_at_the_deadline(
        app, tree, phone):
    course = make_published_course(tree.base_a, hours=(1.0,), category=Category.PUBLIC)
    # Ten questions drawing five: after the first attempt the learner has seen half the bank, so may retry.
    make_bank(course, singles=6, multiples=2, true_falses=2)
    open_quiz(course, draw_count=5, time_limit_minutes=30, max_attempts=3)
    enroll(tree.learner_a, course)
    mark_watched(tree.learner_a, course)
    clock = Clock(app)
    page = phone
    with live_server(app) as url:
        log_in(page, url, tree.learner_a)
        page.goto(f"{url}/courses/{course.id}")
        page.click("text=课程测验")

        # First attempt: left unanswered until two seconds before the server's deadline; the page hands it in.
        page.focus("form.actions button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_url("**/quiz/attempts/*")
        first = _latest_attempt()
        clock.advance(minutes=29, seconds=58)
        page.reload()
        page.wait_for_url("**/result")
        assert "未通过" in page.inner_text("main")
        db.session.refresh(first)
        assert first.graded_at is not None and first.score_percent == 0

        # Second attempt: every answer chosen with the keyboard and saved as it is chosen.
        page.goto(f"{url}/courses/{course.id}/quiz")
        page.focus("form.actions button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_url("**/quiz/attempts/*")
        attempt = _latest_attempt()
        assert attempt.id != first.id
        key = {position: q["correct"] for position, q in enumerate(attempt.questions, start=1)}
        for position, choices in key.items():
            clock.advance(seconds=20)  # a person's pace: the integrity rules hold machine-speed answers
            for choice in choices:
                page.focus(f"#q-{position} input[value='{choice}']")
                page.keyboard.press("Space")
            page.wait_for_function(
                f"document.querySelector('#q-{position} [data-role=saved]').textContent === '已保存'")
        db.session.rollback()
        assert service.saved_answers(attempt.id) == key

        page.reload()  # nothing is lost
        checked = page.eval_on_selector_all(
            "fieldset.question", "sets => sets.map(f => Array.from(f.querySelectorAll('input'))"
                                 ".filter(i => i.checked).map(i => Number(i.value)))")
        assert checked == [key[p] for p in sorted(key)]

        page.focus("#submit-button")
        page.keyboard.press("Enter")
        page.wait_for_url("**/result")
        text = page.inner_text("main")
        assert "100 分" in text and "已入账" in text
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 1
