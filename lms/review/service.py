"""The rules of reviewing held playback sessions (SPEC §3 "Evidence and review").

A session whose evidence passed the risk threshold is *held*: its time counts for nothing. An anti-cheat reviewer
(role ``reviewer``, province HR) releases it (its time counts) or voids it (it never does), with a reason the
learner reads. HR admins see the held sessions of their subtree's people, read-only: the decision belongs to the
reviewers alone, so that one office answers for every verdict. A decision is final and kept for good; after it the
learner's progress on the courseware is recomputed and their held course credits are settled by the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from lms.accounts.models import Role, User
from lms.accounts.service import parse_id_batch
from lms.audit import service as audit
from lms.core.clock import CHINA_TIME, china_date, china_time
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound, joined_sentences
from lms.core.validation import clean_text, collect, text_problem
from lms.courses.models import Course, Courseware
from lms.extensions import db
from lms.ledger import service as ledger
from lms.notices import notify_on
from lms.orgs.access import has_permission, within_scope
from lms.orgs.models import Org
from lms.orgs.permissions import Permission
from lms.review.evidence import EVENT_KINDS, describe_values, event_kind, risk_points
from lms.review.models import ReviewOutcome, SessionReviewDecision
from lms.tracking import service as tracking
from lms.tracking.models import CoursewareProgress, HoldState, PlaybackSession, PlaybackState, SessionEvent

REASON_MAX = 500
PER_PAGE_DEFAULT, PER_PAGE_MAX = 20, 100
RISK_MAX = 10_000
OTHER_SESSIONS_SHOWN = 50

# The queue's state filter: held (the default) and the two outcomes, for looking back at decisions.
QUEUE_STATES = {HoldState.HELD.value: HoldState.HELD, HoldState.RELEASED.value: HoldState.RELEASED,
                HoldState.VOIDED.value: HoldState.VOIDED}


# ------------------------------------------------------------------------------------------------ who


def can_view(actor: User) -> bool:
    """Reviewers and HR admins with the permission see held sessions of their subtree."""
    return has_permission(actor, Permission.VIEW_SESSIONS)


def can_decide(actor: User) -> bool:
    """Only anti-cheat reviewers (the permission, held for a subtree) release or void sessions."""
    return has_permission(actor, Permission.REVIEW_SESSIONS)


def _require_viewer(actor: User) -> None:
    if not can_view(actor):
        raise NotAllowed("只有防作弊审核员和人社部门管理员可以查看观看记录审核。")


def _in_scope(actor: User):
    """The condition "the session's learner belongs to the actor's subtree" (province reviewers: all of it)."""
    return PlaybackSession.user_id.in_(
        sa.select(User.id).join(User.org).where(within_scope(Org.path, actor, Permission.VIEW_SESSIONS)))


def session_for_viewer(actor: User, session_id: int) -> PlaybackSession:
    """Return a session the actor may look at, with its learner, courseware, events and trace."""
    _require_viewer(actor)
    session = db.session.scalar(
        sa.select(PlaybackSession).where(PlaybackSession.id == session_id)
        .options(joinedload(PlaybackSession.user).joinedload(User.org),
                 joinedload(PlaybackSession.courseware).joinedload(Courseware.course),
                 selectinload(PlaybackSession.events), selectinload(PlaybackSession.trace_chunks)))
    if session is None:
        raise NotFound("观看记录不存在。")
    if not has_permission(actor, Permission.VIEW_SESSIONS, session.user.org):
        raise NotAllowed("该观看记录的学员不在您的管辖范围内。")
    return session


# ------------------------------------------------------------------------------------------------ queue


@dataclass
class QueueFilters:
    state: HoldState = HoldState.HELD
    course_id: int | None = None
    courseware_id: int | None = None
    person: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    risk_min: int | None = None
    risk_max: int | None = None
    event_type: str = ""
    page: int = 1
    per_page: int = PER_PAGE_DEFAULT
    problems: dict[str, str] = field(default_factory=dict)

    def query_args(self) -> dict[str, str]:
        """The filters as query arguments (for pager links), without the page."""
        values = {"state": self.state.value if self.state != HoldState.HELD else "", "course_id": self.course_id,
                  "courseware_id": self.courseware_id, "person": self.person, "date_from": self.date_from,
                  "date_to": self.date_to, "risk_min": self.risk_min, "risk_max": self.risk_max,
                  "event_type": self.event_type,
                  "per_page": self.per_page if self.per_page != PER_PAGE_DEFAULT else None}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


def parse_queue_filters(args) -> QueueFilters:
    """Read the queue's filters from query arguments; raise InvalidInput naming every bad one."""
    filters, problems = QueueFilters(), {}
    state = clean_text(args.get("state"))
    if state:
        if state in QUEUE_STATES:
            filters.state = QUEUE_STATES[state]
        else:
            problems["state"] = "审核状态只能是待审核、审核通过或审核作废。"
    for name, label, low, high in (("course_id", "课程", 1, None), ("courseware_id", "课件", 1, None),
                                   ("risk_min", "最低风险分", 0, RISK_MAX), ("risk_max", "最高风险分", 0, RISK_MAX),
                                   ("page", "页码", 1, None), ("per_page", "每页条数", 1, PER_PAGE_MAX)):
        raw = clean_text(args.get(name))
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            problems[name] = f"{label}应为整数。"
            continue
        if value < low or (high is not None and value > high):
            problems[name] = f"{label}应在 {low} 到 {high} 之间。" if high is not None else f"{label}应为正整数。"
            continue
        setattr(filters, name, value)
    for name, label in (("date_from", "开始日期"), ("date_to", "结束日期")):
        raw = clean_text(args.get(name))
        if raw:
            try:
                setattr(filters, name, dt.date.fromisoformat(raw))
            except ValueError:
                problems[name] = f"{label}格式应为 YYYY-MM-DD。"
    person = clean_text(args.get("person"))
    problems["person"] = text_problem(person, "姓名或身份证号", 50, required=False)
    filters.person = person
    event_type = clean_text(args.get("event_type"))
    if event_type and event_type not in EVENT_KINDS:
        problems["event_type"] = "请从列表中选择事件类型。"
    else:
        filters.event_type = event_type
    if filters.risk_min is not None and filters.risk_max is not None and filters.risk_min > filters.risk_max:
        problems["risk_max"] = "最高风险分不能小于最低风险分。"
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        problems["date_to"] = "结束日期不能早于开始日期。"
    problems = collect(problems)
    if problems:
        raise InvalidInput(problems, "筛选条件有误：" + joined_sentences(problems.values()))
    return filters


