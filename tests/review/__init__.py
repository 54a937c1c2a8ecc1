"""Helpers for the review tests: playback sessions written as the tracking flush writes them, with plausible
trace points and evidence, so that the review is tested against real rows on both backends."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import xml.etree.ElementTree as ET

from lms.core.db import utcnow
from lms.extensions import db
from lms.tracking.models import HoldState, PlaybackSession, PlaybackState, SessionEvent, TraceChunk

_serial = itertools.count(1)
SVG_NS = "{http://www.w3.org/2000/svg}"


def honest_trace(seconds: int = 300, step: int = 5) -> list[list]:
    """Heartbeats every ``step`` s of honest playing from the start: each credits its whole interval."""
    return [[t * 1000, t * 1000, step * 1000, None] for t in range(step, seconds + 1, step)]


def speed_up_trace() -> list[list]:
    """60 s honest, then 30 s at 2× (refused for its rate), then 30 s honest again from where the media got to."""
    points = [[t * 1000, t * 1000, 5000, None] for t in range(5, 61, 5)]
    points += [[t * 1000, (60 + 2 * (t - 60)) * 1000, 0, "rate"] for t in range(65, 91, 5)]
    points += [[t * 1000, (120 + (t - 90)) * 1000, 5000, None] for t in range(95, 121, 5)]
    return points


def speed_up_events() -> list[tuple[float, str, dict]]:
    """The evidence the tracking scripts write for ``speed_up_trace``: three rate events hold the session."""
    events = [(0.0, "opened", {"resume_ms": 0})]
    events += [(float(t), "rate", {"dt_ms": 5000, "advance_ms": 10000, "drift_ms": 5000}) for t in (65, 70, 75)]
    events += [(75.0, "held", {"risk": 105}), (120.0, "closed", {"reason": "closed"})]
    return events


def full_coverage(seconds: int) -> bytes:
    """A coverage bitmap (Redis bit order) with every media second covered."""
    bits = "1" * seconds + "0" * (-seconds % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def make_session(user, courseware, *, hold_state: HoldState = HoldState.HELD, risk: int = 105,
                 started_at: dt.datetime | None = None, trace: list[list] | None = None,
                 events: list[tuple[float, str, dict]] | None = None, credited_s: float | None = None,
                 coverage_s: int = 300, ip: str = "198.51.100.7", user_agent: str = "Mozilla/5.0 (X11; Linux)",
                 device_id: str | None = "dev-abcdefgh") -> PlaybackSession:
    """Write a closed playback session with its trace and events, as the flush leaves it."""
    trace = honest_trace() if trace is None else trace
    events = [(0.0, "opened", {"resume_ms": 0})] if events is None else events
    started_at = started_at or utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
    last_t = trace[-1][0] / 1000 if trace else 0
    credited = sum(p[2] for p in trace) / 1000 if credited_s is None else credited_s
    session = PlaybackSession(
        public_id=f"review-test-{next(_serial):06d}", user_id=user.id, courseware_id=courseware.id,
        state=PlaybackState.CLOSED, end_reason="closed", started_at=started_at,
        ended_at=started_at + dt.timedelta(seconds=last_t), last_heartbeat_at=started_at + dt.timedelta(seconds=last_t),
        credited_seconds=credited, pending_seconds=0.0, voided_seconds=0.0,
        furthest_verified_s=max([p[1] / 1000 for p in trace] or [0]), coverage_seconds=coverage_s,
        coverage_bitmap=full_coverage(coverage_s) if coverage_s else b"", heartbeat_count=len(trace),
        event_count=len(events), risk_score=risk, hold_state=hold_state,
        held_at=started_at + dt.timedelta(seconds=last_t) if hold_state != HoldState.NONE else None,
        ip=ip, user_agent=user_agent, device_id=device_id, trace_points=len(trace), redis_version=1,
        flushed_at=utcnow())
    db.session.add(session)
    db.session.flush()
    for seq, (t_s, event_type, values) in enumerate(events, start=1):
        db.session.add(SessionEvent(session_id=session.id, seq=seq, type=event_type,
                                    at=started_at + dt.timedelta(seconds=t_s), values=values))
    # Two chunks, as two flushes would write them.
    half = len(trace) // 2
    for first, points in ((0, trace[:half]), (half, trace[half:])):
        if points:
            db.session.add(TraceChunk(session_id=session.id, first_index=first, points=points))
    db.session.commit()
    return session


def chart_svg(html: str) -> ET.Element:
    """Return the review chart of a page, parsed as XML (the SVG must be well-formed)."""
    match = re.search(r"<svg .*?</svg>", html, re.S)
    assert match, "no chart on the page"
    return ET.fromstring(match.group(0))


def polylines(svg: ET.Element, kind: str) -> list[list[tuple[float, float]]]:
    """Return the points of the trace polylines of one kind (credited, violation, idle)."""
    lines = []
    for element in svg.iter(f"{SVG_NS}polyline"):
        if f"seg-{kind}" in element.get("class", "").split():
            lines.append([tuple(float(v) for v in pair.split(",")) for pair in element.get("points").split()])
    return lines


def markers(svg: ET.Element, event_type: str) -> list[float]:
    """Return the x of every marker of one event type."""
    return [float(e.get("data-x")) for e in svg.iter(f"{SVG_NS}path") if e.get("data-type") == event_type]
