"""The rules of watch time (SPEC §3): open a playback, judge heartbeats, attention checks, close, flush, completion.

The judging itself happens atomically in Redis (``lua/*.lua`` through ``store.py``), on the server's clock, so
several web processes agree. This module validates what a client sends, draws the server's random numbers
(tokens, check times and codes), turns the scripts' answers into acknowledgements with a plain Chinese sentence
for every interval that earned nothing, and writes the live state to the database in batches.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import math
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from lms.accounts.models import Role, User
from lms.core.errors import InvalidInput, NotAllowed, NotFound, ServiceError
from lms.courses.models import SECONDS_PER_CREDIT_HOUR, CourseState, Courseware, Enrollment, MediaStatus
from lms.extensions import db
from lms.notices import notify_on
from lms.tracking import peers
from lms.tracking.models import (
    COUNTING_HOLD_STATES,
    CoursewareProgress,
    HoldState,
    PlaybackSession,
    PlaybackState,
    SessionEvent,
    TraceChunk,
)
from lms.tracking.peers import OrgFacts
from lms.tracking.sentences import (  # noqa: F401 - part of the service's interface
    HOLD_REASONS,
    explain,
    format_duration,
    hold_reasons,
    pending_note,
)
from lms.tracking.settings import (  # noqa: F401 - the settings' names are part of the service's interface
    MAX_EVENTS_PER_SESSION,
    MAX_TRACE_POINTS,
    RISK_POLICY,
    TrackingSettings,
)
from lms.tracking.store import ProgressSeed, TrackingStore, person_prefix, session_key

log = logging.getLogger(__name__)

_random = secrets.SystemRandom()
_SID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HEADLESS = re.compile(r"HeadlessChrome|PhantomJS|Electron|puppeteer|playwright", re.IGNORECASE)
MAX_POSITION_S = 24 * 3600.0


class TooManyOpens(ServiceError):
    status = 429
    code = "too_many_opens"


class MediaUnavailable(ServiceError):
    status = 409
    code = "media_unavailable"


# ------------------------------------------------------------------------------------------------ settings


def tracking_settings() -> TrackingSettings:
    """Return the current app's tracking settings (rebuilt only when they change).

    The deployment's ``LMS_TRACKING_*`` variables (``Config.tracking``) come first; ``app.config["LMS_TRACKING"]``
    (a dict, set by tests and scripts) overrides them name by name.
    """
    app = current_app._get_current_object()
    config = app.extensions.get("lms.config")
    source = {**(config.tracking if config is not None else {}), **(app.config.get("LMS_TRACKING") or {})}
    cached = app.extensions.get("lms.tracking.settings")
    if cached is None or cached[0] != source:
        cached = (dict(source), TrackingSettings.from_mapping(source))
        app.extensions["lms.tracking.settings"] = cached
    return cached[1]


def get_store() -> TrackingStore:
    """Return the app's tracking store: the Lua scripts registered once on the app's Redis client."""
    app = current_app._get_current_object()
    store = app.extensions.get("lms.tracking.store")
    if store is None:
        # Under gevent a web process judges many heartbeats at once: their script calls share round trips.
        config = app.extensions.get("lms.config")
        store = app.extensions["lms.tracking.store"] = TrackingStore(
            app.extensions["lms.redis"], batch_calls=config is not None and config.async_mode == "gevent",
            shards=tracking_settings().shards)
    return store



# ------------------------------------------------------------------------------------------------ open


@dataclass(frozen=True)
class MediaFacts:
    """What the rules need to know of a courseware: its media's length and its watch requirement (invariant 9)."""

    courseware_id: int
    duration_ms: int
    required_watch_ms: int
    required_coverage_s: int