def _china_day_start_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), CHINA_TIME).astimezone(dt.UTC).replace(tzinfo=None)


def queue_query(actor: User, filters: QueueFilters):
    """Select the sessions of the queue: in the actor's subtree, matching the filters, riskiest and oldest first."""
    _require_viewer(actor)
    query = (sa.select(PlaybackSession).join(PlaybackSession.user).join(PlaybackSession.courseware)
             .where(PlaybackSession.hold_state == filters.state, _in_scope(actor))
             .options(joinedload(PlaybackSession.user).joinedload(User.org),
                      joinedload(PlaybackSession.courseware).joinedload(Courseware.course)))
    if filters.courseware_id is not None:
        query = query.where(PlaybackSession.courseware_id == filters.courseware_id)
    if filters.course_id is not None:
        query = query.where(Courseware.course_id == filters.course_id)
    if filters.person:
        query = query.where(sa.or_(User.name.contains(filters.person, autoescape=True),
                                   User.id_number == filters.person.upper(), User.login == filters.person))
    if filters.date_from is not None:
        query = query.where(PlaybackSession.started_at >= _china_day_start_utc(filters.date_from))
    if filters.date_to is not None:
        query = query.where(PlaybackSession.started_at
                            < _china_day_start_utc(filters.date_to + dt.timedelta(days=1)))
    if filters.risk_min is not None:
        query = query.where(PlaybackSession.risk_score >= filters.risk_min)
    if filters.risk_max is not None:
        query = query.where(PlaybackSession.risk_score <= filters.risk_max)
    if filters.event_type:
        query = query.where(sa.exists().where(SessionEvent.session_id == PlaybackSession.id,
                                              SessionEvent.type == filters.event_type))
    age = sa.func.coalesce(PlaybackSession.held_at, PlaybackSession.started_at)
    return query.order_by(PlaybackSession.risk_score.desc(), age, PlaybackSession.id)


