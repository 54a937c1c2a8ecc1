"""Review close to the people (issue 16): who is expected to decide a held session, how long sessions wait, and
holds, releases and voids by organisation.

A held session goes to the *nearest reviewer above the person*: the closest organisation on the person's path
(their own included, in practice a county or city HR bureau) where an approved admin holds 防作弊审核
(``Permission.REVIEW_SESSIONS``). Reviewers higher up still see it in their queue and may decide it, but the
queue says who is expected to act, so that a province reviewer leaves a county's sessions to the county.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import sqlalchemy as sa

from lms.accounts.models import User
from lms.core.db import utcnow
from lms.extensions import db
from lms.orgs.access import membership_permissions, scope_org
from lms.orgs.models import Org, OrgAdmin, ReviewStatus
from lms.orgs.permissions import Permission
from lms.review.models import ReviewOutcome, SessionReviewDecision
from lms.tracking.models import HoldState, PlaybackSession

TYPICAL_WINDOW_DAYS = 90
TYPICAL_SAMPLE = 200  # the most recent decisions the typical waiting time is the median of


def reviewer_orgs() -> dict[int, Org]:
    """Return the organisations where an approved admin of an active organisation may decide held sessions."""
    memberships = db.session.scalars(
        sa.select(OrgAdmin).join(User, User.id == OrgAdmin.user_id).where(User.status == ReviewStatus.APPROVED)
        .where(OrgAdmin.role_id.is_not(None))).all()
    return {m.org_id: m.org for m in memberships
            if m.org.is_active and Permission.REVIEW_SESSIONS in membership_permissions(m)}


def nearest_reviewer(org: Org, reviewers: dict[int, Org]) -> Org | None:
    """Return the closest organisation at or above ``org`` that has a reviewer, or None."""
    for org_id in reversed(org.ancestor_ids):
        if org_id in reviewers:
            return reviewers[org_id]
    return None


def expected_reviewers(sessions: list[PlaybackSession]) -> dict[int, Org | None]:
    """Map each session id to the organisation whose reviewers are expected to decide it."""
    reviewers = reviewer_orgs() if sessions else {}
    return {s.id: nearest_reviewer(s.user.org, reviewers) for s in sessions}


def waiting_seconds(session: PlaybackSession, now: dt.datetime | None = None) -> float:
    """How long a held session has been waiting for a decision."""
    since = session.held_at or session.started_at
    return max(((now or utcnow()) - since).total_seconds(), 0.0)


def typical_review_seconds(person: User) -> float | None:
    """The median time from hold to decision of the recent decisions in the person's reviewers' subtree
    (the whole tree when nobody reviews nearer), or None before there is any."""
    reviewer = nearest_reviewer(person.org, reviewer_orgs())
    scope = reviewer.path if reviewer is not None else "/"
    rows = db.session.execute(
        sa.select(SessionReviewDecision.decided_at, PlaybackSession.held_at)
        .join(PlaybackSession, PlaybackSession.id == SessionReviewDecision.session_id)
        .join(User, User.id == PlaybackSession.user_id).join(Org, Org.id == User.org_id)
        .where(Org.path.startswith(scope), PlaybackSession.held_at.is_not(None),
               SessionReviewDecision.decided_at >= utcnow() - dt.timedelta(days=TYPICAL_WINDOW_DAYS))
        .order_by(SessionReviewDecision.decided_at.desc()).limit(TYPICAL_SAMPLE)).all()
    waits = [max((decided - held).total_seconds(), 0.0) for decided, held in rows]
    return statistics.median(waits) if waits else None


@dataclass
class OrgFigures:
    org: Org
    held: int = 0  # held within the period
    released: int = 0
    voided: int = 0
    waiting: int = 0  # held now, undecided

    @property
    def release_share(self) -> float | None:
        decided = self.released + self.voided
        return self.released / decided if decided else None


def figures_by_org(actor: User, days: int = 90) -> list[OrgFigures]:
    """Holds, releases and voids of the last ``days`` days per organisation directly below the actor's (and the
    actor's own people), so a bureau sees where a threshold holds honest people (many releases)."""
    home = scope_org(actor, Permission.VIEW_SESSIONS)
    if home is None:
        return []
    since = utcnow() - dt.timedelta(days=days)
    children = db.session.scalars(sa.select(Org).where(Org.parent_id == home.id).order_by(Org.id)).all()
    figures = {org.path: OrgFigures(org) for org in [home, *children]}

    def bucket(path: str) -> OrgFigures:
        for child in children:
            if path.startswith(child.path):
                return figures[child.path]
        return figures[home.path]

    rows = db.session.execute(
        sa.select(Org.path, PlaybackSession.hold_state, PlaybackSession.held_at, SessionReviewDecision.decision,
                  SessionReviewDecision.decided_at)
        .join(User, User.id == PlaybackSession.user_id).join(Org, Org.id == User.org_id)
        .outerjoin(SessionReviewDecision, SessionReviewDecision.session_id == PlaybackSession.id)
        .where(Org.path.startswith(home.path), PlaybackSession.hold_state != HoldState.NONE,
               sa.or_(PlaybackSession.held_at >= since, SessionReviewDecision.decided_at >= since,
                      PlaybackSession.hold_state == HoldState.HELD)))
    for path, state, held_at, decision, decided_at in rows:
        entry = bucket(path)
        if held_at is not None and held_at >= since:
            entry.held += 1
        if state == HoldState.HELD:
            entry.waiting += 1
        if decided_at is not None and decided_at >= since:
            if ReviewOutcome(decision) == ReviewOutcome.RELEASE:
                entry.released += 1
            else:
                entry.voided += 1
    return [f for f in figures.values() if f.org.id != home.id or f.held or f.waiting or f.released or f.voided]
