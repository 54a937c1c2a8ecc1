"""The Redis side of tracking: CPU per heartbeat on one Redis against a 3-master Redis Cluster, the slot spread,
and memory per session before and after a flush (``python -m benchmarks.heartbeats --redis cluster``).

Both backends are this run's own ``redis-server`` processes (no persistence), so ``INFO cpu`` counts only this
benchmark. The viewers are the service API driven from threads on the tracking store's test clock (a heartbeat
every 5 s of that clock, no waiting), through the same ``ScriptBatcher`` a gevent web process uses: the Redis
work per heartbeat is the production scripts' (judge + mark), only the sockets in front are left out. The
session keys are measured with ``MEMORY USAGE`` (``SAMPLES 0``: every element counted).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import redis
from flask_migrate import upgrade

from lms import create_app
from lms.config import Config
from lms.extensions import db
from lms.tracking import service, tasks
from lms.tracking.store import TrackingStore, bucket_keys
from tests.support.redis_cluster import RedisClusterGroup
from tests.support.services import _free_loopback_ports
from tests.support.tracking_client import seed_campus
from tests.tracking import FakeClock

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "tracking-redis.md"
# Production settings but for the flush, which the benchmark runs itself every 6 heartbeats (30 s of its clock).
SETTINGS = {"flush_in_background": False}
FLUSH_EVERY = 6
DURATION_S = 3600.0


class SingleRedis:
    def __init__(self, workdir: Path):
        self.port = _free_loopback_ports(1)[0]
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(workdir)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def nodes(self) -> list[redis.Redis]:
        return [redis.Redis(port=self.port)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Cluster:
    def __init__(self, workdir: Path):
        self.group = RedisClusterGroup(workdir, replicas=0).start()

    def url(self) -> str:
        return self.group.url()

    def nodes(self) -> list[redis.Redis]:
        return [self.group.node(port) for port in self.group.master_ports()]

    def stop(self) -> None:
        self.group.stop()


def node_cpu_s(nodes: list[redis.Redis]) -> list[float]:
    return [float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]) for cpu in (n.info("cpu") for n in nodes)]


def redis_cpu_s(nodes: list[redis.Redis]) -> float:
    return sum(node_cpu_s(nodes))


def person_bytes(nodes: list[redis.Redis]) -> dict:
    """MEMORY USAGE of every key, grouped: per person ({uid}), buckets ({bk:n}), addresses/devices ({a:…}/{d:…})."""
    groups: dict[str, int] = defaultdict(int)
    people: set[str] = set()
    kinds: dict[str, int] = defaultdict(int)
    for node in nodes:
        for key in node.scan_iter(count=1000):
            size = int(node.memory_usage(key, samples=0) or 0)
            name = key.decode()
            tag = name.partition("{")[2].partition("}")[0]
            if tag.isdigit():
                people.add(tag)
                groups["person"] += size
                parts = name.partition("}:")[2].split(":")
                kind = ("session:" + parts[2] if len(parts) > 2 else "session") if parts[0] == "s" else parts[0]
                kinds[kind] += size
            elif tag.startswith("bk:"):
                groups["buckets"] += size
            else:
                groups["addresses_devices"] += size
    return {"people": len(people), **groups, "by_kind": dict(kinds)}


def run_backend(name: str, backend, viewers: int, rounds: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="lms-bench-redis-") as data_dir:
        config = dataclasses.replace(Config.from_env({}, data_dir=Path(data_dir), secret_key="b" * 48,
                                                     cookie_secure=False), tracking_redis_url=backend.url())
        app = create_app(config)
        app.config["LMS_TRACKING"] = SETTINGS
        with app.app_context():
            upgrade()
            campus = seed_campus(viewers, duration_s=DURATION_S, labelled_hours="1")
            clock = FakeClock()
            app.extensions["lms.tracking.store"] = TrackingStore(app.extensions["lms.redis"], clock=clock,
                                                                 batch_calls=True)
            facts = service.media_facts(db.session.get(service.Courseware, campus.courseware_id),
                                        service.tracking_settings())
            pages = {}
            for index, user_id in enumerate(campus.user_ids.values()):
                ack = service.start_playback(user_id, facts, ip=f"10.{index // 65536}.{index // 256 % 256}."
                                             f"{index % 256}", device=f"bench-device-{index:06d}",
                                             user_agent="Mozilla/5.0 bench").ack
                pages[user_id] = {"sid": ack["sid"], "token": ack["token"], "position_s": 0.0}
            tasks.flush_dirty_sessions()
            db.session.remove()

            def beat(user_id: int) -> bool:
                page = pages[user_id]
                with app.app_context():
                    ack = service.heartbeat(user_id, {"sid": page["sid"], "token": page["token"],
                                                      "position_s": page["position_s"] + 5.0}).ack
                    if ack["ok"]:
                        page["token"], page["position_s"] = ack["token"], page["position_s"] + 5.0
                        if ack["check"] and ack["check"]["kind"] == "play":
                            service.answer_check(user_id, {"sid": page["sid"], "check_id": ack["check"]["id"],
                                                           "answer": ack["check"]["code"]})
                    return ack["ok"]

            nodes = backend.nodes()
            accepted, beat_cpu, beat_wall, flush_cpu, flushed = 0, 0.0, 0.0, 0.0, 0
            before_flush = after_flush = None
            per_node = [0.0] * len(nodes)
            with concurrent.futures.ThreadPoolExecutor(threads) as pool:
                for round_ in range(1, rounds + 1):
                    clock.advance(5.0)
                    cpu, wall = node_cpu_s(nodes), time.perf_counter()
                    accepted += sum(pool.map(beat, pages))
                    beat_wall += time.perf_counter() - wall
                    per_node = [total + after - before
                                for total, before, after in zip(per_node, cpu, node_cpu_s(nodes), strict=True)]
                    beat_cpu = sum(per_node)
                    if round_ % FLUSH_EVERY == 0:
                        if round_ == rounds:
                            before_flush = person_bytes(nodes)
                        cpu = redis_cpu_s(nodes)
                        flushed += tasks.flush_dirty_sessions()
                        flush_cpu += redis_cpu_s(nodes) - cpu
                        db.session.remove()
                        if round_ == rounds:
                            after_flush = person_bytes(nodes)
            # The viewers leave: each page closes and answers its closing check; the flush decides the sessions.
            for user_id, page in pages.items():
                ack = service.close_session(user_id, {"sid": page["sid"]}).ack
                if ack.get("check"):
                    service.answer_check(user_id, {"sid": page["sid"], "check_id": ack["check"]["id"],
                                                   "answer": ack["check"]["code"]})
            tasks.flush_dirty_sessions()
            closed = person_bytes(nodes)
            ttl_of_closed = [node.pttl(k) for node in nodes for k in node.scan_iter(match="trk:{*}:s:*", count=1000)]
            spread = {str(n.connection_pool.connection_kwargs["port"]): int(n.dbsize()) for n in nodes}
            buckets = {}
            if name == "cluster":
                client = app.extensions["lms.redis"]
                shards = service.tracking_settings().shards
                for bucket in range(shards):
                    node = client.nodes_manager.get_node_from_slot(client.keyslot(bucket_keys(bucket, shards)[0]))
                    buckets[str(node.port)] = buckets.get(str(node.port), 0) + 1
            db.session.remove()
            db.engine.dispose()
        return {
            "viewers": viewers, "heartbeats": accepted, "redis_cpu_ms_per_hb": beat_cpu * 1000 / max(accepted, 1),
            "hb_per_s_driven": accepted / max(beat_wall, 1e-9),
            "redis_cpu_share_per_node": [round(c / max(beat_cpu, 1e-9), 3) for c in per_node],
            "threads": threads, "flush_redis_cpu_ms_per_session":
                flush_cpu * 1000 / max(flushed, 1), "keys_per_node": spread, "buckets_per_node": buckets,
            "bytes_before_flush": before_flush, "bytes_after_flush": after_flush, "bytes_after_close": closed,
            "closed_session_ttl_max_ms": max(ttl_of_closed, default=-2),
        }


def run(viewers: int, rounds: int, threads: int) -> dict:
    results = {}
    with tempfile.TemporaryDirectory(prefix="lms-bench-redis-") as workdir:
        for name, make in (("single", SingleRedis), ("cluster", Cluster)):
            print(f"redis side: {name} …", flush=True)
            (Path(workdir) / name).mkdir()
            backend = make(Path(workdir) / name)
            try:
                results[name] = run_backend(name, backend, viewers, rounds, threads)
            finally:
                backend.stop()
            print(json.dumps(results[name], default=str), flush=True)
    report = write_report(results)
    print(report)
    RESULTS.write_text(report, encoding="utf-8")
    return results


def write_report(results: dict) -> str:
    single, cluster = results["single"], results["cluster"]
    n = single["viewers"]

    def per(snapshot: dict, part: str = "person") -> float:
        return snapshot.get(part, 0) / max(n, 1)

    lines = [
        "# Tracking on one Redis and on a 3-master Redis Cluster",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC} by `python -m benchmarks.heartbeats --redis cluster`"
        f" ({n} viewers, {single['heartbeats'] // max(n, 1)} heartbeats each, a flush every {FLUSH_EVERY}, "
        f"{single['threads']} threads sharing batched round trips).",
        "",
        "| | one Redis | 3-master cluster |",
        "|---|---|---|",
        f"| Redis CPU per heartbeat (judge + mark, all nodes) | {single['redis_cpu_ms_per_hb']:.3f} ms | "
        f"{cluster['redis_cpu_ms_per_hb']:.3f} ms |",
        f"| share of that CPU per node | – | {cluster['redis_cpu_share_per_node']} |",
        f"| Redis CPU per session flushed | {single['flush_redis_cpu_ms_per_session']:.3f} ms | "
        f"{cluster['flush_redis_cpu_ms_per_session']:.3f} ms |",
        f"| keys per node | {single['keys_per_node']} | {cluster['keys_per_node']} |",
        f"| dirty/live buckets per node | – | {cluster['buckets_per_node']} |",
        "",
        "Memory per open session (`MEMORY USAGE`, all of one person's keys, one playback, "
        f"{single['heartbeats'] // max(n, 1) * 5 // 60} minutes watched):",
        "",
        "| | bytes per viewer | per 100,000 concurrent viewers |",
        "|---|---|---|",
    ]
    for label, snapshot in (("just before a flush", single["bytes_before_flush"]),
                            ("just after a flush (trace trimmed)", single["bytes_after_flush"])):
        total = per(snapshot) + per(snapshot, "buckets") + per(snapshot, "addresses_devices")
        lines.append(f"| {label} | {total:,.0f} (person {per(snapshot):,.0f}, buckets "
                     f"{per(snapshot, 'buckets'):,.0f}, address/device {per(snapshot, 'addresses_devices'):,.0f}) | "
                     f"{total * 100_000 / 2**20:,.0f} MB |")
    closed = single["bytes_after_close"]
    lines += [
        f"| closed, decided and flushed (until `closed_keep_s` expires the session) | "
        f"{per(closed) + per(closed, 'addresses_devices'):,.0f} | "
        f"{(per(closed) + per(closed, 'addresses_devices')) * 100_000 / 2**20:,.0f} MB |",
        "",
        f"Closed sessions' longest TTL after the flush: {single['closed_session_ttl_max_ms'] / 1000:.0f} s. "
        "By kind, just after a flush (bytes, all viewers): "
        + ", ".join(f"`{k}` {v / max(n, 1):,.0f}" for k, v in sorted(single["bytes_after_flush"]["by_kind"].items())),
        "",
        "Raw figures:", "", "```json", json.dumps(results, separators=(",", ":"), default=str), "```", "",
    ]
    return "\n".join(lines)