def held_count(actor: User) -> int:
    """Count the held sessions of the actor's subtree (the to-do list)."""
    if not can_view(actor):
        return 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(PlaybackSession)
                             .where(PlaybackSession.hold_state == HoldState.HELD, _in_scope(actor)))


def queue_page(actor: User, filters: QueueFilters):
    """Return one page (Flask-SQLAlchemy Pagination) of the queue."""
    return db.paginate(queue_query(actor, filters), page=filters.page, per_page=filters.per_page, error_out=False)


def queue_choices(actor: User) -> list[tuple[Course, list[Courseware]]]:
    """Return the courses and coursewares that have held sessions in the actor's subtree, for the filter."""
    _require_viewer(actor)
    coursewares = db.session.scalars(
        sa.select(Courseware).where(Courseware.id.in_(
            sa.select(PlaybackSession.courseware_id).where(PlaybackSession.hold_state != HoldState.NONE,
                                                           _in_scope(actor))))
        .options(joinedload(Courseware.course)).order_by(Courseware.course_id, Courseware.position)).all()
    grouped: dict[int, tuple[Course, list[Courseware]]] = {}
    for courseware in coursewares:
        grouped.setdefault(courseware.course_id, (courseware.course, []))[1].append(courseware)
    return list(grouped.values())


# ------------------------------------------------------------------------------------------------ evidence


@dataclass(frozen=True)
class EventRow:
    seq: int
    offset_s: float
    at: dt.datetime  # UTC
    type: str
    label: str
    values: dict
    details: str
    points: int


def event_rows(session: PlaybackSession) -> list[EventRow]:
    """Return the session's events for the raw table: time since opening, time of day, type in Chinese, values."""
    return [EventRow(seq=e.seq, offset_s=(e.at - session.started_at).total_seconds(), at=e.at, type=e.type,
                     label=event_kind(e.type).label, values=e.values or {}, details=describe_values(e.values),
                     points=risk_points(e.type)) for e in session.events]


def other_sessions(session: PlaybackSession) -> list[PlaybackSession]:
    """Return the learner's other sessions, newest first (the ones that look alike tell the story)."""
    return list(db.session.scalars(
        sa.select(PlaybackSession).where(PlaybackSession.user_id == session.user_id, PlaybackSession.id != session.id)
        .options(joinedload(PlaybackSession.courseware).joinedload(Courseware.course))
        .order_by(PlaybackSession.started_at.desc(), PlaybackSession.id.desc()).limit(OTHER_SESSIONS_SHOWN)))


def same_address_accounts(actor: User, session: PlaybackSession) -> list[User]:
    """Return the other people in the actor's subtree who studied from the session's address within a day of it."""
    if not session.ip:
        return []
    window = dt.timedelta(days=1)
    return list(db.session.scalars(
        sa.select(User).where(User.id.in_(sa.select(PlaybackSession.user_id).where(
            PlaybackSession.ip == session.ip, PlaybackSession.user_id != session.user_id,
            PlaybackSession.started_at.between(session.started_at - window, session.started_at + window),
            _in_scope(actor)))).order_by(User.name).limit(20)))


def decision_for(session_id: int) -> SessionReviewDecision | None:
    return db.session.scalar(sa.select(SessionReviewDecision).where(SessionReviewDecision.session_id == session_id)
                             .options(joinedload(SessionReviewDecision.reviewer)))


# ------------------------------------------------------------------------------------------------ decisions


def _parse_outcome(raw) -> ReviewOutcome:
    try:
        return ReviewOutcome(clean_text(raw))
    except ValueError:
        raise InvalidInput({"decision": "请选择审核结果：审核通过或审核作废。"}) from None


def _parse_reason(raw) -> str:
    reason = clean_text(raw)
    if not reason:
        raise InvalidInput({"reason": "请填写审核理由，学员会看到它。"})
    problem = text_problem(reason, "审核理由", REASON_MAX)
    if problem:
        raise InvalidInput({"reason": problem})
    return reason


