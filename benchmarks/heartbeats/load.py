"""One load-generating process: many simulated viewers on one asyncio loop (python-socketio or HTTP clients).

Run by the benchmark as ``python -m benchmarks.heartbeats.load`` with a JSON job on stdin; prints a JSON result.
Each viewer is a ``socketio.AsyncClient`` over aiohttp (an aiohttp POST for the POST design). The load generator
shares the two cores with the servers it measures, so it has to be cheap: python-socketio's threaded client, under
gevent, took about 0.3 ms of CPU per heartbeat (a greenlet per received message, UTF-8 checked in pure Python),
as much as half of what the tracking server itself needs; the asyncio client, whose WebSocket frames aiohttp
parses in C, on uvloop and with the server's own JSON module (orjson), takes about half of that.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import sys
import time

import aiohttp
import socketio
import uvloop

from lms.core import socketio_json

NAMESPACE = "/tracking"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Safari/537.36"


class Viewer:
    """One viewer: its connection, its playback and what it measured inside the window."""

    def __init__(self, job: dict, spec: dict, http: aiohttp.ClientSession):
        self.job, self.spec, self.http = job, spec, http
        self.url = spec["url"]
        self.latencies_ms: list[float] = []
        self.accepted = self.refused = self.failed = 0
        self.refusals: dict[str, int] = {}
        self.sio: socketio.AsyncClient | None = None
        self.headers = {"User-Agent": UA, "X-Forwarded-For": spec["address"]}
        if spec.get("cookie"):
            self.headers["Cookie"] = f"lms_session={spec['cookie']}"

    # ------------------------------------------------------------------------------------------- connecting

    async def connect(self) -> None:
        if self.job["design"] == "post":
            return
        # The process's viewers share one aiohttp session without a cookie jar, so each one's own session cookie
        # goes with its handshake as a header (engineio would move a ``headers`` cookie into the shared jar).
        self.sio = socketio.AsyncClient(http_session=self.http, reconnection=False, json=socketio_json,
                                        websocket_extra_options={"headers": dict(self.headers)})
        await self.sio.connect(self.url, headers={"User-Agent": UA, "X-Forwarded-For": self.spec["address"]},
                               namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=60)

    async def open(self) -> None:
        """Open a playback (tracking) or make up one (echo, POST); the video starts playing now."""
        self.opened_at = time.monotonic()
        self.sid, self.token = f"viewer-{self.spec['id']:06d}", "t0"
        if self.job["design"] == "tracking":
            ack = await self.sio.call("open", {"courseware_id": self.job["courseware_id"],
                                               "device": self.spec["device"]}, namespace=NAMESPACE, timeout=60)
            if not ack.get("ok"):
                raise RuntimeError(f"open refused: {ack}")
            self.sid, self.token = ack["sid"], ack["token"]
            self.opened_at = time.monotonic()

    # ------------------------------------------------------------------------------------------- beating

    async def beat(self) -> tuple[bool, str | None]:
        """Send one heartbeat and wait for its answer; return (accepted, refusal code)."""
        position = round(time.monotonic() - self.opened_at, 3)
        if self.job["design"] == "post":
            async with self.http.post(f"{self.url}/progress", headers=self.headers,
                                      json={"viewer": self.spec["id"], "position_s": position},
                                      timeout=aiohttp.ClientTimeout(total=30)) as response:
                await response.read()
                ok = response.status == 200
                return ok, None if ok else str(response.status)
        ack = await self.sio.call("heartbeat", {"sid": self.sid, "token": self.token, "position_s": position,
                                                "playing": True, "hints": {"hidden": False, "rate": 1.0,
                                                                            "webdriver": False}},
                                  namespace=NAMESPACE, timeout=30)
        if ack.get("ok"):
            self.token = ack.get("token", self.token)
            return True, None
        return False, ack["error"]["code"]

    async def run(self, start_at: float, end_at: float) -> None:
        """Heartbeat from start_at to end_at (time.time()), at most one per ``min_gap_s``, every ``period_s``."""
        min_gap, period = self.job["min_gap_s"], self.job["period_s"]
        # Spread the viewers' phases over the period so a fixed rate is not sent in bursts.
        next_at = start_at + random.Random(self.spec["id"]).random() * max(period, min_gap)
        last_accepted = 0.0
        while True:
            now = time.time()
            next_at = max(next_at, last_accepted + min_gap)
            if next_at >= end_at:
                break
            if next_at > now:
                await asyncio.sleep(next_at - now)
            sent = time.time()
            try:
                ok, code = await self.beat()
            except Exception:  # noqa: BLE001 - counted: a timeout or a dropped connection under load
                self.failed += 1
                await asyncio.sleep(0.5)
                continue
            answered = time.time()
            if start_at <= sent and answered <= end_at:
                if ok:
                    self.accepted += 1
                    self.latencies_ms.append(round((answered - sent) * 1000, 3))
                else:
                    self.refused += 1
                    self.refusals[code] = self.refusals.get(code, 0) + 1
            if ok:
                last_accepted = sent
            next_at = sent + period if period else answered

    async def close(self) -> None:
        if self.sio is not None:
            try:
                if self.job["design"] == "tracking" and self.sio.connected:
                    await self.sio.call("close", {"sid": self.sid}, namespace=NAMESPACE, timeout=10)
                await self.sio.disconnect()
            except Exception:  # noqa: BLE001 - the run is over; a slow goodbye changes nothing measured
                pass


async def bounded(concurrency: int, items, action) -> list:
    """Run ``action`` over the items, at most ``concurrency`` at a time; return the exceptions it raised."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item):
        async with gate:
            try:
                await action(item)
            except Exception as error:  # noqa: BLE001 - reported by the caller
                return error
            return None

    return [e for e in await asyncio.gather(*(one(item) for item in items)) if e is not None]


