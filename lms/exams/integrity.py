"""Quiz integrity: per-question timing, evidence on attempts, the risk score that holds them, pool exposure.

The server is the judge of time here as in watching (SPEC §3). The attempt page shows all of an attempt's
questions at once; the server records when it first sent them (``Attempt.shown_at``) and when each question was
first answered (``AttemptAnswer.first_saved_at``, the page saves every answer as it is chosen). A person reads and
answers one question at a time, so each question is given the time between the previous first answer (or the
moment the questions were shown) and its own first answer. These spans are disjoint on the server's clock: a
script that wants every answer to look read must really spend the sum of the reading times.

Evidence events (``AttemptEvent``) carry risk points; an attempt whose points reach the hold threshold of the
watch-time rules (``TrackingSettings.hold_threshold``) is *held*: its course hours are not posted until a reviewer
releases it (``lms.review.attempts``). Weights and limits are settings (``app.config["LMS_EXAMS_INTEGRITY"]``,
a dict overriding ``IntegritySettings`` by name), documented in ``docs/exams.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from lms.accounts.models import User
from lms.exams.models import Attempt, AttemptAnswer, AttemptEvent, Question
from lms.extensions import db
from lms.notices import notify_on
from lms.tracking.models import HoldState

DEVICE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class IntegritySettings:
    """The quiz integrity knobs; ``app.config["LMS_EXAMS_INTEGRITY"]`` overrides them by name."""

    # The least time a person needs for one question: a fixed part (find it, click) plus its text (prompt and
    # options) at a fast reader's pace. Chinese is read at roughly 5–8 characters a second; 25 is skimming.
    read_base_s: float = 1.5
    read_chars_per_s: float = 25.0
    # An attempt is "too fast" when at least this many answers, and this share of its answers, came faster.
    fast_min_count: int = 3
    fast_min_share: float = 0.5
    # Colleagues (same organisation) handing in the same answers within this window; the shared answers must
    # include wrong ones, since two people who know everything answer alike honestly.
    same_answers_window_s: float = 600.0
    same_answers_min_common: int = 5
    same_answers_min_wrong: int = 1
    # Another account's attempt from the same device or address within this window.
    shared_window_s: float = 86400.0
    # A new attempt of the same quiz started sooner than this after the previous one ended.
    retry_cooldown_s: float = 600.0
    # A further attempt is refused once the person has seen this share of the bank (1.0: never refused).
    exposure_max_share: float = 0.8

    def __post_init__(self):
        if self.read_base_s < 0 or self.read_chars_per_s <= 0 or self.fast_min_count < 1:
            raise ValueError("LMS_EXAMS_INTEGRITY 设置无效：read_base_s >= 0, read_chars_per_s > 0, "
                             "fast_min_count >= 1")
        if not 0 < self.fast_min_share <= 1 or not 0 < self.exposure_max_share <= 1:
            raise ValueError("LMS_EXAMS_INTEGRITY 设置无效：0 < fast_min_share <= 1, 0 < exposure_max_share <= 1")
        if self.same_answers_min_common < 1 or self.same_answers_min_wrong < 0:
            raise ValueError("LMS_EXAMS_INTEGRITY 设置无效：same_answers_min_common >= 1, same_answers_min_wrong >= 0")


# Evidence type → (risk points per event, most points this type can add), as the watch-time RISK_POLICY.
QUIZ_RISK_POLICY: dict[str, tuple[int, int]] = {
    "quiz_fast": (100, 100),  # one per attempt, when enough answers came faster than anyone reads
    "quiz_same_answers": (50, 100),  # per colleague's attempt with the same answers, wrong ones included
    "quiz_shared_device": (100, 100),  # the same browser for another account's attempt
    "quiz_shared_address": (10, 20),  # offices share addresses: never enough alone
    "quiz_quick_retry": (20, 40),  # harvesting the bank by retrying at once
}
QUIZ_EVENT_LABELS: dict[str, str] = {
    "quiz_fast": "作答快于阅读所需时间",
    "quiz_same_answers": "与同单位人员答案雷同",
    "quiz_shared_device": "同一设备上有其他账号测验",
    "quiz_shared_address": "同一地址有其他账号测验",
    "quiz_quick_retry": "紧接上次测验重新开始",
}
# What the learner is told about a held attempt: what was seen and what happens if it was a mistake.
QUIZ_HOLD_REASONS: dict[str, str] = {
    "quiz_fast": "多道题的作答快于读完题目所需的时间；如确为本人作答，审核员核实后会计入学时。",
    "quiz_same_answers": "测验答案与同单位其他人员同时段的答案完全相同（包括错误答案）；"
                         "如系独立作答，审核员核实后会计入学时。",
    "quiz_shared_device": "同一台设备上有其他账号参加测验；如是共用电脑，审核员核实后会计入学时。",
    "quiz_quick_retry": "多次紧接着重新测验；审核员核实后会计入学时。",
}


def integrity_settings() -> IntegritySettings:
    """Return the app's quiz integrity settings (defaults overridden by ``LMS_EXAMS_INTEGRITY``)."""
    values = dict(current_app.config.get("LMS_EXAMS_INTEGRITY") or {})
    known = {f.name for f in dataclasses.fields(IntegritySettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"LMS_EXAMS_INTEGRITY 中有未知设置：{', '.join(unknown)}")
    return IntegritySettings(**values)


def hold_threshold() -> int:
    """The risk score that holds an attempt: the watch-time rules' threshold, one standard for both."""
    from lms.tracking.service import tracking_settings

    return tracking_settings().hold_threshold


def min_read_seconds(question: dict, settings: IntegritySettings) -> float:
    """The least time a person needs to read one drawn question (prompt and options) and answer it."""
    chars = len(question["prompt"]) + sum(len(option) for option in question["options"])
    return settings.read_base_s + chars / settings.read_chars_per_s


# ------------------------------------------------------------------------------------------------ recording


def clean_device(raw) -> str | None:
    """Return the browser's device id if it has the player's shape, else None (it is never trusted alone)."""
    return raw if isinstance(raw, str) and DEVICE_PATTERN.match(raw) else None


def mark_shown(attempt: Attempt, moment: dt.datetime) -> None:
    """Record when the server first sent the attempt's questions (page or JSON); later views change nothing."""
    if attempt.shown_at is not None or attempt.graded_at is not None:
        return
    db.session.execute(sa.update(Attempt).where(Attempt.id == attempt.id, Attempt.shown_at.is_(None))
                       .values(shown_at=moment).execution_options(synchronize_session=False))
    db.session.refresh(attempt, ["shown_at"])


def _add_event(attempt: Attempt, event_type: str, moment: dt.datetime, values: dict) -> AttemptEvent:
    event = AttemptEvent(attempt_id=attempt.id, type=event_type, at=moment, values=values,
                         points=QUIZ_RISK_POLICY.get(event_type, (0, 0))[0])
    db.session.add(event)
    db.session.flush()
    return event


def events_of(attempt_id: int) -> list[AttemptEvent]:
    """Return the attempt's evidence, oldest first."""
    return list(db.session.scalars(sa.select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id)
                                   .order_by(AttemptEvent.at, AttemptEvent.id)))


