"""Attention checks ask a question from the course's bank when it has one (issue 4), never revealing the answer."""

from __future__ import annotations

import json

import pytest

from lms.accounts.models import Role
from lms.exams.models import Question, QuestionKind
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.tracking import service
from tests.conftest import make_org, make_user
from tests.tracking import Player, configure, make_ready_courseware, media


@pytest.fixture
def clock(app):
    return configure(app)


@pytest.fixture
def fixed_checks(monkeypatch):
    monkeypatch.setattr(service, "_draw_check_ms", lambda settings: 20_000)
    monkeypatch.setattr(service, "_check_code", lambda: "4821")


@pytest.fixture
def banked(app):
    """A learner, and a courseware whose course has one true/false question (right answer: 错误)."""
    base = make_org(OrgKind.BASE, make_org(OrgKind.DEPARTMENT, make_org(OrgKind.PROVINCE_HR)))
    learner = make_user(make_org(OrgKind.UNIT, base.parent), Role.LEARNER)
    courseware = make_ready_courseware(base, [learner])
    db.session.add(Question(course_id=courseware.course_id, kind=QuestionKind.TRUE_FALSE,
                            prompt="学时可以结转到下一年度使用。", options=["正确", "错误"], correct=[1]))
    db.session.commit()
    return learner, courseware


def _check(player: Player) -> dict:
    acks = player.play(20)
    assert acks[-1]["check"] is not None
    return acks[-1]["check"]


def test_a_check_asks_a_bank_question_and_the_ack_never_holds_its_answer(clock, fixed_checks, banked):
    learner, courseware = banked
    player = Player.open(clock, learner.id, media(courseware.id))
    check = _check(player)
    assert check["prompt"] == "学时可以结转到下一年度使用。" and "code" not in check
    assert check["options"] == [{"value": "0", "label": "A. 正确"}, {"value": "1", "label": "B. 错误"}]
    assert "4821" not in json.dumps(player.acks, ensure_ascii=False)
    again = player.beat(5.0, 0.0, playing=False)["check"]  # still waiting: the same question again
    assert again == {**check, "expires_in_s": again["expires_in_s"]}
    answer = player.answer(check, "1")
    assert answer["result"] == "passed" and answer["confirmed_s"] == 20.0


def test_a_wrong_option_or_the_old_code_is_a_wrong_answer(clock, fixed_checks, banked):
    learner, courseware = banked
    player = Player.open(clock, learner.id, media(courseware.id))
    assert player.answer(_check(player), "4821")["result"] == "wrong"
    assert player.answer(_check(player), "0")["result"] == "wrong"


def test_without_a_bank_the_check_shows_a_code_to_type(clock, fixed_checks, banked):
    learner, courseware = banked
    db.session.query(Question).delete()
    db.session.commit()
    player = Player.open(clock, learner.id, media(courseware.id))
    check = _check(player)
    assert check["code"] == "4821" and "options" not in check
    assert player.answer(check)["result"] == "passed"