def media_facts(courseware: Courseware, settings: TrackingSettings) -> MediaFacts:
    """Compute a courseware's requirement: labelled hours × 45 min of watching and the share of media seconds."""
    duration_ms = int(round((courseware.media.duration_s or 0) * 1000))
    # Coverage counts media second s once playing crossed its midpoint s + 0.5, so these are the countable ones.
    media_seconds = max(0, math.ceil((duration_ms - 500) / 1000))
    required_watch_ms = int(decimal.Decimal(courseware.labelled_hours) * SECONDS_PER_CREDIT_HOUR * 1000)
    return MediaFacts(courseware_id=courseware.id, duration_ms=duration_ms, required_watch_ms=required_watch_ms,
                      required_coverage_s=math.ceil(settings.coverage_share * media_seconds - 1e-9))


@dataclass
class Reply:
    """A service answer: the acknowledgement for the client, and sessions to write to the database right away.

    ``detail`` is the script's own answer (ms units, credited wall-clock range, run), for tests and logs only.
    """

    ack: dict
    flush: list[tuple[int, str]] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


def open_session(user: User, courseware_id, *, ip: str = "", user_agent: str = "", device=None,
                 resume_sid=None, traits=None) -> Reply:
    """Open a playback of a courseware for an enrolled learner (or resume one); supersede their previous one."""
    settings = tracking_settings()
    if not isinstance(courseware_id, int) or isinstance(courseware_id, bool):
        raise InvalidInput({"courseware_id": "缺少课件编号。"})
    if user.role != Role.LEARNER or not user.is_approved:
        raise NotAllowed("只有已通过审核的专业技术人员可以学习课件。")
    courseware = db.session.get(Courseware, courseware_id)
    if courseware is None or courseware.course.state == CourseState.DRAFT:
        raise NotFound("课件不存在。")
    enrolled = db.session.scalar(sa.select(Enrollment.id).where(Enrollment.user_id == user.id,
                                                                Enrollment.course_id == courseware.course_id))
    if enrolled is None:
        raise NotAllowed("请先选修该课程，再学习其中的课件。")
    asset = courseware.media
    if asset is None or asset.status != MediaStatus.READY or not asset.duration_s:
        raise MediaUnavailable("该课件的视频尚未就绪，请稍后再试。")
    progress = db.session.scalar(sa.select(CoursewareProgress).where(
        CoursewareProgress.user_id == user.id, CoursewareProgress.courseware_id == courseware.id))
    seed = ProgressSeed() if progress is None else ProgressSeed(
        furthest_ms=int(progress.furthest_verified_s * 1000), resume_ms=int(progress.resume_s * 1000),
        watch_ms=int(progress.verified_watch_seconds * 1000), coverage_bitmap=progress.coverage_bitmap or b"",
        completed=progress.completed)
    return start_playback(user.id, media_facts(courseware, settings), seed=seed, ip=ip, user_agent=user_agent,
                          device=device, resume_sid=resume_sid, org=OrgFacts(user.org_id, user.org.path),
                          traits=traits)


