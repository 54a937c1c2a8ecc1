"""Real server processes and real Socket.IO clients for the watch-time tracking tests and the heartbeat benchmark.

``ServerProcess`` starts the app the way production runs it (gunicorn with the gevent-websocket worker, STACK-NOTES)
on a loopback port, configured only through ``LMS_*`` environment variables (tracking durations through
``LMS_TRACKING_<NAME>``), waits for ``/healthz`` and stops or kills it. ``TrackingClient`` is one page: it logs in
through the real login form and speaks the protocol of docs/tracking-protocol.md over python-socketio.
``MediaClock`` is the page's video element: its position moves with real (monotonic) time while it plays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
import socketio
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from lms import create_app
from lms.accounts.models import Role
from lms.config import Config
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.tracking.models import PlaybackSession, SessionEvent
from tests.conftest import PASSWORD, SECRET, TEST_PASSWORD_COST, _empty_database, make_org, make_user
from tests.support import services

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "/tracking"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Safari/537.36"
GEVENT_WORKER = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
READY_DEADLINE_S = 60.0  # the machine is shared with other test runs; an app start can take a while under load
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@contextlib.contextmanager
def real_backend_app(postgres_url: str, redis_url: str, data_dir: Path,
                     tracking_redis_url: str | None = None) -> Iterator[Flask]:
    """Yield an app (context pushed) on the test run's PostgreSQL and Redis, migrated; empty both afterwards.

    It is the test's own view of the database the server processes use: to seed learners and to read back sessions.
    ``tracking_redis_url`` puts the tracking role elsewhere (a Redis Cluster), as the servers' environment does.
    """
    config = Config.from_env({}, database_url=postgres_url, redis_url=redis_url, data_dir=data_dir,
                             secret_key=SECRET, cookie_secure=False, tracking_redis_url=tracking_redis_url,
                             **TEST_PASSWORD_COST)
    app = create_app(config)
    app.config["LMS_TRACKING"] = {"flush_in_background": False}
    with app.app_context():
        upgrade(revision="heads")
        try:
            yield app
        finally:
            db.session.remove()
            _empty_database()
            db.engine.dispose()
            services.empty_redis_database(redis_url)


@dataclasses.dataclass
class Campus:
    """Learners of one approved unit, enrolled in a published course with one courseware on ready media."""

    courseware_id: int
    logins: list[str]
    user_ids: dict[str, int]


def seed_campus(learners: int, *, duration_s: float = 600.0, labelled_hours: str = "0.2") -> Campus:
    """Create an organisation tree, ``learners`` approved learners and a ready courseware they are enrolled in."""
    from tests.tracking import make_ready_courseware

    province = make_org(OrgKind.PROVINCE_HR)
    city = make_org(OrgKind.CITY_HR, province)
    department = make_org(OrgKind.DEPARTMENT, city)
    unit = make_org(OrgKind.UNIT, department)
    base = make_org(OrgKind.BASE, department)
    users = [make_user(unit, Role.LEARNER) for _ in range(learners)]
    courseware = make_ready_courseware(base, users, duration_s=duration_s, labelled_hours=labelled_hours)
    return Campus(courseware_id=courseware.id, logins=[u.login for u in users],
                  user_ids={u.login: u.id for u in users})


def stored_session(sid: str) -> PlaybackSession | None:
    """Read a playback session as the database holds it now (not as this test's session cached it)."""
    db.session.expire_all()
    return db.session.scalar(sa.select(PlaybackSession).where(PlaybackSession.public_id == sid))


def stored_event_types(sid: str) -> list[str]:
    """Return the evidence events of a session that reached the database, in order."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(SessionEvent.type).join(PlaybackSession).where(
        PlaybackSession.public_id == sid).order_by(SessionEvent.seq)))


class AckTimeout(RuntimeError):
    """The server did not acknowledge an event in time (or the connection went away meanwhile)."""


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tracking_env(settings: dict) -> dict[str, str]:
    """Turn TrackingSettings overrides into the ``LMS_TRACKING_<NAME>`` variables a server process reads."""
    return {f"LMS_TRACKING_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in settings.items()}


def process_rss_bytes(pid: int) -> int:
    """Return a process's resident memory in bytes (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    """Return the direct children of a process (gunicorn's workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


class ServerProcess:
    """One web process as production runs it: gunicorn + gevent-websocket worker, configured by environment.

    ``database_url`` / ``redis_url`` must be real PostgreSQL and Redis for several processes to agree.
    Extra ``LMS_*`` variables go in ``env``; tracking overrides in ``tracking`` (TrackingSettings names).
    """

    STOP_GRACE_S = 10.0

    def __init__(self, *, database_url: str, redis_url: str, tracking: dict | None = None, env: dict | None = None,
                 app: str = "lms:create_app()", workers: int = 1, data_dir: Path | None = None,
                 worker_class: str = GEVENT_WORKER, gunicorn_args: tuple[str, ...] = ()):
        self.database_url, self.redis_url = database_url, redis_url
        self.tracking = dict(tracking or {})
        self.extra_env = dict(env or {})
        self.app, self.workers = app, workers
        self.worker_class, self.gunicorn_args = worker_class, tuple(gunicorn_args)
        self.port = 0
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="lms-server-"))
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def environment(self) -> dict[str, str]:
        """Return the process's environment: this interpreter's, without the caller's LMS_* variables, plus ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
        env.update({
            "LMS_DATABASE_URL": self.database_url,
            "LMS_REDIS_URL": self.redis_url,
            "LMS_SECRET_KEY": SECRET,
            "LMS_DATA_DIR": str(self.data_dir),
            "LMS_COOKIE_SECURE": "false",
            "LMS_ASYNC_MODE": "gevent",
            # Each test page sends its own X-Forwarded-For, so pages can be told apart (or share an address).
            "LMS_TRUSTED_PROXIES": "1",
            "LMS_LOG_LEVEL": "WARNING",
            # The seeded hashes' cost (tests.conftest): at the production cost every first login would rehash.
            "LMS_PASSWORD_TIME_COST": "1",
            "LMS_PASSWORD_MEMORY_KIB": "1024",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(tracking_env(self.tracking))
        env.update(self.extra_env)
        return env

    def start(self, wait: bool = True) -> ServerProcess:
        """Start gunicorn on a free loopback port (in its own process group); wait for /healthz unless told not to."""
        self.port = free_port()
        self._log = open(self.log_path, "ab")
        command = [sys.executable, "-m", "gunicorn", "-c", "python:lms.core.gunicorn_config",
                   "-k", self.worker_class, "-w", str(self.workers),
                   "--no-control-socket", "--graceful-timeout", "2", "--timeout", "60", "--log-level", "warning",
                   *self.gunicorn_args, "-b", f"127.0.0.1:{self.port}", self.app]
        self.process = subprocess.Popen(command, cwd=REPO, env=self.environment(), stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, deadline_s: float = READY_DEADLINE_S) -> None:
        """Poll /healthz until it answers 200; raise with the log's tail if the process dies or never gets there."""
        deadline = time.monotonic() + deadline_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = requests.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except requests.RequestException as error:
                last = str(error)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready in {deadline_s:.0f} s ({last}):\n{self.log_tail()}")

    def pids(self) -> list[int]:
        """Return gunicorn's master and worker process ids."""
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *child_pids(self.process.pid)]

    def rss_bytes(self) -> int:
        """Return the resident memory of the master and its workers together."""
        return sum(process_rss_bytes(pid) for pid in self.pids())

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash would: no graceful shutdown, no last flush."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=self.STOP_GRACE_S)
        self._close_log()

    def request_stop(self) -> None:
        """Ask the group to stop (SIGINT: gunicorn's quick shutdown) without waiting."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)

    def stop(self) -> None:
        """Stop (SIGINT to the group), SIGKILL after the grace period; safe to repeat."""
        self.request_stop()
        if self.process is not None:
            try:
                self.process.wait(timeout=self.STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of the process's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self) -> None:
        """Stop the process and remove the data folder this object made."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.cleanup()


