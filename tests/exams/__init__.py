"""Helpers for the quiz tests: a bank of questions with unmistakable option texts, an open quiz, a test clock."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from lms.core.db import utcnow
from lms.exams.models import Question, QuestionKind, Quiz
from lms.extensions import db

_serial = itertools.count(1)


def make_bank(course, singles: int = 3, multiples: int = 1, true_falses: int = 1) -> list[Question]:
    """Add questions to the course's bank; every option text is unique, so a leak of it can be searched for."""
    questions = []
    for kind, count in ((QuestionKind.SINGLE, singles), (QuestionKind.MULTIPLE, multiples),
                        (QuestionKind.TRUE_FALSE, true_falses)):
        for _ in range(count):
            number = next(_serial)
            if kind == QuestionKind.TRUE_FALSE:
                options, correct = ["正确", "错误"], [number % 2]
            else:
                options = [f"选项{number}-{letter}-{uuid.uuid4().hex[:10]}" for letter in "ABCD"]
                correct = [number % 4] if kind == QuestionKind.SINGLE else sorted({number % 4, (number + 1) % 4})
            questions.append(Question(course_id=course.id, kind=kind, prompt=f"第{number}题：{kind.label}题干",
                                      options=options, correct=correct))
    db.session.add_all(questions)
    db.session.commit()
    return questions


def open_quiz(course, *, draw_count: int = 5, pass_percent: int = 60, time_limit_minutes: int = 30,
              max_attempts: int = 3, wait_minutes: int = 0) -> Quiz:
    """Save the course's quiz settings directly and open the quiz."""
    quiz = Quiz(course_id=course.id, draw_count=draw_count, pass_percent=pass_percent,
                time_limit_minutes=time_limit_minutes, max_attempts=max_attempts, wait_minutes=wait_minutes,
                is_open=True)
    db.session.add(quiz)
    db.session.commit()
    return quiz


class Clock:
    """The quiz service's clock (``LMS_EXAMS_CLOCK``), moved by the test instead of sleeping."""

    def __init__(self, app):
        self.now = utcnow()
        app.config["LMS_EXAMS_CLOCK"] = lambda: self.now

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
