"""One load-generating process: many simulated viewers as gevent greenlets (python-socketio or HTTP clients).

Run by the benchmark as ``python -m benchmarks.heartbeats.load`` with a JSON job on stdin; prints a JSON result.
gevent patches the standard library first, so each python-socketio client's threads are cheap greenlets and one
process can drive hundreds of viewers (or thousands of idle connections).
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402 - after monkey-patching, as gevent requires
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402
import socketio  # noqa: E402
from gevent.pool import Pool  # noqa: E402

NAMESPACE = "/tracking"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Safari/537.36"


class Viewer:
    """One viewer: its connection, its playback and what it measured inside the window."""

    def __init__(self, job: dict, spec: dict):
        self.job, self.spec = job, spec
        self.url = spec["url"]
        self.latencies_ms: list[float] = []
        self.accepted = self.refused = self.failed = 0
        self.refusals: dict[str, int] = {}
        self.sio = None
        self.http = None

    # ------------------------------------------------------------------------------------------- connecting

    def _http(self) -> requests.Session:
        http = requests.Session()
        http.headers.update({"User-Agent": UA, "X-Forwarded-For": self.spec["address"]})
        if self.spec.get("cookie"):
            http.cookies.set("lms_session", self.spec["cookie"], domain="127.0.0.1", path="/")
        return http

    def connect(self) -> None:
        self.http = self._http()
        if self.job["design"] == "post":
            return
        self.sio = socketio.Client(http_session=self.http, reconnection=False)
        self.sio.connect(self.url, headers={"User-Agent": UA, "X-Forwarded-For": self.spec["address"]},
                         namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=60)

    def open(self) -> None:
        """Open a playback (tracking) or make up one (echo, POST); the video starts playing now."""
        self.opened_at = time.monotonic()
        self.sid, self.token = f"viewer-{self.spec['id']:06d}", "t0"
        if self.job["design"] == "tracking":
            ack = self.sio.call("open", {"courseware_id": self.job["courseware_id"], "device": self.spec["device"]},
                                namespace=NAMESPACE, timeout=60)
            if not ack.get("ok"):
                raise RuntimeError(f"open refused: {ack}")
            self.sid, self.token = ack["sid"], ack["token"]
            self.opened_at = time.monotonic()

    # ------------------------------------------------------------------------------------------- beating

    def beat(self) -> tuple[bool, str | None]:
        """Send one heartbeat and wait for its answer; return (accepted, refusal code)."""
        position = round(time.monotonic() - self.opened_at, 3)
        if self.job["design"] == "post":
            response = self.http.post(f"{self.url}/progress", json={"viewer": self.spec["id"], "position_s": position},
                                      timeout=30)
            return response.status_code == 200, None if response.status_code == 200 else str(response.status_code)
        ack = self.sio.call("heartbeat", {"sid": self.sid, "token": self.token, "position_s": position,
                                          "playing": True, "hints": {"hidden": False, "rate": 1.0,
                                                                      "webdriver": False}},
                            namespace=NAMESPACE, timeout=30)
        if ack.get("ok"):
            self.token = ack.get("token", self.token)
            return True, None
        return False, ack["error"]["code"]

    def run(self, start_at: float, end_at: float) -> None:
        """Heartbeat from start_at to end_at (time.time()), at most one per ``min_gap_s``, every ``period_s``."""
        min_gap, period = self.job["min_gap_s"], self.job["period_s"]
        # Spread the viewers' phases over the period so a fixed rate is not sent in bursts.
        next_at = start_at + (self.spec["id"] % 997) / 997 * max(period, min_gap)
        last_accepted = 0.0
        while True:
            now = time.time()
            next_at = max(next_at, last_accepted + min_gap)
            if next_at >= end_at:
                break
            if next_at > now:
                gevent.sleep(next_at - now)
            sent = time.time()
            try:
                ok, code = self.beat()
            except Exception:  # noqa: BLE001 - counted: a timeout or a dropped connection under load
                self.failed += 1
                gevent.sleep(0.5)
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

    def close(self) -> None:
        if self.sio is not None:
            try:
                if self.job["design"] == "tracking":
                    self.sio.call("close", {"sid": self.sid}, namespace=NAMESPACE, timeout=10)
                self.sio.disconnect()
            except Exception:  # noqa: BLE001 - the run is over; a slow goodbye changes nothing measured
                pass


def run_heartbeats(job: dict) -> dict:
    """Connect and open every viewer, then heartbeat inside the common window; return counts and latencies."""
    viewers = [Viewer(job, spec) for spec in job["viewers"]]
    pool = Pool(200)  # connect at most 200 at a time
    errors = []

    def prepare(viewer):
        try:
            viewer.connect()
            viewer.open()
        except Exception as error:  # noqa: BLE001 - reported
            errors.append(f"{type(error).__name__}: {error}"[:200])
            viewer.broken = True

    pool.map(prepare, viewers)
    ready = [v for v in viewers if not getattr(v, "broken", False)]
    # Every process reports when its viewers are ready; the benchmark then names one window for all of them.
    print(json.dumps({"ready": len(ready)}), flush=True)
    window = json.loads(sys.stdin.readline())
    greenlets = [gevent.spawn(v.run, window["start_at"], window["end_at"]) for v in ready]
    gevent.joinall(greenlets)
    refusals: dict[str, int] = {}
    for viewer in ready:
        for code, count in viewer.refusals.items():
            refusals[code] = refusals.get(code, 0) + count
    print(json.dumps({
        "viewers": len(ready), "connect_errors": errors[:5], "connect_error_count": len(errors),
        "accepted": sum(v.accepted for v in ready), "refused": sum(v.refused for v in ready),
        "failed": sum(v.failed for v in ready), "refusals": refusals,
        "latencies_ms": [x for v in ready for x in v.latencies_ms],
    }), flush=True)
    sys.stdin.readline()  # the benchmark reads the database's counters first, then lets the viewers leave
    Pool(200).map(Viewer.close, ready)
    return {"closed": len(ready)}


def hold_connections(job: dict) -> dict:
    """Open as many idle viewer connections as asked (by the deadline), report, hold them until told to stop."""
    viewers = [Viewer(job, spec) for spec in job["viewers"]]
    opened, errors = [], []
    deadline = job["deadline_at"]

    def connect(viewer):
        if time.time() > deadline:
            return
        try:
            viewer.connect()
            opened.append(viewer)
        except Exception as error:  # noqa: BLE001 - reported
            errors.append(f"{type(error).__name__}: {error}"[:200])

    Pool(job.get("concurrency", 100)).map(connect, viewers)
    print(json.dumps({"opened": len(opened), "errors": len(errors), "first_errors": errors[:3]}), flush=True)
    sys.stdin.readline()  # the benchmark measures memory meanwhile, then says "done"
    alive = sum(1 for v in opened if v.sio.connected)
    for viewer in opened:
        try:
            viewer.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass
    return {"alive_at_end": alive}


def main() -> None:
    job = json.loads(sys.stdin.readline())
    if job["mode"] == "connections":
        result = hold_connections(job)
    else:
        result = run_heartbeats(job)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