def rescore(attempt: Attempt, moment: dt.datetime) -> int:
    """Recompute the attempt's risk score from its events; hold it when it reaches the threshold."""
    per_type: dict[str, int] = {}
    for event in events_of(attempt.id):
        per_type[event.type] = per_type.get(event.type, 0) + event.points
    score = sum(min(points, QUIZ_RISK_POLICY.get(kind, (0, 0))[1]) for kind, points in per_type.items())
    attempt.risk_score = score
    if score >= hold_threshold() and attempt.hold_state == HoldState.NONE:
        attempt.hold_state, attempt.held_at = HoldState.HELD, moment
        notify_on.attempt_held(attempt)
    db.session.flush()
    return score


def on_start(attempt: Attempt, previous: Attempt | None, moment: dt.datetime) -> None:
    """Evidence when an attempt starts: a device or address another account's attempt used, a retry too soon."""
    settings = integrity_settings()
    since = moment - dt.timedelta(seconds=settings.shared_window_s)
    others = []
    if attempt.device_id:
        others = list(db.session.scalars(sa.select(Attempt).where(
            Attempt.device_id == attempt.device_id, Attempt.user_id != attempt.user_id,
            Attempt.started_at >= since, Attempt.id != attempt.id).order_by(Attempt.id)))
        for other in others:
            _add_event(attempt, "quiz_shared_device", moment, {"device": attempt.device_id, "other": other.id,
                                                                "account": other.user_id})
            _add_event(other, "quiz_shared_device", moment, {"device": attempt.device_id, "other": attempt.id,
                                                              "account": attempt.user_id})
            rescore(other, moment)
    if attempt.ip:
        accounts = db.session.scalar(sa.select(sa.func.count(sa.distinct(Attempt.user_id))).where(
            Attempt.ip == attempt.ip, Attempt.user_id != attempt.user_id, Attempt.started_at >= since))
        if accounts:
            _add_event(attempt, "quiz_shared_address", moment, {"ip": attempt.ip, "accounts": accounts})
    if previous is not None and previous.graded_at is not None:
        ended = min(previous.graded_at, previous.deadline_at)
        waited = (moment - ended).total_seconds()
        if waited < settings.retry_cooldown_s:
            _add_event(attempt, "quiz_quick_retry", moment, {"after_s": round(waited), "previous": previous.id})
    rescore(attempt, moment)