def start_playback(user_id: int, media: MediaFacts, *, seed: ProgressSeed | None = None, ip: str = "",
                   user_agent: str = "", device=None, resume_sid=None, org: OrgFacts | None = None,
                   traits=None) -> Reply:
    """Open (or resume) a playback in Redis for an already authorised learner and courseware."""
    settings = tracking_settings()
    seed = seed or ProgressSeed()
    if device is not None and (not isinstance(device, str) or not _SID.match(device)):
        raise InvalidInput({"device": "设备标识格式错误。"})
    if resume_sid is not None and (not isinstance(resume_sid, str) or not _SID.match(resume_sid)):
        raise InvalidInput({"resume_sid": "播放会话编号格式错误。"})
    user_agent = (user_agent or "")[:300]
    out = get_store().open(
        settings.script_config, user_id=user_id, sid=secrets.token_urlsafe(16), token=secrets.token_urlsafe(16),
        courseware_id=media.courseware_id, duration_ms=media.duration_ms, required_watch_ms=media.required_watch_ms,
        required_coverage_s=media.required_coverage_s, seed=seed, ip=(ip or "")[:45], user_agent=user_agent,
        device=device or "", automation=bool(_HEADLESS.search(user_agent)), resume_sid=resume_sid or "",
        draw_ms=_draw_check_ms(settings))
    if out["status"] == "too_many_opens":
        raise TooManyOpens("打开课件过于频繁，请稍后再试。")
    out.update(_cross_person_evidence(settings, user_id, out["sid"], media.courseware_id, org, (ip or "")[:45],
                                      device or "", peers.fingerprint(peers.device_traits(traits), user_agent)))
    ack = {
        "ok": True, "sid": out["sid"], "token": out["token"], "resumed": out["resumed"],
        "interval_s": settings.heartbeat_interval_s, "next_heartbeat_s": _next_heartbeat_s(settings),
        "min_interval_s": settings.min_interval_s, "max_gap_s": settings.max_gap_s,
        "allowed_rate": settings.allowed_rate, "resume_s": _s(out["resume_ms"]),
        **_totals(out), "check": _check_view(user_id, out.get("check"), out), "held": out["held"],
        "notices": [explain("held")] if out["held"] else [],
    }
    flush = [(user_id, out["superseded"]), (user_id, out["sid"])] if out.get("superseded") else []
    return Reply(ack, flush)


def _cross_person_evidence(settings: TrackingSettings, user_id: int, sid: str, courseware_id: int,
                           org: OrgFacts | None, ip: str, device: str, fp: str) -> dict:
    """Record the opener behind its address and on its device, judge what everyone seen there implies
    (``lms.tracking.peers``), add the events to every session concerned; return the opener's new totals, if any."""
    if not ip and not device:
        return {}
    from lms.addresses.service import address_book  # addresses reads tracking's sessions; imported at use

    store = get_store()
    me = peers.member(user_id, sid, courseware_id, org or OrgFacts(None), device, fp)
    at_address = store.peers("a", ip, user_id, me, int(settings.address_window_s * 1000)) if ip else []
    on_device = store.peers("d", device, user_id, me, int(settings.device_window_s * 1000)) if device else []
    crowd = len(at_address) > min(settings.address_max_accounts, settings.address_max_orgs)
    book = address_book() if crowd else None
    found = peers.judge(settings, me, address=ip if crowd else "", at_address=at_address, on_device=on_device,
                        at_home=lambda peer: book.at_home(ip, peer.get("o"), peer.get("p") or ""),
                        share_an_address=lambda a, b: book.share_an_address(a, b))
    mine = {}
    for (peer_id, peer_sid), events in found.items():
        answer = store.evidence(settings.script_config, user_id=peer_id, sid=peer_sid, events=events)
        if (peer_id, peer_sid) == (user_id, sid) and answer.get("status") == "ok":
            mine = {k: v for k, v in answer.items() if k not in ("status", "added")}
    return mine


# ------------------------------------------------------------------------------------------------ heartbeats


