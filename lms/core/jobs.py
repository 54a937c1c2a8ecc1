"""Background jobs: RQ queues on Redis when ``LMS_REDIS_URL`` is set, else one worker thread in the web process.

Jobs take primary keys, never ORM objects, and are idempotent, so running one again after a crash is safe.
A job function runs inside an app context: the web app's own in the embedded mode, and in a worker
process an app built once from the environment (see ``job_app``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask, current_app, has_app_context
from rq import Queue, Retry

from lms.core.metrics import JOB_SECONDS

log = logging.getLogger(__name__)

MEDIA_QUEUE = "media"
# Exports and batch prints: short jobs an admin waits for, taken before the media queue's long transcodes.
EXPORTS_QUEUE = "exports"
# Text messages of the notification centre: seconds each, taken before everything else.
NOTIFICATIONS_QUEUE = "notifications"
# A 2-hour lecture transcoded to two renditions on a 2-core machine takes well under this.
MEDIA_JOB_TIMEOUT_S = 4 * 3600
MEDIA_JOB_RETRIES = Retry(max=3, interval=[10, 60, 300])

_worker_app: Flask | None = None
_worker_app_lock = threading.Lock()


def job_app() -> Flask:
    """Return the app a job runs in: the current one, or one built from the environment in a worker process."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    with _worker_app_lock:
        if _worker_app is None:
            from lms import create_app

            _worker_app = create_app()
        return _worker_app


QUEUES = (NOTIFICATIONS_QUEUE, EXPORTS_QUEUE, MEDIA_QUEUE)


def queue_depths() -> dict[str, int]:
    """Jobs waiting per queue (RQ), or in the embedded runner's thread under the name of the default queue."""
    app = current_app._get_current_object()
    if app.extensions["lms.config"].redis_url:
        return {name: Queue(name, connection=app.extensions["lms.redis.queue"]).count for name in QUEUES}
    runner = app.extensions.get("lms.jobs")
    return {MEDIA_QUEUE: runner.waiting() if runner is not None else 0}


class ThreadJobRunner:
    """The embedded mode's queue: one background thread, jobs run in order inside the app's context."""

    def __init__(self, app: Flask):
        self._app = app
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lms-jobs")
        self._waiting = 0
        self._waiting_lock = threading.Lock()

    def submit(self, func: Callable, *args, retry: Retry | None = None, attempt: int = 0) -> Future:
        """Run ``func(*args)`` on the thread; with ``retry``, a failure submits it again after RQ's interval."""

        def run():
            with self._waiting_lock:
                self._waiting -= 1
            started, status = time.perf_counter(), "finished"
            with self._app.app_context():
                try:
                    return func(*args)
                except Exception:
                    status = "failed"
                    log.exception("job %s%r failed", getattr(func, "__name__", func), args)
                    if retry is not None and attempt < retry.max:
                        self._retry_later(func, args, retry, attempt)
                    raise
                finally:
                    JOB_SECONDS.labels(MEDIA_QUEUE, status).observe(time.perf_counter() - started)

        with self._waiting_lock:
            self._waiting += 1
        return self._executor.submit(run)

    def _retry_later(self, func: Callable, args: tuple, retry: Retry, attempt: int) -> None:
        def again():
            try:
                self.submit(func, *args, retry=retry, attempt=attempt + 1)
            except RuntimeError:  # the app shut its runner down meanwhile
                log.warning("job %s%r not retried: the job thread has stopped", getattr(func, "__name__", func), args)

        timer = threading.Timer(Retry.get_interval(attempt, retry.intervals), again)
        timer.daemon = True
        timer.start()

    def waiting(self) -> int:
        """Jobs submitted and not started yet."""
        return self._waiting

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)


def enqueue(func: Callable, *args, job_id: str, queue: str = MEDIA_QUEUE,
            timeout_s: int = MEDIA_JOB_TIMEOUT_S, retry: Retry | None = MEDIA_JOB_RETRIES,
            retry_in_thread: bool = False):
    """Queue ``func(*args)``: on RQ when Redis is configured, else on the app's worker thread.

    RQ honours ``retry``; the embedded thread does only with ``retry_in_thread`` (jobs cheap and safe to repeat).
    """
    app = current_app._get_current_object()
    config = app.extensions["lms.config"]
    if config.redis_url:
        rq_queue = Queue(queue, connection=app.extensions["lms.redis.queue"])
        return rq_queue.enqueue(func, *args, job_id=job_id, job_timeout=timeout_s, retry=retry,
                                result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600)
    runner = app.extensions.get("lms.jobs")
    if runner is None:
        runner = app.extensions["lms.jobs"] = ThreadJobRunner(app)
    return runner.submit(func, *args, retry=retry if retry_in_thread else None)
