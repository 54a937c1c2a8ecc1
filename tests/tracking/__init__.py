"""Helpers for the tracking tests: a server clock the test drives, a ready courseware, and a scripted player.

The clock is the store's test seam (``TrackingStore.clock``): server code hands the scripts the time instead of
Redis TIME. Nothing a client sends can reach it, so driving it from a test changes nothing a cheater could use.
"""

from __future__ import annotations

import decimal
import itertools
import math

from flask import Flask

from lms.accounts.models import User
from lms.courses.models import Category, Course, CourseState, Courseware, Enrollment, MediaAsset, MediaStatus
from lms.extensions import db
from lms.orgs.models import Org
from lms.tracking import service
from lms.tracking.service import MediaFacts

# 2027-01-15 09:00 China Standard Time: mid-morning, so a test's day does not roll over unless it means to.
T0_MS = 1_800_000_000_000 - (1_800_000_000_000 + 8 * 3600 * 1000) % 86_400_000 + 9 * 3600 * 1000

# Checks far away unless a test asks for them; no background flusher thread in tests.
TEST_SETTINGS = {"flush_in_background": False, "check_mean_interval_s": 10_000_000.0, "check_min_gap_s": 0.0}

_user_ids = itertools.count(50_000_000)


class FakeClock:
    """The server's clock, in ms, moved by the test."""

    def __init__(self, start_ms: int = T0_MS):
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(round(seconds * 1000))


def configure(app: Flask, **overrides) -> FakeClock:
    """Apply test tracking settings to the app and install a fake clock on its store; return the clock."""
    app.config["LMS_TRACKING"] = {**TEST_SETTINGS, **overrides}
    clock = FakeClock()
    service.get_store().clock = clock
    return clock


def synthetic_user_id() -> int:
    """Return a fresh person id for tests that stay in Redis (no database row needed)."""
    return next(_user_ids)


def media(courseware_id: int = 1, duration_s: float = 600.0, labelled_hours: float = 0.1,
          coverage_share: float = 0.95) -> MediaFacts:
    """Describe a courseware's media for start_playback without a database row."""
    duration_ms = int(duration_s * 1000)
    return MediaFacts(courseware_id=courseware_id, duration_ms=duration_ms,
                      required_watch_ms=int(labelled_hours * 2700 * 1000),
                      required_coverage_s=math.ceil(coverage_share * math.ceil((duration_ms - 500) / 1000) - 1e-9))


def make_ready_courseware(base: Org, learners: list[User] = (), *, duration_s: float = 600.0,
                          labelled_hours: str = "0.1", state: CourseState = CourseState.PUBLISHED) -> Courseware:
    """Create a published course with one courseware on ready media, and enrol the learners."""
    asset = MediaAsset(base_id=base.id, original_key="originals/test.mp4", original_filename="test.mp4",
                       size_bytes=1000, status=MediaStatus.READY, duration_s=duration_s, hls_version=1,
                       renditions=[{"name": "360p", "playlist": "360p/index.m3u8"}], progress_percent=100)
    course = Course(base_id=base.id, category=Category.PUBLIC, year=2027, title="职业道德与诚信建设", state=state)
    courseware = Courseware(course=course, position=1, title="第一讲", labelled_hours=decimal.Decimal(labelled_hours),
                            media=asset)
    db.session.add_all([asset, course, courseware])
    db.session.flush()
    for learner in learners:
        db.session.add(Enrollment(user_id=learner.id, course_id=course.id))
    db.session.commit()
    return courseware


class Player:
    """A scripted client of the service API: keeps its session, token and media position like a page would."""

    def __init__(self, clock: FakeClock, user_id: int, ack: dict):
        assert ack["ok"], ack
        self.clock, self.user_id = clock, user_id
        self.sid, self.token, self.position = ack["sid"], ack["token"], ack["resume_s"]
        self.acks: list[dict] = [ack]

    @classmethod
    def open(cls, clock: FakeClock, user_id: int | None = None, facts: MediaFacts | None = None, **kwargs) -> Player:
        """Open a playback of synthetic media for a synthetic (or given) person."""
        user_id = user_id or synthetic_user_id()
        return cls(clock, user_id, service.start_playback(user_id, facts or media(), **kwargs).ack)

    def beat(self, after_s: float = 5.0, advance_s: float | None = None, *, playing: bool = True,
             token: str | None = None, hints: dict | None = None, position_s: float | None = None) -> dict:
        """Let time pass, move the media, send a heartbeat; keep the new token when it is accepted."""
        self.clock.advance(after_s)
        if position_s is not None:
            self.position = position_s
        else:
            self.position += after_s if advance_s is None else advance_s
        payload = {"sid": self.sid, "token": token or self.token, "position_s": round(self.position, 3),
                   "playing": playing}
        if hints is not None:
            payload["hints"] = hints
        ack = service.heartbeat(self.user_id, payload).ack
        if ack["ok"]:
            self.token = ack["token"]
        self.acks.append(ack)
        return ack

    def play(self, seconds: float, step: float = 5.0, rate: float = 1.0, jitter: float = 0.0) -> list[dict]:
        """Play for the given real seconds in heartbeat steps at a playback rate.

        With ``jitter``, steps alternate step ± jitter (same total), like a page following the server's irregular
        schedule; without it the cadence is machine-regular, which is evidence after 20 heartbeats.
        """
        acks = []
        for i in range(int(round(seconds / step))):
            after = step + (jitter if i % 2 else -jitter)
            acks.append(self.beat(after, after * rate))
        return acks

    def answer(self, check: dict, answer: str | None = None) -> dict:
        """Answer an attention check (with its code unless told otherwise)."""
        payload = {"sid": self.sid, "check_id": check["id"], "answer": check["code"] if answer is None else answer}
        return service.answer_check(self.user_id, payload).ack

    def close(self) -> dict:
        """Close the playback as the page does when it unloads."""
        return service.close_session(self.user_id, {"sid": self.sid}).ack

    def credited(self) -> float:
        """Return the session's confirmed plus pending seconds from the last acknowledgement that had totals."""
        for ack in reversed(self.acks):
            if ack.get("session"):
                return ack["session"]["credited_s"] + ack["session"]["pending_s"]
        return 0.0