def heartbeat(user_id: int, payload) -> Reply:
    """Judge one heartbeat {sid, token, position_s, playing, hints}; acknowledge with the next token or an error."""
    settings = tracking_settings()
    sid, token = _sid(payload), _token(payload)
    position_s = payload.get("position_s")
    if isinstance(position_s, bool) or not isinstance(position_s, int | float) or not (
            math.isfinite(position_s) and 0 <= position_s <= MAX_POSITION_S):
        raise InvalidInput({"position_s": "播放位置应为非负的秒数。"})
    playing = payload.get("playing", True)
    if not isinstance(playing, bool):
        raise InvalidInput({"playing": "playing 应为 true 或 false。"})
    check_id = secrets.token_urlsafe(8)
    out = get_store().heartbeat(
        settings.script_config, user_id=user_id, sid=sid, token=token, next_token=secrets.token_urlsafe(16),
        position_ms=int(round(position_s * 1000)), playing=playing, hints=_hints(payload.get("hints")),
        draw_ms=_draw_check_ms(settings), check_code=_check_code(), check_id=check_id)
    status = out["status"]
    if status != "ok":
        return Reply(_refusal(status, out), detail=out)
    _ask_from_bank(user_id, sid, out.get("check"), check_id)
    credited, interval = out["credit_ms"], out["dt_ms"]
    reason = out.get("reason")
    notices = []
    if reason:
        notices.append(explain(reason, interval - credited, settings, furthest_ms=out["furthest_ms"]))
    if out.get("voided_reason"):
        notices.append(explain(out["voided_reason"], out["voided_ms"], settings))
    if out["held"]:
        notices.append(explain("held"))
    ack = {
        "ok": True, "token": out["token"], "next_heartbeat_s": _next_heartbeat_s(settings),
        "interval": {"seconds": _s(interval), "credited_s": _s(credited), "reason": reason,
                     "message": notices[0] if reason else None},
        **_totals(out), "today_s": _s(out["today_ms"]), "resume_s": _s(out["resume_ms"]),
        "voided_s": _s(out["voided_ms"]), "check": _check_view(user_id, out.get("check"), out), "held": out["held"],
        "notices": notices,
    }
    # Reaching the watch requirement is a milestone worth writing now, once, rather than at the next flush.
    return Reply(ack, [(user_id, sid)] if out.get("just_met") else [], out)


def answer_check(user_id: int, payload) -> Reply:
    """Answer the attention check {sid, check_id, answer}: right confirms pending time, wrong or late voids it."""
    settings = tracking_settings()
    sid = _sid(payload)
    check_id, answer = payload.get("check_id"), payload.get("answer")
    if not isinstance(check_id, str) or not _TOKEN.match(check_id):
        raise InvalidInput({"check_id": "缺少验证编号。"})
    if not isinstance(answer, str) or len(answer) > 64:
        raise InvalidInput({"answer": "请输入验证码。"})
    out = get_store().answer(settings.script_config, user_id=user_id, sid=sid, check_id=check_id,
                             answer=_normalise_answer(answer), draw_ms=_draw_check_ms(settings))
    status = out["status"]
    if status == "no_check":
        return Reply(_error("no_check", "没有待回答的验证，或验证已失效。"))
    ack = {"ok": True, "result": status, **_totals(out), "held": out["held"]}
    if status == "passed":
        ack["confirmed_s"] = _s(out["confirmed_ms"])
        ack["message"] = f"验证通过，已确认 {format_duration(out['confirmed_ms'])}学习时间"
    elif status == "wrong":
        ack["voided_s"] = _s(out["voided_ms"])
        ack["message"] = explain("check_wrong", out["voided_ms"], settings)
    else:  # expired
        ack["voided_s"] = _s(out["voided_ms"])
        ack["message"] = (explain("check_missed", out["voided_ms"], settings) if out["blocking"]
                          else "验证已过期，待确认的学习时间将在下次验证通过后计入")
    return Reply(ack, [(user_id, sid)])


def close_session(user_id: int, payload) -> Reply:
    """End a playback {sid}; offer a closing check when time since the last check is still pending."""
    settings = tracking_settings()
    sid = _sid(payload)
    check_id = secrets.token_urlsafe(8)
    out = get_store().close(settings.script_config, user_id=user_id, sid=sid, draw_ms=_draw_check_ms(settings),
                            check_code=_check_code(), check_id=check_id)
    if out["status"] == "no_session":
        return Reply(_error("no_session", explain("no_session")))
    if out["status"] == "ended":
        return Reply({"ok": True, "already_ended": True, "reason": out.get("reason")})
    _ask_from_bank(user_id, sid, out.get("check"), check_id)
    notices = [explain("check_missed", out["voided_ms"], settings)] if out["voided_ms"] else []
    ack = {"ok": True, "already_ended": False, **_totals(out), "check": _check_view(user_id, out.get("check"), out),
           "held": out["held"], "notices": notices}
    return Reply(ack, [(user_id, sid)])


