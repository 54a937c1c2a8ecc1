"""``python -m media_worker``: the RQ worker of the ``media`` queue (docker-compose service ``worker``).

It needs ``LMS_REDIS_URL``; in the embedded mode media jobs run on a thread inside the web process.
Every log line carries the id of the job it belongs to. Whenever RQ runs its maintenance (at start-up and
every 10 minutes while idle) the worker also re-enqueues assets whose job died with its worker, so
recovery after a crash does not depend on RQ noticing the abandoned job.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import redis
from flask import Flask
from prometheus_client import start_http_server
from rq import Queue, Worker, get_current_job

from lms.core.jobs import EXPORTS_QUEUE, MEDIA_QUEUE, NOTIFICATIONS_QUEUE, job_app
from lms.core.metrics import JOB_SECONDS
from lms.core.redis import client_for_url

# One connection blocks in BLPOP, a few more for heartbeats and registry clean-up; the forked
# work horse gets a fresh pool of its own. redis-py 8 pools must be sized explicitly.
MAX_CONNECTIONS = 8
POOL_TIMEOUT = 30  # seconds to wait for a free pooled connection before raising

LOG_FORMAT = "%(asctime)s %(levelname)s [job %(job_id)s] %(name)s: %(message)s"

log = logging.getLogger("media_worker")


def redis_connection(url: str, max_connections: int = MAX_CONNECTIONS) -> redis.Redis:
    """Return a Redis (or Sentinel-managed) client on a bounded pool for the queue's URL."""
    return client_for_url(url, max_connections=max_connections, pool_timeout=POOL_TIMEOUT)


def media_queue(connection: redis.Redis) -> Queue:
    """Return the RQ queue the media jobs are put on."""
    return Queue(MEDIA_QUEUE, connection=connection)


class JobIdFilter(logging.Filter):
    """Add ``job_id`` to every record: the id of the RQ job being performed, or ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = get_current_job()
        record.job_id = job.id if job is not None else "-"
        return True


def setup_logging(level: str) -> None:
    """Send every logger's records to stderr with the job id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(JobIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]  # rq adds no handler of its own when the root logger has one
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # building the app logs Alembic's plugin set-up


class MediaWorker(Worker):
    """The RQ worker of the media queue; its maintenance also recovers assets orphaned by dead workers."""

    def execute_job(self, job, queue) -> None:
        """Run the job in its work horse, then record how long it took and how it ended (in this process)."""
        started = time.perf_counter()
        try:
            super().execute_job(job, queue)
        finally:
            status = job.get_status(refresh=True)
            JOB_SECONDS.labels(queue.name, getattr(status, "value", str(status))).observe(
                time.perf_counter() - started)

    def run_maintenance_tasks(self) -> None:
        """Run RQ's maintenance (which re-queues jobs it knows were abandoned), then sweep the asset table."""
        super().run_maintenance_tasks()
        recover_orphaned_assets(job_app())


def recover_orphaned_assets(app: Flask) -> list[int]:
    """Delete work folders of dead jobs on this host and re-enqueue assets left without a live job."""
    # Imported here so that ``--healthcheck`` stays quick: it never loads the app's models.
    from lms.extensions import db
    from media_worker.jobs import remove_stale_work_dirs, sweep_stuck_assets

    with app.app_context():
        try:
            for path in remove_stale_work_dirs():
                log.info("removed the work folder of a dead job: %s", path)
            return sweep_stuck_assets()
        except Exception:
            log.exception("sweep of stuck media assets failed; it runs again at the next maintenance")
            return []
        finally:
            # No pooled database connection may be inherited by the next forked work horse.
            db.session.remove()
            db.engine.dispose()


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def healthcheck(connection: redis.Redis) -> int:
    """Return 0 when a live worker process of this host is registered on the media queue."""
    host = socket.gethostname()
    for worker in Worker.all(queue=media_queue(connection)):
        if worker.hostname != host or not worker.pid:
            continue
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        return 0
    print(f"media_worker: 本机 ({host}) 没有已注册的 worker", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run the worker (or its health check) until stopped; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m media_worker", description="运行 media 队列的 RQ worker。")
    parser.add_argument("--burst", action="store_true", help="处理完队列中已有的任务后退出")
    parser.add_argument("--healthcheck", action="store_true", help="检查本机 worker 是否在运行（容器健康检查用）")
    args = parser.parse_args(argv)

    if not os.environ.get("LMS_REDIS_URL"):
        print(
            "media_worker: 未设置 LMS_REDIS_URL。独立的媒体 worker 只用于生产部署（任务经 Redis 队列分发）；"
            "嵌入式模式下媒体任务在 Web 进程内的线程里运行，无需启动本进程。",
            file=sys.stderr,
        )
        return 2

    from lms.config import Config, ConfigError

    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"media_worker: 配置错误：{exc}", file=sys.stderr)
        return 2
    queue_url = config.redis_url_for("queue")
    assert queue_url is not None

    connection = redis_connection(queue_url)
    if args.healthcheck:
        try:
            return healthcheck(connection)
        except redis.RedisError as exc:
            print(f"media_worker: Redis 不可用：{exc}", file=sys.stderr)
            return 1

    setup_logging(config.log_level)
    if config.metrics_port:
        start_http_server(config.metrics_port)  # Prometheus scrapes each worker process on its own port
    job_app()  # built once here; every forked work horse inherits it instead of building its own per job
    try:
        # Text messages first (seconds each), then exports: an admin waits for a batch print, a transcode is
        # waited for by nobody in particular.
        worker = MediaWorker([Queue(NOTIFICATIONS_QUEUE, connection=connection),
                              Queue(EXPORTS_QUEUE, connection=connection), media_queue(connection)],
                             connection=connection)
        log.info("media worker %s: queues %r, %r, %r on %s", worker.name, NOTIFICATIONS_QUEUE, EXPORTS_QUEUE,
                 MEDIA_QUEUE, _redacted(queue_url))
        # The scheduler puts retries with an interval (a failed SMS, a failed transcode) back on their queue.
        worker.work(burst=args.burst, logging_level=config.log_level, with_scheduler=True)
    except redis.ConnectionError as exc:
        log.error("无法连接 Redis (%s)：%s", _redacted(queue_url), exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
