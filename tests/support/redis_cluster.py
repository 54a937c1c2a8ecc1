"""A real Redis Cluster on free loopback ports, for the tracking tests: 3 masters, each with a replica.

Debian's ``redis-server`` runs every node with ``--cluster-enabled yes`` (no persistence, this test run's own
processes); ``redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`` assigns the slots. A replica can be
promoted (``CLUSTER FAILOVER``, the planned switch-over) to test that tracking follows it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.support.services import _free_loopback_ports

MASTERS = 3
READY_SECONDS = 30.0


class RedisClusterGroup:
    def __init__(self, workdir: Path, masters: int = MASTERS, replicas: int = 1):
        self.workdir = workdir
        ports = _free_loopback_ports(2 * masters * (1 + replicas))
        # The bus port is given too: the default (port + 10000) fails above 55535, where free ports often are.
        self.ports, self.bus_ports = ports[:len(ports) // 2], ports[len(ports) // 2:]
        self.masters, self.replicas = masters, replicas
        self.processes: list[subprocess.Popen] = []

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None

    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:self.masters]) + "/"

    def start(self) -> RedisClusterGroup:
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            node_dir = self.workdir / str(port)
            node_dir.mkdir()
            self._spawn(node_dir, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--cluster-enabled", "yes",
                                   "--cluster-port", str(bus_port), "--cluster-config-file", "nodes.conf",
                                   "--cluster-node-timeout", "2000",
                                   "--dir", str(node_dir)])
        self._wait(lambda: all(self.node(port).ping() for port in self.ports))
        created = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create 失败：\n{created.stdout[-1500:]}\n{created.stderr[-800:]}")
        self._wait(self._ready)
        return self

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=3)

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in self.ports[:self.masters]],
                            socket_timeout=3)

    def master_ports(self) -> list[int]:
        return sorted(port for port in self.ports if self._role(port) == "master")

    def empty(self) -> None:
        """Delete every key on every master (between tests)."""
        for port in self.master_ports():
            self.node(port).flushall()

    def keys_per_master(self) -> dict[int, int]:
        return {port: int(self.node(port).dbsize()) for port in self.master_ports()}

    def fail_over(self, master_port: int) -> int:
        """Promote ``master_port``'s replica with CLUSTER FAILOVER (it first catches up with its master, so no
        write is lost); wait until the cluster agrees; return the new master's port."""
        replica = next(port for port in self.ports if self._role(port) == "slave"
                       and int(self.node(port).info("replication")["master_port"]) == master_port)
        self.node(replica).execute_command("CLUSTER", "FAILOVER")
        self._wait(lambda: self._role(replica) == "master" and self._role(master_port) == "slave" and self._ready())
        return replica

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def _role(self, port: int) -> str:
        return self.node(port).info("replication")["role"]

    def _ready(self) -> bool:
        if not all(self.node(port).cluster("info")["cluster_state"] == "ok" for port in self.ports):
            return False
        # Every node sees every other (the gossip settled), and every replica is in sync with its master.
        for port in self.ports:
            nodes = self.node(port).execute_command("CLUSTER", "NODES").decode().splitlines()
            if len(nodes) != len(self.ports) or any("fail" in line.split()[2] or "handshake" in line.split()[2]
                                                    for line in nodes):
                return False
            replication = self.node(port).info("replication")
            if replication["role"] == "slave" and replication.get("master_link_status") != "up":
                return False
        return True

    def _spawn(self, node_dir: Path, argv: list[str]) -> None:
        with (node_dir / "redis.log").open("wb") as log:  # the child keeps its own copy
            self.processes.append(subprocess.Popen(argv, cwd=node_dir, stdout=log, stderr=subprocess.STDOUT,
                                                   start_new_session=True))

    def _wait(self, ready) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                if ready():
                    return
            except (redis.RedisError, OSError, KeyError, IndexError, TypeError, ValueError, StopIteration):
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-600:] for p in sorted(self.workdir.glob("*/redis.log")))
                raise RuntimeError(f"Redis 集群未就绪：\n{logs}")
            time.sleep(0.1)