def close_idle_sessions() -> list[tuple[int, str]]:
    """Close open playbacks without a heartbeat for ``idle_close_s``; return them (user id, sid) for the flush."""
    settings = tracking_settings()
    store = get_store()
    idle_ms = int(settings.idle_close_s * 1000)
    closed = []
    for user_id, sid in store.idle_sessions(store.now_ms() - idle_ms):
        out = store.close(settings.script_config, user_id=user_id, sid=sid, reason="idle", idle_ms=idle_ms,
                          draw_ms=_draw_check_ms(settings), check_code=_check_code(),
                          check_id=secrets.token_urlsafe(8))
        if out["status"] == "closed":
            closed.append((user_id, sid))
    return closed


def has_active_playback(user_id: int, courseware_id: int) -> bool:
    """Tell whether the person's one active playback is of this courseware (e.g. before handing out a media key)."""
    store = get_store()
    sid = store.redis.get(f"{person_prefix(user_id)}active")
    if sid is None:
        return False
    state, cw = store.redis.hmget(session_key(user_id, sid.decode()), "state", "cw")
    return state == b"open" and cw == str(courseware_id).encode()


# ------------------------------------------------------------------------------------------------ flush


@dataclass
class FlushResult:
    """What a flush wrote: the progress it recomputed, and per session how many trace points the database holds."""

    progress: list[CoursewareProgress] = field(default_factory=list)
    trace_written: dict[tuple[int, str], int] = field(default_factory=dict)
    # (user id, sid) → the Redis version of the snapshot written, so a closed session unchanged since may expire.
    versions: dict[tuple[int, str], int] = field(default_factory=dict)


def flush_sessions(keys: Iterable[tuple[int, str]]) -> FlushResult:
    """Write sessions' live state from Redis to the database and recompute the progress they touch (no commit).

    Idempotent: values are absolute, events and trace points are appended from where the database left off, and
    a snapshot older than what the row already holds is skipped, so a retried or concurrent flush is harmless.
    """
    keys = list(dict.fromkeys(keys))
    result = FlushResult()
    if not keys:
        return result
    rows = {row.public_id: row for row in db.session.scalars(
        sa.select(PlaybackSession).where(PlaybackSession.public_id.in_([sid for _, sid in keys])).with_for_update())}
    touched: dict[tuple[int, int], dict] = {}
    now = _utcnow()
    # One Redis round trip for the whole batch: the flush runs inside a web process, between its heartbeats.
    snapshots = get_store().snapshots([
        (user_id, sid, rows[sid].event_count if sid in rows else 0, rows[sid].trace_points if sid in rows else 0)
        for user_id, sid in keys])
    for (user_id, sid), snap in zip(keys, snapshots, strict=True):
        row = rows.get(sid)
        if snap is None or (row is not None and row.redis_version >= snap.version):
            continue
        f = snap.fields
        courseware_id = int(f["cw"])
        if row is None:
            row = rows[sid] = PlaybackSession(
                public_id=sid, user_id=user_id, courseware_id=courseware_id, started_at=_at(f["started_ms"]),
                ip=f.get("ip", ""), user_agent=f.get("ua", ""), device_id=f.get("dev") or None, trace_points=0,
                event_count=0, hold_state=HoldState.NONE)
            db.session.add(row)
        row.state = PlaybackState(f["state"])
        row.end_reason = f.get("end_reason") or None
        row.ended_at = _at(f["ended_ms"]) if f.get("ended_ms") else None
        row.last_heartbeat_at = _at(f["last_hb_ms"])
        row.credited_seconds = int(f.get("credited_ms", 0)) / 1000
        row.pending_seconds = int(f.get("prov_ms", 0)) / 1000
        row.voided_seconds = int(f.get("voided_ms", 0)) / 1000
        row.furthest_verified_s = int(f.get("furthest_ms", 0)) / 1000
        row.coverage_bitmap = snap.coverage_bitmap
        row.coverage_seconds = _popcount(snap.coverage_bitmap)
        row.heartbeat_count = int(f.get("hb_n", 0))
        row.risk_score = int(f.get("risk", 0))
        if f.get("held") == "1" and row.hold_state == HoldState.NONE:
            row.hold_state, row.held_at = HoldState.HELD, _at(f.get("held_ms") or f["last_hb_ms"])
            notify_on.session_held(row)
        for event in snap.new_events:
            values = event.get("v")
            db.session.add(SessionEvent(session=row, seq=int(event["seq"]), type=event["type"], at=_at(event["t"]),
                                        values=values if isinstance(values, dict) else {}))
        row.event_count += len(snap.new_events)
        if snap.new_trace:
            db.session.add(TraceChunk(session=row, first_index=row.trace_points, points=snap.new_trace))
            row.trace_points += len(snap.new_trace)
        result.trace_written[(user_id, sid)] = row.trace_points
        result.versions[(user_id, sid)] = snap.version
        row.redis_version = snap.version
        row.flushed_at = now
        touched[(user_id, courseware_id)] = snap.progress
    db.session.flush()
    result.progress = recompute_progress_of(touched)
    return result


