"""Watch time reaches the database in batches, survives a killed process, and completes a courseware (invariant 9)."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lms.extensions import db
from lms.tracking import service, tasks
from lms.tracking.models import CoursewareProgress, HoldState, PlaybackSession, PlaybackState, SessionEvent
from lms.tracking.store import person_prefix
from tests.tracking import Player, configure, make_ready_courseware


@pytest.fixture
def clock(app):
    return configure(app)


@pytest.fixture
def courseware(tree):
    return make_ready_courseware(tree.base_a, [tree.learner_a, tree.learner_b], duration_s=300.0,
                                 labelled_hours="0.1")


def open_player(clock, user, courseware, **kwargs) -> Player:
    """Open a playback as the namespace does: authorise, open, write any session that just ended."""
    reply = service.open_session(user, courseware.id, ip="198.51.100.1", user_agent="pytest", **kwargs)
    if reply.flush:
        tasks.flush_now(reply.flush)
    return Player(clock, user.id, reply.ack)


def answer_and_flush(player: Player, check: dict) -> dict:
    reply = service.answer_check(player.user_id, {"sid": player.sid, "check_id": check["id"],
                                                  "answer": check["code"]})
    tasks.flush_now(reply.flush)
    return reply.ack


def session_row(player: Player) -> PlaybackSession:
    db.session.expire_all()
    return db.session.scalar(sa.select(PlaybackSession).where(PlaybackSession.public_id == player.sid))


def progress_row(user, courseware) -> CoursewareProgress | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(CoursewareProgress).where(CoursewareProgress.user_id == user.id,
                                                                 CoursewareProgress.courseware_id == courseware.id))


class CommitCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, session):
        self.count += 1

    def __enter__(self):
        sa.event.listen(Session, "after_commit", self)
        return self

    def __exit__(self, *exc):
        sa.event.remove(Session, "after_commit", self)


# ------------------------------------------------------------------------------------------------ batching


def test_heartbeats_never_commit_and_reach_the_database_in_batches(clock, tree, courseware):
    heartbeats, interval_s = 60, 5.0
    with CommitCounter() as commits:
        player = open_player(clock, tree.learner_a, courseware)
        last_flush = clock.ms
        for i in range(heartbeats):
            before = commits.count
            player.beat(interval_s + (0.4 if i % 2 else -0.4), position_s=None)
            assert commits.count == before, "a heartbeat committed to the database"
            if clock.ms - last_flush >= 30_000:  # what the flusher loop does every flush_interval_s
                tasks.flush_dirty_sessions()
                last_flush = clock.ms
        tasks.flush_now(service.close_session(player.user_id, {"sid": player.sid}).flush)
    assert commits.count <= math.ceil(heartbeats * interval_s / 30) + 1
    row = session_row(player)
    assert row.state == PlaybackState.CLOSED and row.end_reason == "closed"
    assert row.credited_seconds + row.pending_seconds == 300.0
    assert row.heartbeat_count == heartbeats
    assert len(row.trace) == heartbeats


def test_one_flush_of_many_learners_and_coursewares_keeps_each_progress_apart(clock, tree, courseware,
                                                                               monkeypatch):
    monkeypatch.setattr(tasks, "BATCH_SIZE", 2)  # three sessions: two batches, one pause between them
    monkeypatch.setattr(tasks, "BATCH_PAUSE_S", 0.0)
    other = make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0, labelled_hours="0.1")
    watched = {(tree.learner_a, courseware): 120, (tree.learner_b, courseware): 60, (tree.learner_a, other): 200}
    for (user, target), seconds in watched.items():
        player = open_player(clock, user, target)
        player.play(seconds, jitter=0.5)
        # Closed and confirmed, but not written: the one flush below writes all three.
        reply = service.close_session(player.user_id, {"sid": player.sid})
        check = reply.ack["check"]
        service.answer_check(player.user_id, {"sid": player.sid, "check_id": check["id"], "answer": check["code"]})
    assert db.session.scalar(sa.select(sa.func.count(PlaybackSession.id))) == 0
    with CommitCounter() as commits:
        assert tasks.flush_dirty_sessions() == 3
    assert commits.count == 2
    for (user, target), seconds in watched.items():
        progress = progress_row(user, target)
        assert progress.verified_watch_seconds == seconds
        assert progress.coverage_seconds == seconds
        assert progress.completed_at is None
        again = service.recompute_progress(user.id, target.id)  # one pair alone gives the same numbers
        assert (again.verified_watch_seconds, again.coverage_seconds) == (seconds, seconds)


def test_a_flush_is_idempotent_and_never_writes_an_older_snapshot(clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.play(20, jitter=0.5)
    keys = [(player.user_id, player.sid)]
    tasks.flush_now(keys)
    tasks.flush_now(keys)
    row = session_row(player)
    events = db.session.scalars(sa.select(SessionEvent).where(SessionEvent.session_id == row.id)).all()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert row.event_count == len(events) and len(row.trace) == 4
    version = row.redis_version
    # A stale snapshot (lower version) must not overwrite what a later flush wrote.
    row.redis_version = version + 100
    row.pending_seconds = 999.0
    db.session.commit()
    tasks.flush_now(keys)
    assert session_row(player).pending_seconds == 999.0


def test_the_flush_writes_evidence_the_trace_and_the_hold(clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.beat(hints={"webdriver": True})
    player.beat(5.0, position_s=200.0)
    tasks.flush_dirty_sessions()
    row = session_row(player)
    assert row.hold_state == HoldState.HELD and row.held_at is not None and row.risk_score >= 100
    types = [e.type for e in row.events]
    assert types[:2] == ["opened", "automation"] and "held" in types and "seek_ahead" in types
    seek = next(e for e in row.events if e.type == "seek_ahead")
    assert seek.values == {"from_ms": 5000, "to_ms": 200_000, "dt_ms": 5000}
    assert row.trace == [[5000, 5000, 5000, None], [10000, 200_000, 0, "seek_ahead"]]
    assert row.ip == "198.51.100.1" and row.user_agent == "pytest"


def test_a_takeover_writes_the_superseded_session_at_once(clock, tree, courseware):
    first = open_player(clock, tree.learner_a, courseware)
    first.play(10)
    second = open_player(clock, tree.learner_a, courseware)
    old, new = session_row(first), session_row(second)
    assert old.state == PlaybackState.SUPERSEDED and old.end_reason == "takeover" and old.ended_at is not None
    assert new.state == PlaybackState.OPEN


def test_the_flusher_runs_once_per_interval_whatever_the_number_of_processes(clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.play(10)
    assert tasks.flush_tick() == 1
    player.play(10)
    assert tasks.flush_tick() == 0  # another round within the interval is skipped (the lock is shared in Redis)
    assert session_row(player).pending_seconds == 10.0


def test_idle_playbacks_are_closed_and_written(app, clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.play(10)
    assert service.tracking_settings().idle_close_s == 1800
    clock.advance(1800)
    closed = service.close_idle_sessions()
    assert closed == [(player.user_id, player.sid)]
    tasks.flush_now(closed)
    row = session_row(player)
    assert row.state == PlaybackState.CLOSED and row.end_reason == "idle"
    assert player.beat()["error"] == {"code": "ended", "message": "长时间没有播放记录，本次播放已结束，请重新打开课件"}


def test_a_killed_process_loses_at_most_the_time_since_the_last_flush(app, app_factory, config, clock, tree,
                                                                      courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.play(30)
    tasks.flush_dirty_sessions()
    player.play(15)  # never flushed by this process, which now dies
    other = app_factory(config)
    with other.app_context():
        other.config["LMS_TRACKING"] = app.config["LMS_TRACKING"]
        service.get_store().clock = clock
        ack = player.beat()
        if config.redis_url:
            # Redis outlived the process: the page carries on with the same session on another process.
            assert ack["ok"] and ack["interval"]["credited_s"] == 5.0
            tasks.flush_dirty_sessions()
        else:
            # The embedded store lived inside the process: what was flushed is all that is left.
            assert ack["error"]["code"] == "no_session"
    row = session_row(player)
    assert row.credited_seconds + row.pending_seconds == (50.0 if config.redis_url else 30.0)


# ------------------------------------------------------------------------------------------------ invariant 9


def test_a_courseware_is_complete_with_enough_verified_time_and_coverage(clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    acks = player.play(300, jitter=0.5)
    check = acks[-1]["check"]
    assert check["kind"] == "end"
    assert progress_row(tree.learner_a, courseware) is None or not progress_row(tree.learner_a, courseware).completed
    ack = answer_and_flush(player, check)
    assert ack["courseware"]["watch_s"] == 300.0 and ack["courseware"]["coverage_s"] == 300
    progress = progress_row(tree.learner_a, courseware)
    assert progress.completed_at is not None
    assert progress.verified_watch_seconds == 300.0 and progress.coverage_seconds == 300
    assert progress.required_watch_seconds == 270.0 and progress.required_coverage_seconds == 285


def test_watch_time_without_coverage_does_not_complete_a_courseware(clock, tree, courseware):
    player = open_player(clock, tree.learner_b, courseware)
    player.play(150, jitter=0.5)
    player.beat(5.0, position_s=0.0)
    player.play(150, jitter=0.5)
    player.beat(5.0, position_s=0.0)
    player.play(20, jitter=0.5)
    reply = service.close_session(player.user_id, {"sid": player.sid})
    ack = answer_and_flush(player, reply.ack["check"])
    assert ack["session"]["credited_s"] == 320.0
    progress = progress_row(tree.learner_b, courseware)
    assert progress.verified_watch_seconds == 320.0 >= progress.required_watch_seconds
    assert progress.coverage_seconds == 150 < progress.required_coverage_seconds
    assert progress.completed_at is None


def test_reaching_the_requirement_during_a_heartbeat_asks_for_an_immediate_write(app, clock, tree, courseware,
                                                                                   monkeypatch):
    monkeypatch.setattr(service, "_draw_check_ms", lambda settings: 100_000)
    player = open_player(clock, tree.learner_a, courseware)
    for i in range(70):
        step = 4.6 if i % 2 else 5.4
        clock.advance(step)
        player.position += step
        reply = service.heartbeat(player.user_id, {"sid": player.sid, "token": player.token,
                                                   "position_s": player.position, "playing": True})
        player.token = reply.ack["token"]
        if reply.flush:
            break
        if reply.ack["check"]:
            clock.advance(2)
            player.answer(reply.ack["check"])
    assert reply.ack["courseware"]["watch_s"] == 300.0
    assert reply.flush == [(player.user_id, player.sid)]
    tasks.flush_now(reply.flush)
    assert progress_row(tree.learner_a, courseware).completed_at is not None


def test_held_time_counts_only_after_a_reviewer_releases_it(clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.beat(hints={"webdriver": True})
    acks = player.play(300, jitter=0.5)
    answer_and_flush(player, acks[-1]["check"])
    progress = progress_row(tree.learner_a, courseware)
    assert progress.verified_watch_seconds == 0.0 and progress.held_seconds == 300.0
    assert progress.completed_at is None
    row = session_row(player)
    row.hold_state = HoldState.RELEASED  # what the review module does, then it recomputes
    service.recompute_progress(tree.learner_a.id, courseware.id)
    db.session.commit()
    progress = progress_row(tree.learner_a, courseware)
    assert progress.verified_watch_seconds == 300.0 and progress.completed_at is not None


def test_a_new_playback_resumes_at_the_last_verified_position_even_after_redis_forgot(app, clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.play(100, jitter=0.5)
    player.beat(5.0, position_s=250.0)  # a seek ahead is not verified
    answer_and_flush(player, service.close_session(player.user_id, {"sid": player.sid}).ack["check"])
    client = app.extensions["lms.redis"]
    client.delete(f"{person_prefix(tree.learner_a.id)}cw:{courseware.id}",
                  f"{person_prefix(tree.learner_a.id)}cov:{courseware.id}")
    clock.advance(60)
    again = open_player(clock, tree.learner_a, courseware)
    ack = again.acks[0]
    assert ack["resume_s"] == 100.0
    assert ack["courseware"]["furthest_verified_s"] == 100.0 and ack["courseware"]["coverage_s"] == 100
    assert ack["courseware"]["watch_s"] == 100.0
    assert again.beat()["interval"]["credited_s"] == 5.0


def test_the_background_flusher_writes_without_being_asked_and_stops(app, clock, tree, courseware):
    import time

    app.config["LMS_TRACKING"] = {**app.config["LMS_TRACKING"], "flush_in_background": True,
                                  "flush_interval_s": 0.2}
    player = open_player(clock, tree.learner_a, courseware)
    player.play(10)
    assert tasks.ensure_background_flusher(app) is tasks.ensure_background_flusher(app)
    try:
        deadline = time.monotonic() + 10
        while session_row(player) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        tasks.stop_background_flusher(app)
    assert session_row(player).pending_seconds == 10.0
    assert "lms.tracking.flusher" not in app.extensions


def test_trace_points_leave_redis_once_the_database_holds_them(app, clock, tree, courseware):
    player = open_player(clock, tree.learner_a, courseware)
    player.play(20, jitter=0.5)
    tasks.flush_dirty_sessions()
    key = f"{person_prefix(player.user_id)}s:{player.sid}:tr"
    assert app.extensions["lms.redis"].llen(key) == 0
    player.play(10, jitter=0.5)
    assert app.extensions["lms.redis"].llen(key) == 2
    tasks.flush_dirty_sessions()
    row = session_row(player)
    assert row.trace_points == 6 and [c.first_index for c in row.trace_chunks] == [0, 4]
    assert [point[0] for point in row.trace] == [4500, 10000, 14500, 20000, 24500, 30000]
    assert app.extensions["lms.redis"].llen(key) == 0
