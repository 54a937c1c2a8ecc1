"""PgBouncer in transaction pooling in front of the test PostgreSQL, on a free loopback port.

Debian's ``pgbouncer`` runs it; as root it is started as the ``postgres`` user (PgBouncer refuses to run as root),
so its working folder is made readable to that user. Every process is this test run's own and is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.support.services import _free_loopback_ports

BINARY = "/usr/sbin/pgbouncer"
READY_SECONDS = 20.0


class PgBouncer:
    def __init__(self, postgres_url: str, *, pool_size: int = 4, max_client_conn: int = 100):
        self.upstream = make_url(postgres_url)
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        (self.port,) = _free_loopback_ports(1)
        self.workdir = Path(tempfile.mkdtemp(prefix="lms-pgbouncer-"))
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return Path(BINARY).exists()

    def url(self) -> str:
        """The SQLAlchemy URL of the same database through PgBouncer."""
        return self.upstream.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def start(self) -> PgBouncer:
        user, password = self.upstream.username or "postgres", self.upstream.password or ""
        (self.workdir / "userlist.txt").write_text(f'"{user}" "{password}"\n', encoding="utf-8")
        (self.workdir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={self.upstream.host or '127.0.0.1'} port={self.upstream.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.workdir / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            # psycopg sends these at connect; PgBouncer passes on only what it knows.
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\npidfile = {self.workdir / 'pgbouncer.pid'}\n",
            encoding="utf-8")
        command = [BINARY, str(self.workdir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
            for path in self.workdir.iterdir():
                shutil.chown(path, "postgres")
            command[1:1] = ["-u", "postgres"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        libpq = self.upstream.set(drivername="postgresql", host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                with psycopg.connect(libpq.render_as_string(hide_password=False), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PgBouncer 未能启动：{self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.workdir / "pgbouncer.log"
        return path.read_text(encoding="utf-8", errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)