def recompute_progress(user_id: int, courseware_id: int, live: dict | None = None) -> CoursewareProgress:
    """Recompute a learner's progress on a courseware from their sessions and record completion (invariant 9).

    Held and voided sessions do not count; the review module calls this again after releasing or voiding one.
    ``live`` is the courseware's progress hash from Redis (furthest and resume positions).
    """
    return recompute_progress_of({(user_id, courseware_id): live})[0]


def recompute_progress_of(touched: dict[tuple[int, int], dict | None]) -> list[CoursewareProgress]:
    """Recompute progress for many (user id, courseware id) pairs with two queries, not two per pair.

    ``touched`` maps each pair to its live progress hash from Redis (or None); progress comes back in its order.
    """
    if not touched:
        return []
    settings = tracking_settings()
    user_ids = {user_id for user_id, _ in touched}
    courseware_ids = {courseware_id for _, courseware_id in touched}
    sessions: dict[tuple[int, int], list[PlaybackSession]] = {pair: [] for pair in touched}
    for session in db.session.scalars(sa.select(PlaybackSession).where(
            PlaybackSession.user_id.in_(user_ids), PlaybackSession.courseware_id.in_(courseware_ids))):
        sessions.get((session.user_id, session.courseware_id), []).append(session)
    existing = {(p.user_id, p.courseware_id): p for p in db.session.scalars(sa.select(CoursewareProgress).where(
        CoursewareProgress.user_id.in_(user_ids), CoursewareProgress.courseware_id.in_(courseware_ids)))}
    coursewares = {c.id: c for c in db.session.scalars(sa.select(Courseware).where(
        Courseware.id.in_(courseware_ids)).options(joinedload(Courseware.media)))}
    out = []
    # Without autoflush, the rows changed here go out together at the end (one UPDATE for all of them), not
    # one by one whenever the loop touches something not yet loaded.
    with db.session.no_autoflush:
        for (user_id, courseware_id), live in touched.items():
            progress = existing.get((user_id, courseware_id))
            if progress is None:
                progress = CoursewareProgress(user_id=user_id, courseware_id=courseware_id)
                db.session.add(progress)
            _apply_progress(progress, coursewares[courseware_id], sessions[(user_id, courseware_id)], live,
                            settings)
            out.append(progress)
    db.session.flush()
    return out