# ------------------------------------------------------------------------------------------------ timing


@dataclass(frozen=True)
class QuestionTiming:
    """One question of an attempt on the server's clock: shown, first and last answered, the time it was given."""

    position: int
    prompt: str
    shown_at: dt.datetime | None
    first_answered_at: dt.datetime | None
    last_saved_at: dt.datetime | None
    given_s: float | None  # since the previous first answer (or since shown); None if never answered
    needed_s: float
    right: bool | None  # None before grading

    @property
    def fast(self) -> bool:
        return self.given_s is not None and self.given_s < self.needed_s


def timeline(attempt: Attempt, settings: IntegritySettings | None = None) -> list[QuestionTiming]:
    """Return per-question timing in the order the questions were first answered, then the unanswered ones."""
    settings = settings or integrity_settings()
    answers = {row.position: row for row in db.session.scalars(
        sa.select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id))}
    shown = attempt.shown_at or attempt.started_at
    wrong = set(attempt.wrong_positions or [])
    order = sorted(answers.values(), key=lambda a: (a.first_saved_at or a.saved_at, a.position))
    rows, previous = [], shown
    for answer in order:
        first = answer.first_saved_at or answer.saved_at
        question = attempt.questions[answer.position - 1]
        rows.append(QuestionTiming(answer.position, question["prompt"], shown, first, answer.saved_at,
                                   max(0.0, (first - max(previous, shown)).total_seconds()),
                                   min_read_seconds(question, settings),
                                   None if attempt.graded_at is None else answer.position not in wrong))
        previous = max(previous, first)
    for position, question in enumerate(attempt.questions, start=1):
        if position not in answers:
            rows.append(QuestionTiming(position, question["prompt"], shown, None, None, None,
                                       min_read_seconds(question, settings),
                                       None if attempt.graded_at is None else False))
    return rows


def canonical_answers(attempt: Attempt) -> dict[int, tuple[tuple[int, ...], bool]]:
    """Return question id → (bank indexes chosen, right?) so attempts with different draws and orders compare."""
    saved = {row.position: list(row.choices) for row in db.session.scalars(
        sa.select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id))}
    result = {}
    for position, question in enumerate(attempt.questions, start=1):
        if position in saved:
            chosen = sorted(saved[position])
            result[question["question_id"]] = (tuple(sorted(question["order"][c] for c in chosen)),
                                               chosen == sorted(question["correct"]))
    return result


def on_graded(attempt: Attempt, moment: dt.datetime) -> None:
    """Evidence once an attempt is graded: answers faster than reading, the same answers as a colleague."""
    settings = integrity_settings()
    rows = timeline(attempt, settings)
    answered = [row for row in rows if row.given_s is not None]
    fast = [row for row in answered if row.fast]
    if len(fast) >= settings.fast_min_count and len(fast) >= settings.fast_min_share * len(answered):
        _add_event(attempt, "quiz_fast", moment, {
            "count": len(fast), "of": len(answered),
            "questions": [[row.position, round(row.given_s, 2), round(row.needed_s, 2)] for row in fast[:50]]})
    _same_answers(attempt, moment, settings)
    rescore(attempt, moment)


