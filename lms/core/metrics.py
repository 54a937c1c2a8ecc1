"""Prometheus metrics of this process (prometheus_client): ``GET /metrics`` on web processes, a port on workers.

Each process exposes its own figures (web, worker; the flusher runs in the web processes today) and Prometheus
sums them; no multiprocess directory is needed because every gunicorn worker is scraped on its own address in
the scaled shape (one worker per container). What is counted, and why:

- ``lms_tracking_events_total{event,outcome}`` and ``lms_tracking_event_seconds{event}``: every heartbeat, open,
  answer and close, by its answer (``ok`` or the refusal code) and the server time to answer it (ack latency).
- ``lms_tracking_open_playbacks``, ``lms_tracking_flush_lag_seconds``, ``lms_tracking_flush_round_seconds``,
  ``lms_tracking_flushed_sessions_total``: whether credit reaches the database in time.
- ``lms_queue_depth{queue}`` and ``lms_job_seconds{queue,status}``: waiting and finished background jobs.
- ``lms_backend_errors_total{backend}``: Redis and database errors seen by the tracking path and the jobs.

The endpoint is for the operators' Prometheus, not the public: nginx answers 404 for it, and with
``LMS_METRICS_TOKEN`` set it also asks for ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
import time

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

# Heartbeats are answered in a few milliseconds; the buckets resolve that and the tail a learner would notice.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

TRACKING_EVENTS = Counter("lms_tracking_events", "Tracking events answered, by event and outcome.",
                          ["event", "outcome"])
TRACKING_EVENT_SECONDS = Histogram("lms_tracking_event_seconds", "Server time to answer a tracking event.",
                                   ["event"], buckets=ACK_BUCKETS)
FLUSH_ROUND_SECONDS = Histogram("lms_tracking_flush_round_seconds", "Duration of one flush round.",
                                buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30))
FLUSHED_SESSIONS = Counter("lms_tracking_flushed_sessions", "Sessions written to the database by flush rounds.")
LAST_FLUSH = Gauge("lms_tracking_last_flush_timestamp_seconds", "When this process last finished a flush round.")
BACKEND_ERRORS = Counter("lms_backend_errors", "Redis or database errors met while serving.", ["backend"])
JOB_SECONDS = Histogram("lms_job_seconds", "Background job durations, by queue and final status.",
                        ["queue", "status"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600))


class _ScrapeTimeFigures:
    """Figures read when Prometheus scrapes, from the app this process serves (queue depths, open playbacks)."""

    def __init__(self):
        self.app = None

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        app = self.app
        if app is None:
            return
        depth = GaugeMetricFamily("lms_queue_depth", "Jobs waiting in each queue.", labels=["queue"])
        playbacks = GaugeMetricFamily("lms_tracking_open_playbacks", "Playbacks open in the tracking store.")
        lag = GaugeMetricFamily("lms_tracking_flush_lag_seconds",
                                "Seconds since this process last finished a flush round (0 before the first).")
        try:
            with app.app_context():
                from lms.core.jobs import queue_depths
                from lms.tracking.service import get_store

                for queue, count in queue_depths().items():
                    depth.add_metric([queue], count)
                playbacks.add_metric([], get_store().open_count())
        except Exception:  # noqa: BLE001 - a scrape must answer even when a backend is down
            BACKEND_ERRORS.labels("redis").inc()
            log.warning("metrics: a scrape-time figure could not be read", exc_info=True)
        last = LAST_FLUSH._value.get()
        lag.add_metric([], max(time.time() - last, 0.0) if last else 0.0)
        yield depth
        yield playbacks
        yield lag


SCRAPE_TIME = _ScrapeTimeFigures()
REGISTRY.register(SCRAPE_TIME)


def init_app(app) -> None:
    SCRAPE_TIME.app = app
    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics():
    """The Prometheus text exposition of this process."""
    token = current_app.extensions["lms.config"].metrics_token
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return Response("需要监控令牌。\n", status=401, mimetype="text/plain")
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
