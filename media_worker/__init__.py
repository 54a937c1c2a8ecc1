"""Media worker for the production shape: runs the jobs of the RQ queue ``media``.

Start it with ``python -m media_worker`` (docker-compose service ``worker``). It needs
``LMS_REDIS_URL``; in the embedded mode media jobs run on a thread inside the web
process and this worker is not used. The jobs themselves live in the app.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from urllib.parse import urlsplit, urlunsplit

import redis
from rq import Queue, Worker, get_current_job

QUEUE_NAME = "media"
# One connection blocks in BLPOP, a few more for heartbeats and registry clean-up; the forked
# work horse gets a fresh pool of its own. redis-py 8 pools must be sized explicitly.
MAX_CONNECTIONS = 8
POOL_TIMEOUT = 30  # seconds to wait for a free pooled connection before raising

LOG_FORMAT = "%(asctime)s %(levelname)s [job %(job_id)s] %(name)s: %(message)s"

log = logging.getLogger("media_worker")


def redis_connection(url: str, max_connections: int = MAX_CONNECTIONS) -> redis.Redis:
    """A Redis client on a bounded, blocking pool (waits for a free connection instead of failing)."""
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=POOL_TIMEOUT)
    return redis.Redis(connection_pool=pool)


def media_queue(connection: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=connection)


class JobIdFilter(logging.Filter):
    """Adds ``job_id`` to every record: the id of the RQ job being performed, or ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = get_current_job()
        record.job_id = job.id if job is not None else "-"
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(JobIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]  # rq adds no handler of its own when the root logger has one
    root.setLevel(level)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def healthcheck(connection: redis.Redis) -> int:
    """0 when a live worker process of this host is registered on the media queue."""
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
    assert config.redis_url is not None

    connection = redis_connection(config.redis_url)
    if args.healthcheck:
        try:
            return healthcheck(connection)
        except redis.RedisError as exc:
            print(f"media_worker: Redis 不可用：{exc}", file=sys.stderr)
            return 1

    setup_logging(config.log_level)
    try:
        worker = Worker([media_queue(connection)], connection=connection)
        log.info("media worker %s: queue %r on %s", worker.name, QUEUE_NAME, _redacted(config.redis_url))
        worker.work(burst=args.burst, logging_level=config.log_level)
    except redis.ConnectionError as exc:
        log.error("无法连接 Redis (%s)：%s", _redacted(config.redis_url), exc)
        return 1
    return 0
