"""Flushing watch time from Redis to the database: in batches every ``flush_interval_s``, and at a session's end.

Every web process runs one flusher loop (started with its first tracking connection); a lock in Redis lets only
one of them flush per interval, so the database sees one batch per interval however many processes there are.
A process killed mid-session loses nothing that Redis holds: the next flush, from any process, writes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import redis
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError, OperationalError

from lms.core import metrics
from lms.extensions import db, socketio
from lms.tracking import service

log = logging.getLogger(__name__)

# The flush runs in a web process between its heartbeats, and turning rows into SQL is CPU work that does not
# yield to the other greenlets (about 1 ms a session): one batch of 500 sessions held every heartbeat of the
# process for half a second. Small batches with a pause between them leave the heartbeats their CPU.
BATCH_SIZE = 20
BATCH_PAUSE_S = 0.01
_ATTEMPTS = 3
_start_lock = threading.Lock()


def flush_now(keys: Sequence[tuple[int, str]]) -> None:
    """Write the given sessions (user id, sid) to the database in one transaction and commit."""
    keys = list(keys)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            result = service.flush_sessions(keys)
            db.session.commit()
            break
        except (IntegrityError, OperationalError):
            # Another process inserted the same new session (or SQLite was busy): its rows are there now.
            db.session.rollback()
            if attempt == _ATTEMPTS:
                raise
            log.info("tracking flush of %d sessions retried (attempt %d)", len(keys), attempt)
    # Only once the database holds them may the trace points leave Redis.
    settings = service.tracking_settings()
    service.get_store().flushed(
        {key: (points, result.versions[key]) for key, points in result.trace_written.items()},
        closed_keep_ms=int(settings.closed_keep_s * 1000), superseded_keep_ms=int(settings.idle_close_s * 1000))


def flush_dirty_sessions() -> int:
    """Flush every session changed since the last flush, in batches; return how many were written."""
    started = time.perf_counter()
    store = service.get_store()
    keys = store.take_dirty()
    for start in range(0, len(keys), BATCH_SIZE):
        if start:
            socketio.sleep(BATCH_PAUSE_S)  # let the heartbeats waiting meanwhile be answered
        flush_now(keys[start:start + BATCH_SIZE])
    store.finish_dirty()
    metrics.FLUSH_ROUND_SECONDS.observe(time.perf_counter() - started)
    metrics.FLUSHED_SESSIONS.inc(len(keys))
    metrics.LAST_FLUSH.set_to_current_time()
    return len(keys)


def flush_tick() -> int:
    """Run one round of the flusher unless another process ran one this interval: close idle sessions, flush."""
    settings = service.tracking_settings()
    # The lock outlives the round on purpose: it spaces rounds by (almost) the interval across all processes.
    if not service.get_store().try_lock("flush", max(int(settings.flush_interval_s * 900), 1)):
        return 0
    service.close_idle_sessions()
    flushed = flush_dirty_sessions()
    # An organisation's usual addresses, learned from its people's sessions: one process an hour is plenty.
    if service.get_store().try_lock("learn_addresses", 3_600_000):
        from lms.addresses.service import learn_addresses  # addresses reads tracking's sessions; imported at use

        learn_addresses(settings.learn_min_people, settings.learn_min_days, settings.learn_lookback_days)
        db.session.commit()
    return flushed


def run_flusher(app: Flask, stop: threading.Event) -> None:
    """Loop in the background of a web process: one flush round every ``flush_interval_s`` until stopped."""
    while not stop.is_set():
        with app.app_context():
            interval = service.tracking_settings().flush_interval_s
        socketio.sleep(interval)
        if stop.is_set():
            break
        with app.app_context():
            try:
                flushed = flush_tick()
                if flushed:
                    log.debug("tracking flush wrote %d sessions", flushed)
            except Exception as error:
                db.session.rollback()
                metrics.BACKEND_ERRORS.labels("redis" if isinstance(error, redis.RedisError) else "database").inc()
                log.exception("tracking flush failed; the sessions stay marked and are retried next round")
            finally:
                db.session.remove()


def ensure_background_flusher(app: Flask | None = None) -> threading.Event | None:
    """Start this process's flusher loop for the app once (unless disabled); return its stop event."""
    app = app or current_app._get_current_object()
    with app.app_context():
        enabled = service.tracking_settings().flush_in_background
    if not enabled:
        return None
    with _start_lock:
        running = app.extensions.get("lms.tracking.flusher")
        if running is None:
            stop = threading.Event()
            running = app.extensions["lms.tracking.flusher"] = (stop, socketio.start_background_task(
                run_flusher, app, stop))
    return running[0]


def stop_background_flusher(app: Flask, timeout_s: float = 10.0) -> None:
    """Stop the app's flusher loop after its current round (at shutdown); flush nothing more."""
    with _start_lock:
        running = app.extensions.pop("lms.tracking.flusher", None)
    if running is not None:
        stop, task = running
        stop.set()
        task.join(timeout_s)