@contextlib.contextmanager
def running_servers(count: int, **kwargs) -> Iterator[list[ServerProcess]]:
    """Start several server processes at once (their start-ups overlap) and stop them all afterwards."""
    servers = [ServerProcess(**kwargs) for _ in range(count)]
    try:
        for server in servers:
            server.start(wait=False)
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.request_stop()
        for server in servers:
            server.cleanup()


def login_session(url: str, login: str, *, address: str, user_agent: str = BROWSER_UA,
                  password: str = PASSWORD) -> requests.Session:
    """Log in through the real login form as a browser at ``address`` would, keeping the session cookie."""
    session = requests.Session()
    session.headers.update({"User-Agent": user_agent, "X-Forwarded-For": address})
    html = session.get(f"{url}/login", timeout=15).text
    match = _CSRF.search(html)
    assert match, "no CSRF token on /login"
    response = session.post(f"{url}/login", data={"login": login, "password": password, "csrf_token": match[1]},
                            allow_redirects=False, timeout=15)
    assert response.status_code == 302, f"login of {login} failed: {response.status_code}"
    return session


class MediaClock:
    """A video element's position: it advances at ``rate`` × real time while playing; seeks jump it."""

    def __init__(self, position_s: float = 0.0, rate: float = 1.0):
        self._base, self.rate = position_s, rate
        self._since: float | None = None

    @property
    def playing(self) -> bool:
        return self._since is not None

    @property
    def position(self) -> float:
        return self.position_at(time.monotonic())

    def position_at(self, monotonic_s: float) -> float:
        """Return the position at a moment of ``time.monotonic()``."""
        if self._since is None:
            return self._base
        return self._base + (monotonic_s - self._since) * self.rate

    def play(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def pause(self) -> None:
        self._base, self._since = self.position, None

    def seek(self, position_s: float) -> None:
        self._base = position_s
        if self._since is not None:
            self._since = time.monotonic()

    def set_rate(self, rate: float) -> None:
        self._base = self.position
        if self._since is not None:
            self._since = time.monotonic()
        self.rate = rate


class TrackingClient:
    """One page on the "/tracking" namespace: logged in as a learner, from an address, with a browser's agent.

    It keeps what a page keeps (sid, latest token, every acknowledgement) and sends one event at a time,
    waiting for its acknowledgement, as the protocol asks.
    """

    def __init__(self, url: str, login: str, *, address: str = "10.1.0.1", user_agent: str = BROWSER_UA,
                 device: str | None = None, ack_timeout_s: float = 10.0, traits: dict | None = None):
        self.url, self.login, self.address, self.user_agent = url, login, address, user_agent
        self.traits = traits
        self.device = device or "dev_" + secrets.token_hex(6)
        self.ack_timeout_s = ack_timeout_s
        self.http: requests.Session | None = None
        self.sio: socketio.Client | None = None
        self.sid: str | None = None
        self.token: str | None = None
        self.opened: dict | None = None
        self.acks: list[dict] = []
        self.errors: list[str] = []  # error codes of refused heartbeats, in order

    def connect(self, url: str | None = None) -> TrackingClient:
        """Log in (once per server URL) and connect to the namespace over a WebSocket."""
        # The session cookie is the browser's: another server process behind the same origin accepts it too.
        self.url = url or self.url
        if self.http is None:
            self.http = login_session(self.url, self.login, address=self.address, user_agent=self.user_agent)
        self.sio = socketio.Client(http_session=self.http, reconnection=False)
        self.sio.connect(self.url, headers={"User-Agent": self.user_agent, "X-Forwarded-For": self.address},
                         namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=15)
        return self

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    def disconnect(self) -> None:
        """Drop the connection (the playback stays resumable on the server)."""
        if self.sio is not None:
            with contextlib.suppress(Exception):
                self.sio.disconnect()
            self.sio = None

    def call(self, event: str, payload, timeout_s: float | None = None) -> dict:
        """Emit an event and return its acknowledgement; AckTimeout if none comes."""
        if self.sio is None:
            raise AckTimeout(f"{event}: not connected")
        try:
            return self.sio.call(event, payload, namespace=NAMESPACE, timeout=timeout_s or self.ack_timeout_s)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                socketio.exceptions.DisconnectedError) as error:
            raise AckTimeout(f"{event}: {type(error).__name__} {error}") from error

    def send(self, event: str, payload) -> None:
        """Emit an event without waiting: its acknowledgement, if any, is lost (a dropped reply)."""
        self.sio.emit(event, payload, namespace=NAMESPACE, callback=lambda *_: None)

    def open(self, courseware_id: int, *, resume: bool = False, device: str | None = None) -> dict:
        """Open a playback (``resume``: of this page's session, after a reconnect or a lost acknowledgement)."""
        payload = {"courseware_id": courseware_id, "device": device or self.device}
        if self.traits:
            payload["device_traits"] = self.traits
        if resume and self.sid:
            payload["resume_sid"] = self.sid
        ack = self.call("open", payload)
        self.acks.append(ack)
        if ack.get("ok"):
            self.opened, self.sid, self.token = ack, ack["sid"], ack["token"]
        return ack

    def heartbeat(self, position_s: float, *, playing: bool = True, hints: dict | None = None,
                  token: str | None = None, sid: str | None = None, **extra) -> dict:
        """Send a heartbeat with the latest token (or the given one); keep the next token when it is accepted."""
        payload = {"sid": sid or self.sid, "token": token or self.token, "position_s": round(position_s, 3),
                   "playing": playing, **extra}
        if hints is not None:
            payload["hints"] = hints
        ack = self.call("heartbeat", payload)
        self.acks.append(ack)
        if ack.get("ok"):
            self.token = ack["token"]
        else:
            self.errors.append(ack["error"]["code"])
        return ack

    def answer(self, check: dict, answer: str | None = None) -> dict:
        """Answer an attention check (with the code shown, unless told otherwise)."""
        ack = self.call("check_answer", {"sid": self.sid, "check_id": check["id"],
                                         "answer": check["code"] if answer is None else answer})
        self.acks.append(ack)
        return ack

    def close(self) -> dict:
        """Close the playback as a page does when it goes away."""
        ack = self.call("close", {"sid": self.sid})
        self.acks.append(ack)
        return ack

    def next_delay(self) -> float:
        """Return the delay the server asked for before the next heartbeat."""
        return next(ack["next_heartbeat_s"] for ack in reversed(self.acks) if "next_heartbeat_s" in ack)