def _apply_progress(progress: CoursewareProgress, courseware: Courseware, sessions: list[PlaybackSession],
                    live: dict | None, settings: TrackingSettings) -> None:
    counting = [s for s in sessions if s.hold_state in COUNTING_HOLD_STATES]
    bitmap = or_bitmaps(s.coverage_bitmap for s in counting)
    progress.verified_watch_seconds = round(sum(s.credited_seconds for s in counting), 3)
    progress.held_seconds = round(sum(s.credited_seconds for s in sessions if s.hold_state == HoldState.HELD), 3)
    progress.coverage_bitmap = bitmap
    progress.coverage_seconds = _popcount(bitmap)
    live = live or {}
    progress.furthest_verified_s = max([int(live.get("furthest_ms") or 0) / 1000,
                                        *(s.furthest_verified_s for s in counting)])
    if live.get("resume_ms"):
        progress.resume_s = int(live["resume_ms"]) / 1000
    if courseware.media is not None and courseware.media.duration_s:
        facts = media_facts(courseware, settings)
        progress.required_watch_seconds = facts.required_watch_ms / 1000
        progress.required_coverage_seconds = facts.required_coverage_s
        met = (progress.verified_watch_seconds * 1000 >= facts.required_watch_ms
               and progress.coverage_seconds >= facts.required_coverage_s)
        if met and progress.completed_at is None:
            progress.completed_at = _utcnow()
        elif not met:
            progress.completed_at = None
    progress.updated_at = _utcnow()


def or_bitmaps(bitmaps: Iterable[bytes | None]) -> bytes:
    """Return the union of coverage bitmaps (Redis bit order, so lengths align at the first byte)."""
    result = bytearray()
    for bitmap in bitmaps:
        if not bitmap:
            continue
        if len(bitmap) > len(result):
            result.extend(bytes(len(bitmap) - len(result)))
        for i, byte in enumerate(bitmap):
            result[i] |= byte
    return bytes(result)


# ------------------------------------------------------------------------------------------------ helpers


def _popcount(bitmap: bytes | None) -> int:
    return int.from_bytes(bitmap or b"", "big").bit_count()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _at(ms) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC).replace(tzinfo=None)


def _s(ms) -> float:
    return round((ms or 0) / 1000, 3)


def _totals(out: dict) -> dict:
    return {
        "held_reasons": hold_reasons(out.get("held_types")) if out.get("held") else [],
        "session": {"credited_s": _s(out["credited_ms"]), "pending_s": _s(out["pending_ms"]),
                    "voided_s": _s(out["session_voided_ms"])},
        "pending_s": _s(out["pool_ms"]),
        "courseware": {
            "watch_s": _s(out["watch_ms"]), "required_watch_s": _s(out["required_watch_ms"]),
            "coverage_s": out["coverage_s"], "required_coverage_s": out["required_coverage_s"],
            "duration_s": _s(out["duration_ms"]), "furthest_verified_s": _s(out["furthest_ms"]),
            "completed": out["completed"],
        },
    }


def _ask_from_bank(user_id: int, sid: str, check: dict | None, issued_id: str) -> None:
    """Make a check issued just now a question from the course's bank, when the course has one.

    The script issued it with a random displayed code; a question's right option replaces that code before the
    acknowledgement leaves, so the page never sees which option is right.
    """
    if not check or check.get("id") != issued_id:
        return
    from lms.exams.service import attention_question  # exams builds on tracking; imported at use

    store = get_store()
    courseware_id = store.redis.hget(session_key(user_id, sid), "cw")
    course_id = db.session.scalar(sa.select(Courseware.course_id).where(Courseware.id == int(courseware_id or 0)))
    question = attention_question(course_id) if course_id else None
    if question is None:
        return
    letters = "ABCDEFGH"
    view = {"prompt": question["prompt"],
            "options": [{"value": str(index), "label": f"{letters[index]}. {text}"}
                        for index, text in enumerate(question["options"])]}
    ttl_ms = max(int(check.get("expires_in_ms", 0)), 0) + 60_000
    if store.ask_question(user_id, issued_id, str(question["answer"]), view, ttl_ms):
        check["code"] = str(question["answer"])