def _same_answers(attempt: Attempt, moment: dt.datetime, settings: IntegritySettings) -> None:
    user = db.session.get(User, attempt.user_id)
    window = dt.timedelta(seconds=settings.same_answers_window_s)
    colleagues = sa.select(User.id).where(User.org_id == user.org_id, User.id != user.id)
    others = db.session.scalars(sa.select(Attempt).where(
        Attempt.quiz_id == attempt.quiz_id, Attempt.user_id.in_(colleagues), Attempt.graded_at.is_not(None),
        Attempt.graded_at.between(attempt.graded_at - window, attempt.graded_at + window)).order_by(Attempt.id))
    mine = canonical_answers(attempt)
    for other in others:
        theirs = canonical_answers(other)
        common = set(mine) & set(theirs)
        if len(common) < settings.same_answers_min_common or any(mine[q][0] != theirs[q][0] for q in common):
            continue
        wrong = sum(1 for q in common if not mine[q][1])
        if wrong < settings.same_answers_min_wrong:
            continue
        gap_s = round(abs((attempt.graded_at - other.graded_at).total_seconds()))
        _add_event(attempt, "quiz_same_answers", moment, {"other": other.id, "account": other.user_id,
                                                           "common": len(common), "wrong": wrong, "gap_s": gap_s})
        _add_event(other, "quiz_same_answers", moment, {"other": attempt.id, "account": attempt.user_id,
                                                         "common": len(common), "wrong": wrong, "gap_s": gap_s})
        rescore(other, moment)


def hold_reasons(attempt_id: int) -> list[str]:
    """Return the learner's sentences for why an attempt is held (never a threshold or a weight)."""
    present = {event.type for event in events_of(attempt_id) if event.points}
    return [sentence for kind, sentence in QUIZ_HOLD_REASONS.items() if kind in present]


# ------------------------------------------------------------------------------------------------ exposure


@dataclass(frozen=True)
class Exposure:
    """How much of a course's bank a person has seen across their attempts."""

    seen: int
    bank: int

    @property
    def share(self) -> float:
        return self.seen / self.bank if self.bank else 0.0

    @property
    def percent(self) -> int:
        return int(self.share * 100)


def exposure(user_id: int, quiz_id: int, course_id: int) -> Exposure:
    """Count the questions of the bank (as it is now) the person has been shown in any attempt of the quiz."""
    bank_ids = set(db.session.scalars(sa.select(Question.id).where(Question.course_id == course_id)))
    seen: set[int] = set()
    for questions in db.session.scalars(sa.select(Attempt.questions).where(Attempt.user_id == user_id,
                                                                          Attempt.quiz_id == quiz_id)):
        seen.update(q["question_id"] for q in questions)
    return Exposure(len(seen & bank_ids), len(bank_ids))


def exposure_refusal(seen: Exposure, settings: IntegritySettings | None = None) -> str | None:
    """Say why a further attempt is refused once the person has seen most of the bank, else None."""
    settings = settings or integrity_settings()
    if settings.exposure_max_share < 1 and seen.bank and seen.seen > 0 and seen.share >= settings.exposure_max_share:
        return (f"您在以往测验中已见过本课程题库的 {seen.seen}/{seen.bank} 题（{seen.percent}%），"
                f"达到 {int(settings.exposure_max_share * 100)}% 的上限，不能再次测验；请联系开课基地扩充题库。")
    return None


def attempts_before_exposure_limit(bank: int, draw: int, settings: IntegritySettings | None = None) -> int:
    """The attempts a learner is sure to get before the exposure limit refuses more (draws without overlap)."""
    settings = settings or integrity_settings()
    if bank <= 0 or draw <= 0:
        return 0
    return max(1, math.ceil(settings.exposure_max_share * bank / draw))


def small_bank_warning(bank: int, draw: int, max_attempts: int) -> str | None:
    """Warn the base when its bank is too small for its draw: learners would be refused before their attempts."""
    settings = integrity_settings()
    if bank <= 0 or draw <= 0 or draw > bank or settings.exposure_max_share >= 1:
        return None
    allowed = attempts_before_exposure_limit(bank, draw, settings)
    if allowed >= max_attempts:
        return None
    share = int(settings.exposure_max_share * 100)
    needed = math.ceil(max_attempts * draw / settings.exposure_max_share)
    return (f"题库偏小：每次抽取 {draw} 题、题库 {bank} 题，学员见过题库 {share}% 后不能再测验，"
            f"最少只能测验 {allowed} 次（设置为 {max_attempts} 次）。建议题库至少 {needed} 题，或减少每次抽题数。")
