"""The tracking state in Redis, changed only through the Lua scripts in ``lua/`` (one atomic step each).

Key layout (all of one person's keys share the hash tag ``{uid}``):

- ``trk:{uid}:s:<sid>``: one playback session (hash), with ``:cov`` (confirmed coverage bitmap, one bit per
  media second), ``:pcov`` (coverage earned since the last passed check), ``:ev`` (evidence events, JSON) and
  ``:tr`` (trace points "t_ms,position_ms,credited_ms,reason" for the reviewer's picture);
- ``trk:{uid}:active`` (the one playback that may earn), ``trk:{uid}:until`` (credited-until watermark, ms),
  ``trk:{uid}:chk`` (attention-check countdown and the pending check), ``trk:{uid}:chkq:<check id>`` (the
  bank question a check asks, without its answer), ``trk:{uid}:pool`` (sessions holding
  provisional time), ``trk:{uid}:day:<n>`` (credited ms on local day n), ``trk:{uid}:cw:<id>`` and
  ``trk:{uid}:cov:<id>`` (progress on a courseware: furthest verified, resume position, confirmed watch time,
  coverage);
- ``trk:dirty`` / ``trk:dirty:flushing`` (sessions to write to the database), ``trk:live`` (open sessions by
  last activity, for the idle sweep);
- ``trk:{a:<address>}:m`` / ``:i`` and ``trk:{d:<device>}:m`` / ``:i``: who opened a playback behind an address or
  on a device within the window (``peers.lua``; all keys of one address, or one device, share their hash tag).
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

LUA_DIR = Path(__file__).with_name("lua")
DIRTY_KEY = "trk:dirty"
FLUSHING_KEY = "trk:dirty:flushing"
LIVE_KEY = "trk:live"
_SCRIPTS_WITH_HELPERS = ("open", "heartbeat", "answer", "close", "evidence")
_PLAIN_SCRIPTS = ("snapshot", "take_dirty", "trim_trace", "peers")
# Where a judging script starts after the helpers: its settings (CFG) are written in just before this line.
_SETTINGS_MARK = "-- settings: CFG\n"
_LUA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Turn the check just issued into a question from the course's bank: its answer replaces the displayed code,
# unless the check was answered or replaced meanwhile. KEYS: 1 the person's chk hash, 2 the question key.
_ASK_QUESTION = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or (redis.call('HGET', KEYS[1], 'pending') or '') == '' then
  return 0
end
redis.call('HSET', KEYS[1], 'code', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
"""


def person_prefix(user_id: int) -> str:
    """Return the prefix of every key of one person (hash-tagged so they live together)."""
    return f"trk:{{{int(user_id)}}}:"


def session_key(user_id: int, sid: str) -> str:
    """Return the key of a playback session's hash."""
    return f"{person_prefix(user_id)}s:{sid}"