def _check_view(user_id: int, check: dict | None, out: dict) -> dict | None:
    if not check:
        return None
    blocking = check["kind"] == "play"
    question = get_store().check_question(user_id, check["id"])
    if question is not None:
        prompt = question["prompt"] if blocking else (
            f"{question['prompt']}（回答正确即确认最近 {format_duration(out['pool_ms'])} 的学习时间）")
        return {"id": check["id"], "kind": check["kind"], "blocking": blocking, "prompt": prompt,
                "options": question["options"], "expires_in_s": _s(max(check["expires_in_ms"], 0))}
    if blocking:
        prompt = f"请输入验证码 {check['code']}，确认您正在学习（验证期间暂停计时）"
    else:
        prompt = (f"请输入验证码 {check['code']}，确认最近 {format_duration(out['pool_ms'])} 的学习时间"
                  "（不作答将在下次验证通过后计入）")
    return {"id": check["id"], "kind": check["kind"], "blocking": blocking, "code": check["code"],
            "prompt": prompt, "expires_in_s": _s(max(check["expires_in_ms"], 0))}


def _error(code: str, message: str, **extra) -> dict:
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


def _refusal(status: str, out: dict) -> dict:
    if status == "too_soon":
        return _error("too_soon", explain("too_soon"), retry_in_s=_s(out["retry_in_ms"]))
    if status == "superseded":
        return _error("superseded", explain("superseded"))
    if status == "ended":
        return _error("ended", explain("idle" if out.get("reason") == "idle" else "closed"))
    if status == "bad_token":
        return _error("bad_token", explain("bad_token"))
    return _error("no_session", explain("no_session"))


def _sid(payload) -> str:
    if not isinstance(payload, dict):
        raise InvalidInput({"payload": "消息格式错误：应为 JSON 对象。"})
    sid = payload.get("sid")
    if not isinstance(sid, str) or not _SID.match(sid):
        raise InvalidInput({"sid": "缺少或错误的播放会话编号。"})
    return sid


def _token(payload) -> str:
    token = payload.get("token")
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise InvalidInput({"token": "缺少令牌。"})
    return token


def _hints(hints) -> dict:
    """Keep only well-formed hints; they are evidence, never credit."""
    if not isinstance(hints, dict):
        return {}
    clean = {}
    for name in ("webdriver", "hidden"):
        if isinstance(hints.get(name), bool):
            clean[name] = hints[name]
    rate = hints.get("rate")
    if isinstance(rate, int | float) and not isinstance(rate, bool) and math.isfinite(rate) and 0 <= rate <= 100:
        clean["rate"] = float(rate)
    for name in ("seek_blocked", "rate_blocked"):
        blocked = hints.get(name)
        if isinstance(blocked, int) and not isinstance(blocked, bool) and 0 < blocked <= 1000:
            clean[name] = blocked
    tried = hints.get("rate_tried")
    if "rate_blocked" in clean and isinstance(tried, int | float) and not isinstance(tried, bool) and (
            math.isfinite(tried) and 0 <= tried <= 100):
        clean["rate_tried"] = float(tried)
    return clean


def _normalise_answer(answer: str) -> str:
    # Full-width digits and stray spaces from Chinese input methods are not wrong answers.
    return "".join(unicodedata.normalize("NFKC", answer).split())


def _check_code() -> str:
    return f"{secrets.randbelow(10000):04d}"


def _draw_check_ms(settings: TrackingSettings) -> int:
    """Draw the credited playing time until the next attention check: min gap + an exponential remainder."""
    spread = max(settings.check_mean_interval_s - settings.check_min_gap_s, 0.001)
    floor = min(settings.check_min_gap_s, settings.check_mean_interval_s)
    return int((floor + _random.expovariate(1 / spread)) * 1000)


def _next_heartbeat_s(settings: TrackingSettings) -> float:
    jitter = settings.heartbeat_jitter
    return round(settings.heartbeat_interval_s * _random.uniform(1 - jitter, 1 + jitter), 3)