async def read_line() -> str:
    """Read one line of the benchmark's instructions without blocking the viewers' loop."""
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def report(payload: dict) -> None:
    print(json.dumps(payload), flush=True)


async def run_heartbeats(job: dict, http: aiohttp.ClientSession) -> dict:
    """Connect and open every viewer, then heartbeat inside the common window; return counts and latencies."""
    viewers = [Viewer(job, spec, http) for spec in job["viewers"]]
    broken = set()

    async def prepare(viewer: Viewer) -> None:
        try:
            await viewer.connect()
            await viewer.open()
        except Exception:
            broken.add(id(viewer))
            raise

    errors = await bounded(200, viewers, prepare)  # connect at most 200 at a time
    ready = [v for v in viewers if id(v) not in broken]
    # Every process reports when its viewers are ready; the benchmark then names one window for all of them.
    report({"ready": len(ready)})
    window = json.loads(await read_line())
    # The viewers' own garbage collections would stop every viewer of the process for tens of ms and count as the
    # servers' latency: none inside the window (the connections made so far are frozen out of its reach).
    gc.freeze()
    gc.disable()
    await asyncio.gather(*(v.run(window["start_at"], window["end_at"]) for v in ready))
    gc.enable()
    refusals: dict[str, int] = {}
    for viewer in ready:
        for code, count in viewer.refusals.items():
            refusals[code] = refusals.get(code, 0) + count
    messages = [f"{type(e).__name__}: {e}"[:200] for e in errors]
    report({
        "viewers": len(ready), "connect_errors": messages[:5], "connect_error_count": len(messages),
        "accepted": sum(v.accepted for v in ready), "refused": sum(v.refused for v in ready),
        "failed": sum(v.failed for v in ready), "refusals": refusals,
        "latencies_ms": [x for v in ready for x in v.latencies_ms],
    })
    await read_line()  # the benchmark reads the database's counters first, then lets the viewers leave
    await bounded(200, ready, Viewer.close)
    return {"closed": len(ready)}


async def hold_connections(job: dict, http: aiohttp.ClientSession) -> dict:
    """Open as many idle viewer connections as asked (by the deadline), report, hold them until told to stop."""
    viewers = [Viewer(job, spec, http) for spec in job["viewers"]]
    opened = []
    deadline = job["deadline_at"]

    async def connect(viewer: Viewer) -> None:
        if time.time() > deadline:
            return
        await viewer.connect()
        opened.append(viewer)

    errors = await bounded(job.get("concurrency", 100), viewers, connect)
    messages = [f"{type(e).__name__}: {e}"[:200] for e in errors]
    report({"opened": len(opened), "errors": len(errors), "first_errors": messages[:3]})
    await read_line()  # the benchmark measures memory meanwhile, then says "done"
    alive = sum(1 for v in opened if v.sio.connected)
    await bounded(500, opened, lambda v: v.sio.disconnect())
    return {"alive_at_end": alive}


async def main_async(job: dict) -> dict:
    connector = aiohttp.TCPConnector(limit=0)  # the POST viewers each keep their own keep-alive connection
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
        if job["mode"] == "connections":
            return await hold_connections(job, http)
        return await run_heartbeats(job, http)


def main() -> None:
    job = json.loads(sys.stdin.readline())
    report(uvloop.run(main_async(job)))


if __name__ == "__main__":
    main()