def _already_decided_message(sessions: list[PlaybackSession], batch_size: int) -> str:
    if len(sessions) == 1:
        session = sessions[0]
        decision = decision_for(session.id)
        if decision is not None:
            message = (f"观看记录 #{session.id} 已于 {china_time(decision.decided_at, '%Y-%m-%d %H:%M')}（北京时间）"
                       f"由 {decision.reviewer.name} 审核（{decision.decision.label}），不能重复审核。")
        else:
            message = f"观看记录 #{session.id} 未被暂扣（{session.hold_state.label}），无需审核。"
        # In a batch, say that the others were left alone too (all or nothing).
        return message + ("本批次未做任何修改。" if batch_size > 1 else "")
    ids = "、".join(f"#{s.id}" for s in sessions[:10]) + ("等" if len(sessions) > 10 else "")
    return f"其中 {len(sessions)} 条观看记录（{ids}）已审核过或未被暂扣，不能再审核；未做任何修改。"


def decide_sessions(actor: User, session_ids, decision, reason) -> list[SessionReviewDecision]:
    """Release or void held sessions with one reason, all or nothing; recompute progress and settle credits.

    Two reviewers deciding at once: each session moves out of HELD by a conditional UPDATE, so the second finds
    no row to change and gets a Conflict (and the unique decision per session backs it up). The caller commits.
    """
    if not can_decide(actor):
        raise NotAllowed("只有防作弊审核员可以审核观看记录；人社部门管理员只能查看。")
    ids = parse_id_batch(list(session_ids) if isinstance(session_ids, list | tuple) else session_ids)
    outcome = _parse_outcome(decision)
    reason = _parse_reason(reason)
    sessions = db.session.scalars(sa.select(PlaybackSession).where(PlaybackSession.id.in_(ids))
                                  .options(joinedload(PlaybackSession.user).joinedload(User.org))).all()
    if len(sessions) != len(ids):
        raise NotFound("部分观看记录不存在，未做任何修改。")
    outside = [s for s in sessions if not has_permission(actor, Permission.REVIEW_SESSIONS, s.user.org)]
    if outside:
        raise NotAllowed(f"其中 {len(outside)} 条观看记录的学员不在您的管辖范围内，未做任何修改。")
    not_held = [s for s in sessions if s.hold_state != HoldState.HELD]
    if not_held:
        raise Conflict(_already_decided_message(not_held, len(ids)))
    # A verdict covers the whole session: one still playing could add time and evidence after it.
    playing = [s for s in sessions if s.state == PlaybackState.OPEN]
    if playing:
        ids = "、".join(f"#{s.id}" for s in playing[:10])
        raise Conflict(f"观看记录 {ids} 仍在播放中，请在播放结束后再审核（页面关闭或 30 分钟无心跳后自动结束）；"
                       "未做任何修改。")
    decisions = []
    for session in sessions:
        changed = db.session.execute(
            sa.update(PlaybackSession)
            .where(PlaybackSession.id == session.id, PlaybackSession.hold_state == HoldState.HELD)
            .values(hold_state=outcome.hold_state)
            .execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            raise Conflict(f"观看记录 #{session.id} 刚刚已由其他审核员处理，未做任何修改；请刷新页面查看结果。")
        db.session.refresh(session, ["hold_state"])
        decision_row = SessionReviewDecision(session_id=session.id, decision=outcome, reason=reason,
                                             reviewer_id=actor.id)
        db.session.add(decision_row)
        decisions.append(decision_row)
        audit.record(actor, "session.decide", object_type="playback_session", object_id=session.id,
                     label=f"{session.user.name}的观看记录 #{session.id}", org=session.user.org, reason=reason,
                     before={"hold_state": HoldState.HELD.value}, after={"hold_state": outcome.hold_state.value})
        notify_on.session_decided(session, outcome, reason)
    db.session.flush()
    for user_id, courseware_id in sorted({(s.user_id, s.courseware_id) for s in sessions}):
        tracking.recompute_progress(user_id, courseware_id)
    for user_id in sorted({s.user_id for s in sessions}):
        ledger.settle_course_credits(user_id)
    db.session.flush()
    return decisions


# ------------------------------------------------------------------------------------------------ learner


@dataclass
class CoursewareRecord:
    """A learner's sessions of one courseware, with their progress and the decisions taken on held ones."""

    courseware: Courseware
    progress: CoursewareProgress | None
    sessions: list[PlaybackSession]
    decisions: dict[int, SessionReviewDecision]
    hold_reasons: dict[int, list[str]] = field(default_factory=dict)

    @property
    def held_count(self) -> int:
        return sum(1 for s in self.sessions if s.hold_state == HoldState.HELD)


def learner_records(learner: User) -> list[CoursewareRecord]:
    """Return the learner's own sessions per courseware (most recently watched first), with review outcomes."""
    if learner.role != Role.LEARNER or not learner.is_approved:
        raise NotAllowed("观看记录只对已通过审核的专业技术人员开放。")
    sessions = db.session.scalars(
        sa.select(PlaybackSession).where(PlaybackSession.user_id == learner.id)
        .options(joinedload(PlaybackSession.courseware).joinedload(Courseware.course))
        .order_by(PlaybackSession.started_at.desc(), PlaybackSession.id.desc())).all()
    decided_ids = [s.id for s in sessions if s.hold_state in (HoldState.RELEASED, HoldState.VOIDED)]
    decisions = {d.session_id: d for d in db.session.scalars(
        sa.select(SessionReviewDecision).where(SessionReviewDecision.session_id.in_(decided_ids or [0])))}
    progress = {p.courseware_id: p for p in db.session.scalars(
        sa.select(CoursewareProgress).where(CoursewareProgress.user_id == learner.id))}
    reviewed_ids = [s.id for s in sessions if s.hold_state != HoldState.NONE]
    types: dict[int, set[str]] = {}
    for session_id, event_type in db.session.execute(
            sa.select(SessionEvent.session_id, SessionEvent.type).distinct()
            .where(SessionEvent.session_id.in_(reviewed_ids or [0]))):
        types.setdefault(session_id, set()).add(event_type)
    reasons = {session_id: tracking.hold_reasons(found) for session_id, found in types.items()}
    records: dict[int, CoursewareRecord] = {}
    for session in sessions:
        record = records.get(session.courseware_id)
        if record is None:
            record = records[session.courseware_id] = CoursewareRecord(
                session.courseware, progress.get(session.courseware_id), [], decisions, reasons)
        record.sessions.append(session)
    return list(records.values())


# ------------------------------------------------------------------------------------------------ weekly figures

@dataclass(frozen=True)
class ReviewWeek:
    monday: dt.date
    held: int
    released: int
    voided: int


def weekly_figures(actor: User, weeks: int = 12, today: dt.date | None = None) -> list[ReviewWeek]:
    """Sessions held, released and voided per week (China time, Monday first) in the actor's subtree, newest first."""
    _require_viewer(actor)
    today = today or china_date(utcnow())
    first = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    since = dt.datetime.combine(first, dt.time(), CHINA_TIME).astimezone(dt.UTC).replace(tzinfo=None)
    counts: dict[dt.date, list[int]] = {first + dt.timedelta(weeks=i): [0, 0, 0] for i in range(weeks)}

    def week_of(moment: dt.datetime) -> dt.date:
        day = china_date(moment)
        return day - dt.timedelta(days=day.weekday())

    for (held_at,) in db.session.execute(sa.select(PlaybackSession.held_at).where(
            PlaybackSession.held_at >= since, _in_scope(actor))):
        counts[week_of(held_at)][0] += 1
    for decided_at, decision in db.session.execute(
            sa.select(SessionReviewDecision.decided_at, SessionReviewDecision.decision)
            .join(PlaybackSession, PlaybackSession.id == SessionReviewDecision.session_id)
            .where(SessionReviewDecision.decided_at >= since, _in_scope(actor))):
        counts[week_of(decided_at)][1 if ReviewOutcome(decision) == ReviewOutcome.RELEASE else 2] += 1
    return [ReviewWeek(monday, *values) for monday, values in sorted(counts.items(), reverse=True)]