class HonestPage:
    """A well-behaved player page: plays at 1×, heartbeats when asked, answers checks like a person, reconnects.

    ``network`` shapes what reaches the server (see ``BadNetwork``). ``honest_played_s`` is the media time it
    really played while a playback was open: the most any server could fairly credit.
    """

    def __init__(self, client: TrackingClient, courseware_id: int, *, answer_delay_s: float = 1.5,
                 network: BadNetwork | None = None, servers: list[str] | None = None):
        self.client, self.courseware_id = client, courseware_id
        self.answer_delay_s = answer_delay_s
        self.network = network or BadNetwork()
        self.servers = servers or [client.url]
        self.video = MediaClock()
        self.last_heartbeat_at: float | None = None
        self.first_position = self.last_position = 0.0
        self.events: list[str] = []  # what happened, for failure messages

    def start(self) -> dict:
        """Connect, open, seek to the resume position and start playing."""
        if not self.client.connected:
            self.client.connect()
        ack = self.client.open(self.courseware_id)
        assert ack["ok"], ack
        self.video.seek(ack["resume_s"])
        self.first_position = self.last_position = ack["resume_s"]
        self.video.play()
        return ack

    @property
    def honest_played_s(self) -> float:
        """Media seconds played, at the real rate, up to the last heartbeat the server accepted."""
        return self.last_position - self.first_position

    def run(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Play for ``seconds`` of real time (or until ``until()`` says so), heartbeating on the server's schedule."""
        end = time.monotonic() + seconds
        delay = self.client.next_delay()
        while time.monotonic() < end and not (until and until()):
            time.sleep(max(0.0, min(delay, end - time.monotonic())))
            if time.monotonic() >= end:
                break
            delay = self.beat()

    def beat(self) -> float:
        """Send one heartbeat through the network; handle its answer; return the delay until the next one."""
        position = self.video.position
        hints = {"hidden": False, "rate": 1.0, "webdriver": False}
        fate = self.network.fate()
        if fate == "disconnect":
            return self._ride_out_disconnect()
        time.sleep(self.network.delay())
        payload = {"sid": self.client.sid, "token": self.client.token, "position_s": round(position, 3),
                   "playing": True, "hints": hints}
        if fate in ("drop", "lose_ack"):
            if fate == "lose_ack":
                self.client.send("heartbeat", payload)
            self.events.append(fate)
            # No acknowledgement: after waiting for it, the page resumes its session for a fresh token.
            time.sleep(self.network.ack_timeout_s)
            return self._resume()
        try:
            ack = self.client.heartbeat(position, hints=hints)
        except AckTimeout:
            self.events.append("ack_timeout")
            return self._resume()
        time.sleep(self.network.delay())
        return self._handle(ack, position)

    def _handle(self, ack: dict, position: float) -> float:
        if ack["ok"]:
            self.last_position = max(self.last_position, position)
            self.last_heartbeat_at = time.monotonic()
            check = ack.get("check")
            if check and check["blocking"]:
                self._answer_check(check)
            return ack["next_heartbeat_s"]
        code = ack["error"]["code"]
        self.events.append(code)
        if code == "too_soon":
            return ack["error"]["retry_in_s"]
        if code in ("bad_token", "superseded"):
            return self._resume()
        raise AssertionError(f"unexpected refusal: {ack}")

    def _answer_check(self, check: dict) -> None:
        # A person pauses the video, reads the code and types it.
        self.video.pause()
        time.sleep(self.answer_delay_s)
        result = self.client.answer(check)
        self.events.append(f"check_{result.get('result')}")
        self.video.play()

    def _resume(self) -> float:
        for _attempt in range(3):
            try:
                if not self.client.connected:
                    self.client.connect()
                ack = self.client.open(self.courseware_id, resume=True)
                assert ack["ok"], ack
                self.events.append("resumed" if ack["resumed"] else "reopened")
                if not ack["resumed"]:
                    self.video.seek(ack["resume_s"])
                if ack.get("check") and ack["check"]["blocking"]:
                    self._answer_check(ack["check"])  # a check asked in an acknowledgement that was lost
                # A fresh heartbeat right away (protocol §3 step 4), as soon as the minimum interval allows.
                since = time.monotonic() - (self.last_heartbeat_at or 0.0)
                return max(ack["min_interval_s"] - since, 0.0)
            except (AckTimeout, socketio.exceptions.ConnectionError) as error:
                self.events.append(f"reconnect_failed:{error}")
                self.client.disconnect()
                self.client.url = self._other_server()
                time.sleep(0.5)
        raise AssertionError(f"could not resume: {self.events}")

    def _other_server(self) -> str:
        servers = self.servers
        return servers[(servers.index(self.client.url) + 1) % len(servers)] if self.client.url in servers \
            else servers[0]

    def _ride_out_disconnect(self) -> float:
        # The network went away right after the previous acknowledgement; the page finds out at this heartbeat.
        # hls.js keeps playing from its buffer; the page reconnects as soon as the network is back.
        self.events.append("disconnect")
        self.client.disconnect()
        went_down = self.last_heartbeat_at or time.monotonic()
        time.sleep(max(0.0, went_down + self.network.disconnect_s - time.monotonic()))
        return self._resume()

    def finish(self) -> dict:
        """Send a last heartbeat, close, and answer the closing check like a person; return the close ack."""
        time.sleep(max(0.0, self.client.opened["min_interval_s"] - (time.monotonic() - self.last_heartbeat_at)))
        position = self.video.position
        self._handle(self.client.heartbeat(position, hints={"hidden": False, "rate": 1.0, "webdriver": False}),
                     position)
        self.video.pause()
        closed = self.client.close()
        if closed.get("check"):
            time.sleep(self.answer_delay_s)
            self.client.answer(closed["check"])
        return closed


class BadNetwork:
    """What the network does to a page's heartbeats: per-message delay, drops, lost replies, one disconnect.

    ``plan`` names the fate of each heartbeat in order ("ok", "drop", "lose_ack", "disconnect"); after it, all "ok".
    Each message (and each reply) waits ``latency_s`` ± ``jitter_s`` on the way.
    """

    def __init__(self, *, latency_s: float = 0.0, jitter_s: float = 0.0, plan: list[str] = (),
                 disconnect_s: float = 0.0, ack_timeout_s: float = 1.0, rng: Callable[[], float] | None = None):
        self.latency_s, self.jitter_s = latency_s, jitter_s
        self.plan = list(plan)
        self.disconnect_s, self.ack_timeout_s = disconnect_s, ack_timeout_s
        self._random = rng or secrets.SystemRandom().random

    def fate(self) -> str:
        return self.plan.pop(0) if self.plan else "ok"

    def delay(self) -> float:
        return max(0.0, self.latency_s + (2 * self._random() - 1) * self.jitter_s)
