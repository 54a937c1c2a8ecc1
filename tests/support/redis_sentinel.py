"""A Redis master, a replica and a Sentinel on free loopback ports, for the Redis-by-role tests.

Debian's ``redis-server`` runs all three (``--sentinel`` for the last); every process is this test run's own,
with no persistence, and is stopped at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support.services import _free_loopback_ports

SERVICE = "lmsq"
READY_SECONDS = 20.0


class SentinelGroup:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.master_port, self.replica_port, self.sentinel_port = _free_loopback_ports(3)
        self.processes: list[subprocess.Popen] = []

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def url(self, db: int = 0) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{db}/{SERVICE}"

    def start(self) -> SentinelGroup:
        plain = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._spawn(["redis-server", "--port", str(self.master_port), *plain])
        self._spawn(["redis-server", "--port", str(self.replica_port), *plain,
                     "--replicaof", "127.0.0.1", str(self.master_port)])
        conf = self.workdir / "sentinel.conf"
        conf.write_text(f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                        f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 1\n"
                        f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                        f"sentinel failover-timeout {SERVICE} 5000\n", encoding="utf-8")
        self._spawn(["redis-server", str(conf), "--sentinel"])
        self._wait(lambda: self.sentinel().sentinel_master(SERVICE)["num-slaves"] >= 1 and redis.Redis(
            port=self.replica_port, socket_timeout=2).info("replication")["master_link_status"] == "up")
        return self

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_port, socket_timeout=2, decode_responses=True)

    def master_port_now(self) -> int:
        return int(self.sentinel().sentinel_get_master_addr_by_name(SERVICE)[1])

    def fail_over(self) -> int:
        """Promote the replica (SENTINEL FAILOVER); wait until it is the master and the old one its replica.

        Replication is asynchronous: a write the old master takes between the promotion and its demotion is lost
        (Redis Sentinel's documented window), so the callers write again only once both sides have switched.
        """
        before = self.master_port_now()
        # What the master took so far reaches the replica first (WAIT), as a planned switch-over would do.
        assert redis.Redis(port=before, socket_timeout=5).execute_command("WAIT", 1, 5000) >= 1
        self.sentinel().execute_command("SENTINEL", "FAILOVER", SERVICE)

        def role(port: int) -> str:
            return redis.Redis(port=port, socket_timeout=2).info("replication")["role"]

        self._wait(lambda: self.master_port_now() != before and role(self.master_port_now()) == "master"
                   and role(before) == "slave")
        return self.master_port_now()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def _spawn(self, argv: list[str]) -> None:
        with (self.workdir / f"{len(self.processes)}.log").open("wb") as log:  # the child keeps its own copy
            self.processes.append(subprocess.Popen(argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                                   start_new_session=True))

    def _wait(self, ready) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                if ready():
                    return
            except (redis.RedisError, OSError, KeyError, IndexError, TypeError):
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-800:] for p in sorted(self.workdir.glob("*.log")))
                raise RuntimeError(f"Redis Sentinel 组未就绪：\n{logs}")
            time.sleep(0.1)