@functools.cache
def _source(name: str) -> str:
    text = (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")
    if name in _SCRIPTS_WITH_HELPERS:
        text = (LUA_DIR / "common.lua").read_text(encoding="utf-8") + "\n" + text
    return text


@functools.cache
def _source_with_settings(name: str, cfg: str) -> str:
    """Return a judging script with the settings written into it as a Lua table (``CFG``).

    Sending the settings' JSON with every call and decoding it in Lua cost a noticeable share of a heartbeat; a
    script per settings version costs nothing per call. ``common.lua`` declares ``CFG``, the script reads it.
    """
    helpers, mark, script = _source(name).partition(_SETTINGS_MARK)
    if not mark:
        raise ValueError(f"lua/{name}.lua has no line {_SETTINGS_MARK.strip()!r}")
    return f"{helpers}CFG = {_lua_value(json.loads(cfg))}\n{script}"


def _lua_value(value) -> str:
    """Write the settings (names, numbers, lists and tables of them) as a Lua constructor."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"tracking setting {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, list):
        return "{" + ", ".join(_lua_value(v) for v in value) + "}"
    if isinstance(value, dict):
        if not all(isinstance(k, str) and _LUA_NAME.fullmatch(k) for k in value):
            raise ValueError(f"tracking setting names must be plain names: {sorted(value)}")
        return "{" + ", ".join(f'["{k}"] = {_lua_value(v)}' for k, v in value.items()) + "}"
    raise ValueError(f"tracking setting {value!r} cannot be written for the scripts")


@dataclass(frozen=True)
class ProgressSeed:
    """What the database knows of a person's progress on a courseware, loaded into Redis when Redis lacks it."""

    furthest_ms: int = 0
    resume_ms: int = 0
    watch_ms: int = 0
    coverage_bitmap: bytes = b""
    completed: bool = False


@dataclass(frozen=True)
class Snapshot:
    """One session as read atomically for the flush: its fields, coverage, and what is new since the last flush."""

    fields: dict[str, str]
    coverage_bitmap: bytes
    new_events: list[dict]
    new_trace: list[list]
    progress: dict[str, str]

    @property
    def version(self) -> int:
        return int(self.fields.get("v", 0))


def _decode_hash(flat: list) -> dict[str, str]:
    it = iter(flat)
    return {k.decode(): v.decode("utf-8", "replace") for k, v in zip(it, it, strict=True)}


def _snapshot(raw: list) -> Snapshot:
    fields, coverage, events, trace, progress = raw
    return Snapshot(fields=_decode_hash(fields), coverage_bitmap=bytes(coverage),
                    new_events=[json.loads(e) for e in events], new_trace=[_trace_point(p) for p in trace],
                    progress=_decode_hash(progress))


def _trace_point(raw: bytes) -> list:
    t_ms, position_ms, credited_ms, reason = raw.decode().split(",", 3)
    return [int(t_ms), int(position_ms), int(credited_ms), reason or None]


class _Call:
    """One script call waiting for its batch: what to run, and its answer or error once the batch is back."""

    __slots__ = ("script", "keys", "args", "done", "value", "error")

    def __init__(self, script: Script, keys: list, args: list):
        self.script, self.keys, self.args = script, keys, args
        self.done = threading.Event()
        self.value = self.error = None


class ScriptBatcher:
    """Send the script calls a process makes meanwhile to Redis together: one pipeline, one round trip a batch.

    A web process answers many heartbeats at once, each one script call. Sent one by one, each call checked a
    connection out of the pool (which polls the socket first) and cost a send, a receive and a wake-up of Redis
    of its own, about a sixth of a heartbeat's server CPU. Here callers queue their call and wait; one sender
    (a thread, a greenlet under gevent) takes whatever has queued, sends it as one pipeline and hands each
    caller its own answer. Each script still runs atomically on its own; only the trip is shared.
    """

    # How long a caller waits for its batch before giving up (a Redis that stopped answering): the socket
    # timeout of the pool's connections, plus the batch ahead of it.
    WAIT_S = 12.0

    def __init__(self, client: redis.Redis):
        self.client = client
        self._queue: list[_Call] = []
        self._ready = threading.Condition()
        self._sender: threading.Thread | None = None

    def call(self, script: Script, keys: list, args: list):
        """Run one script call in the next batch; return its answer or raise its error."""
        call = _Call(script, keys, args)
        with self._ready:
            self._queue.append(call)
            if self._sender is None or not self._sender.is_alive():
                self._sender = threading.Thread(target=self._send_forever, name="tracking-script-batcher",
                                                daemon=True)
                self._sender.start()
            self._ready.notify()
        if not call.done.wait(self.WAIT_S):
            raise redis.TimeoutError(f"no answer from Redis within {self.WAIT_S:g} s")
        if call.error is not None:
            raise call.error
        return call.value

    def _send_forever(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch, self._queue = self._queue, []
            self._send(batch)

    def _send(self, batch: list[_Call]) -> None:
        try:
            try:
                pipe = self.client.pipeline(transaction=False)
                for call in batch:
                    pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
                answers = pipe.execute(raise_on_error=False)
            except Exception as error:  # noqa: BLE001 - the connection failed: every caller of the batch hears it
                answers = [error] * len(batch)
            for call, answer in zip(batch, answers, strict=True):
                if isinstance(answer, NoScriptError):
                    # Redis lost its scripts (a restart, SCRIPT FLUSH): load this one and run the call on its own.
                    try:
                        answer = call.script(keys=call.keys, args=call.args)
                    except Exception as error:  # noqa: BLE001 - handed to the caller
                        answer = error
                if isinstance(answer, Exception):
                    call.error = answer
                else:
                    call.value = answer
                call.done.set()
        except Exception as error:  # noqa: BLE001 - never leave a caller of the batch waiting
            for call in batch:
                if not call.done.is_set():
                    call.error = error
                    call.done.set()


class TrackingStore:
    """The tracking scripts loaded once on one Redis client, and the few plain reads the flush needs.

    ``clock`` is a test seam: when set, it gives the scripts the current time in ms instead of Redis ``TIME``.
    It is only ever set by server-side code; nothing a client sends reaches it. With ``batch_calls`` the judging
    scripts go to Redis through a ``ScriptBatcher`` (the gevent web processes), else one call at a time.
    """

    def __init__(self, client: redis.Redis, clock: Callable[[], int] | None = None, batch_calls: bool = False):
        self.redis = client
        self.clock = clock
        self._batcher = ScriptBatcher(client) if batch_calls else None
        self._scripts = {name: client.register_script(_source(name)) for name in _PLAIN_SCRIPTS}
        self._scripts["ask_question"] = client.register_script(_ASK_QUESTION)
        # The judging scripts, one per (name, settings JSON): settings change rarely (tests, a redeploy).
        self._judges: dict[tuple[str, str], Script] = {}

    def _now_arg(self) -> str:
        return "" if self.clock is None else str(int(self.clock()))

    def now_ms(self) -> int:
        """Return the tracking clock's current time in ms (Redis TIME unless a test clock is set)."""
        if self.clock is not None:
            return int(self.clock())
        seconds, micros = self.redis.time()
        return seconds * 1000 + micros // 1000

    def _run(self, name: str, cfg: str, keys: list[str], args: list) -> dict:
        script = self._judges.get((name, cfg))
        if script is None:
            script = self._judges[(name, cfg)] = self.redis.register_script(_source_with_settings(name, cfg))
            script.sha = self.redis.script_load(script.script)  # so that a batch never meets it unknown
        answer = script(keys=keys, args=args) if self._batcher is None else self._batcher.call(script, keys, args)
        return orjson.loads(answer)

    def open(self, cfg: str, *, user_id: int, sid: str, token: str, courseware_id: int, duration_ms: int,
             required_watch_ms: int, required_coverage_s: int, seed: ProgressSeed, ip: str, user_agent: str,
             device: str, automation: bool, resume_sid: str, draw_ms: int) -> dict:
        """Open (or resume) a playback and supersede the person's previous one; return the script's answer."""
        return self._run("open", cfg, [session_key(user_id, sid)], [
            self._now_arg(), user_id, person_prefix(user_id), sid, token, courseware_id, duration_ms,
            required_watch_ms, required_coverage_s, seed.furthest_ms, seed.resume_ms, seed.watch_ms,
            seed.coverage_bitmap, int(seed.completed), ip, user_agent, device, int(automation), resume_sid, draw_ms,
        ])

    def peers(self, kind: str, name: str, user_id: int, info: dict, window_ms: int) -> list[dict]:
        """Record the opener behind an address (``kind`` "a") or on a device ("d"); return everyone seen there
        within the window (the opener included), as the JSON each recorded."""
        tag = f"trk:{{{kind}:{name}}}:"
        raw = self._scripts["peers"](keys=[tag + "m", tag + "i"], args=[
            self._now_arg(), int(user_id), json.dumps(info, separators=(",", ":")), max(int(window_ms), 1)])
        return [json.loads(item) for item in raw if item]

    def evidence(self, cfg: str, *, user_id: int, sid: str, events: list) -> dict:
        """Add cross-person evidence [type, values, once-key] to a session; return its totals (or no_session)."""
        return self._run("evidence", cfg, [session_key(user_id, sid)], [
            self._now_arg(), user_id, person_prefix(user_id), sid, json.dumps(events, ensure_ascii=False)])

    def heartbeat(self, cfg: str, *, user_id: int, sid: str, token: str, next_token: str, position_ms: int,
                  playing: bool, hints: dict, draw_ms: int, check_code: str, check_id: str) -> dict:
        """Judge one heartbeat; return the script's answer (status, credit, reason, totals, check)."""
        return self._run("heartbeat", cfg, [session_key(user_id, sid)], [
            self._now_arg(), user_id, person_prefix(user_id), sid, token, next_token, position_ms,
            int(playing), json.dumps(hints), draw_ms, check_code, check_id,
        ])

    def answer(self, cfg: str, *, user_id: int, sid: str, check_id: str, answer: str, draw_ms: int) -> dict:
        """Answer the pending attention check; return passed / wrong / expired / no_check with the totals."""
        return self._run("answer", cfg, [session_key(user_id, sid)], [
            self._now_arg(), user_id, person_prefix(user_id), sid, check_id, answer, draw_ms,
        ])

    def close(self, cfg: str, *, user_id: int, sid: str, reason: str = "closed", idle_ms: int = 0, draw_ms: int,
              check_code: str, check_id: str) -> dict:
        """End a playback (closed by the page, or idle); return the script's answer."""
        return self._run("close", cfg, [session_key(user_id, sid)], [
            self._now_arg(), user_id, person_prefix(user_id), sid, reason, idle_ms, draw_ms, check_code,
            check_id,
        ])

    def ask_question(self, user_id: int, check_id: str, answer: str, question: dict, ttl_ms: int) -> bool:
        """Make the pending check ``check_id`` a question whose right answer is ``answer``; False if it moved on."""
        prefix = person_prefix(user_id)
        return bool(self._scripts["ask_question"](
            keys=[f"{prefix}chk", f"{prefix}chkq:{check_id}"],
            args=[check_id, answer, json.dumps(question, ensure_ascii=False), max(int(ttl_ms), 1)]))

    def check_question(self, user_id: int, check_id: str) -> dict | None:
        """Return the question (prompt and options, never the answer) a check asks, or None for a code check."""
        raw = self.redis.get(f"{person_prefix(user_id)}chkq:{check_id}")
        return json.loads(raw) if raw else None

    def snapshot(self, user_id: int, sid: str, events_written: int, trace_written: int) -> Snapshot | None:
        """Read a session for the flush, or None when Redis no longer has it."""
        return self.snapshots([(user_id, sid, events_written, trace_written)])[0]

    def snapshots(self, wanted: list[tuple[int, str, int, int]]) -> list[Snapshot | None]:
        """Read sessions (user id, sid, events written, trace points written) in one pipelined round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for user_id, sid, events_written, trace_written in wanted:
            self._scripts["snapshot"](keys=[session_key(user_id, sid)],
                                      args=[person_prefix(user_id), events_written, trace_written], client=pipe)
        return [None if raw is None else _snapshot(raw) for raw in (pipe.execute() if wanted else [])]

    def trim_traces(self, written: dict[tuple[int, str], int]) -> None:
        """Drop from Redis the trace points the database holds, per (user id, sid) → points written."""
        pipe = self.redis.pipeline(transaction=False)
        for (user_id, sid), count in written.items():
            self._scripts["trim_trace"](keys=[session_key(user_id, sid)], args=[count], client=pipe)
        pipe.execute()

    def take_dirty(self) -> list[tuple[int, str]]:
        """Return the sessions changed since the last flush (and any a failed flush left), as (user id, sid)."""
        members = self._scripts["take_dirty"](keys=[DIRTY_KEY, FLUSHING_KEY])
        out = []
        for member in members:
            uid, _, sid = member.decode().partition(":")
            out.append((int(uid), sid))
        return out

    def finish_dirty(self) -> None:
        """Forget the sessions just flushed (changes made meanwhile are already in the next dirty set)."""
        self.redis.delete(FLUSHING_KEY)

    def open_count(self) -> int:
        """How many sessions are open (in the live set), for the metrics."""
        return int(self.redis.zcard(LIVE_KEY))

    def idle_sessions(self, older_than_ms: int, limit: int = 500) -> list[tuple[int, str]]:
        """Return open sessions whose last activity is older than the given time, as (user id, sid)."""
        members = self.redis.zrangebyscore(LIVE_KEY, "-inf", older_than_ms, start=0, num=limit)
        return [(int(m.decode().partition(":")[0]), m.decode().partition(":")[2]) for m in members]

    def coverage(self, user_id: int, sid: str, provisional: bool = False) -> bytes:
        """Return a session's coverage bitmap (confirmed, or the provisional one)."""
        return self.redis.get(session_key(user_id, sid) + (":pcov" if provisional else ":cov")) or b""

    def courseware_coverage(self, user_id: int, courseware_id: int) -> bytes:
        """Return the person's confirmed coverage bitmap of a courseware as Redis holds it."""
        return self.redis.get(f"{person_prefix(user_id)}cov:{courseware_id}") or b""

    def try_lock(self, name: str, ttl_ms: int) -> bool:
        """Take a lock shared by every process for ttl_ms unless another holder has it (never released early)."""
        return bool(self.redis.set(f"trk:lock:{name}", b"1", nx=True, px=ttl_ms))
