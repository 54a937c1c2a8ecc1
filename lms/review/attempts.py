"""Review of held quiz attempts: the quiz's evidence (lms.exams.integrity) in the same hands as held sessions.

The same reviewers, the same subtree rule and the same standard as for sessions (``lms.review.service``): people
with the view permission see held attempts of their subtree, only reviewers release or void them, with a reason
the learner reads. A release lets the ledger post the course's hours, once; a void keeps them from ever posting.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from lms.accounts.models import User
from lms.accounts.service import parse_id_batch
from lms.audit import service as audit
from lms.core.clock import china_time
from lms.core.errors import Conflict, NotAllowed, NotFound
from lms.exams import integrity
from lms.exams.models import Attempt, AttemptReviewDecision
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import CourseCredit, CreditState
from lms.notices import notify_on
from lms.orgs.access import has_permission, within_scope
from lms.orgs.models import Org
from lms.orgs.permissions import Permission
from lms.review.models import ReviewOutcome
from lms.review.service import _parse_outcome, _parse_reason, can_decide, can_view
from lms.tracking.models import HoldState

QUEUE_LIMIT = 200


def _require_viewer(actor: User) -> None:
    if not can_view(actor):
        raise NotAllowed("只有防作弊审核员和人社部门管理员可以查看测验记录审核。")


def _in_scope(actor: User):
    return Attempt.user_id.in_(
        sa.select(User.id).join(User.org).where(within_scope(Org.path, actor, Permission.VIEW_SESSIONS)))


def held_attempts(actor: User, state: HoldState = HoldState.HELD) -> list[Attempt]:
    """Return the attempts of the actor's subtree in a review state, riskiest and oldest first."""
    _require_viewer(actor)
    return list(db.session.scalars(
        sa.select(Attempt).where(Attempt.hold_state == state, _in_scope(actor))
        .options(joinedload(Attempt.user).joinedload(User.org), joinedload(Attempt.course))
        .order_by(Attempt.risk_score.desc(), Attempt.held_at, Attempt.id).limit(QUEUE_LIMIT)))


def held_attempt_count(actor: User) -> int:
    """Count the held attempts of the actor's subtree."""
    if not can_view(actor):
        return 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)
                             .where(Attempt.hold_state == HoldState.HELD, _in_scope(actor))) or 0


def attempt_for_viewer(actor: User, attempt_id: int) -> Attempt:
    """Return an attempt the actor may look at; outside the subtree is refused (403), unknown is 404."""
    _require_viewer(actor)
    attempt = db.session.scalar(sa.select(Attempt).where(Attempt.id == attempt_id)
                                .options(joinedload(Attempt.user).joinedload(User.org), joinedload(Attempt.course)))
    if attempt is None:
        raise NotFound("测验记录不存在。")
    if not has_permission(actor, Permission.VIEW_SESSIONS, attempt.user.org):
        raise NotAllowed("该测验记录的学员不在您的管辖范围内。")
    return attempt


@dataclass(frozen=True)
class AttemptEvidence:
    """What the reviewer sees of an attempt: its per-question timeline, its events, the exposure, the decision."""

    attempt: Attempt
    timeline: list[integrity.QuestionTiming]
    events: list
    exposure: integrity.Exposure
    decision: AttemptReviewDecision | None
    hold_threshold: int


def event_label(event_type: str) -> str:
    return integrity.QUIZ_EVENT_LABELS.get(event_type, event_type)


def evidence(actor: User, attempt_id: int) -> AttemptEvidence:
    """Gather one attempt's evidence for the reviewer."""
    attempt = attempt_for_viewer(actor, attempt_id)
    return AttemptEvidence(attempt, integrity.timeline(attempt), integrity.events_of(attempt.id),
                           integrity.exposure(attempt.user_id, attempt.quiz_id, attempt.course_id),
                           decision_for(attempt.id), integrity.hold_threshold())


def decision_for(attempt_id: int) -> AttemptReviewDecision | None:
    return db.session.scalar(sa.select(AttemptReviewDecision).where(AttemptReviewDecision.attempt_id == attempt_id)
                             .options(joinedload(AttemptReviewDecision.reviewer)))


def decide_attempts(actor: User, attempt_ids, decision, reason) -> list[AttemptReviewDecision]:
    """Release or void held attempts with one reason, all or nothing; settle the learners' held course credits.

    Each attempt leaves HELD by a conditional UPDATE, so of two reviewers (or one deciding twice) only the first
    changes anything; the second gets a Conflict, and the ledger's unique posting keeps the hours to one entry.
    The caller commits.
    """
    if not can_decide(actor):
        raise NotAllowed("只有防作弊审核员可以审核测验记录；人社部门管理员只能查看。")
    ids = parse_id_batch(list(attempt_ids) if isinstance(attempt_ids, list | tuple) else attempt_ids)
    outcome = _parse_outcome(decision)
    reason = _parse_reason(reason)
    attempts = db.session.scalars(sa.select(Attempt).where(Attempt.id.in_(ids))
                                  .options(joinedload(Attempt.user).joinedload(User.org))).all()
    if len(attempts) != len(ids):
        raise NotFound("部分测验记录不存在，未做任何修改。")
    if any(not has_permission(actor, Permission.REVIEW_SESSIONS, a.user.org) for a in attempts):
        raise NotAllowed("其中有测验记录的学员不在您的管辖范围内，未做任何修改。")
    for attempt in attempts:
        if attempt.hold_state != HoldState.HELD:
            done = decision_for(attempt.id)
            if done is not None:
                when = china_time(done.decided_at, "%Y-%m-%d %H:%M")
                raise Conflict(f"测验记录 #{attempt.id} 已于 {when}（北京时间）"
                               f"由 {done.reviewer.name} 审核（{done.decision.label}），不能重复审核；未做任何修改。")
            raise Conflict(f"测验记录 #{attempt.id} 未被暂扣，无需审核；未做任何修改。")
        if attempt.graded_at is None:
            raise Conflict(f"测验记录 #{attempt.id} 仍在答题中，请在交卷后再审核；未做任何修改。")
    decisions = []
    for attempt in attempts:
        changed = db.session.execute(
            sa.update(Attempt).where(Attempt.id == attempt.id, Attempt.hold_state == HoldState.HELD)
            .values(hold_state=outcome.hold_state).execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            raise Conflict(f"测验记录 #{attempt.id} 刚刚已由其他审核员处理，未做任何修改；请刷新页面查看结果。")
        db.session.refresh(attempt, ["hold_state"])
        row = AttemptReviewDecision(attempt_id=attempt.id, decision=outcome, reason=reason, reviewer_id=actor.id)
        db.session.add(row)
        decisions.append(row)
        audit.record(actor, "attempt.decide", object_type="exam_attempt", object_id=attempt.id,
                     label=f"{attempt.user.name}的测验记录 #{attempt.id}", org=attempt.user.org, reason=reason,
                     before={"hold_state": HoldState.HELD.value}, after={"hold_state": outcome.hold_state.value})
        notify_on.attempt_decided(attempt, outcome, reason)
    db.session.flush()
    if outcome == ReviewOutcome.VOID:
        # Evidence can arrive after the hours were posted (a colleague's later attempt, another account's start on
        # this device): a void then takes them back with a reversal entry.
        for credit in db.session.scalars(sa.select(CourseCredit).where(
                CourseCredit.attempt_id.in_([a.id for a in attempts]), CourseCredit.state == CreditState.POSTED)):
            ledger.reverse_course_credit(credit, reason)
    for user_id in sorted({a.user_id for a in attempts}):
        ledger.settle_course_credits(user_id)
    db.session.flush()
    return decisions
