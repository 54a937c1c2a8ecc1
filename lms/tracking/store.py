"""The tracking state in Redis, changed only through the Lua scripts in ``lua/`` (one atomic step each).

Every script touches only keys it declares in KEYS, all in one Redis Cluster slot, so the same scripts run on one
Redis, a Sentinel group and a Redis Cluster. Key layout:

- one person's keys share the hash tag ``{uid}``: ``trk:{uid}:s:<sid>`` (a playback session, hash) with ``:cov``
  (confirmed coverage bitmap, one bit per media second), ``:pcov`` (coverage earned since the last passed check),
  ``:ev`` (evidence events, JSON) and ``:tr`` (trace points "t_ms,position_ms,credited_ms,reason");
  ``trk:{uid}:active`` (the one playback that may earn), ``:until`` (credited-until watermark, ms), ``:chk``
  (attention-check countdown and the pending check), ``:chkq:<check id>`` (the bank question a check asks),
  ``:pool`` (sessions holding provisional time → their courseware), ``:day`` (local day, credited ms), ``:opens``
  (minute, opens), ``:cw:<id>`` and ``:cov:<id>`` (progress on a courseware);
- shard buckets ``trk:{bk:<n>}:dirty`` / ``:flushing`` (sessions to write to the database) and ``:live`` (open
  sessions by last activity, for the idle sweep), n = a stable hash of the person's id mod ``shards`` (the tag is
  ``bk:<n>`` or ``bk:<n>.<k>``, whichever first falls in the n-th equal slot range, ``_bucket_tag``); the judging
  scripts answer what to mark and ``mark.lua`` writes it to the person's bucket right after;
- ``trk:{a:<address>}:m`` / ``:i`` and ``trk:{d:<device>}:m`` / ``:i``: who opened a playback behind an address or
  on a device within the window (``peers.lua``);
- ``trk:lock:<name>``: a lock shared by the processes.

Every key has a TTL (docs/tracking-protocol.md §7).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis
from redis.cluster import REDIS_CLUSTER_HASH_SLOTS
from redis.commands.core import Script
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from lms.tracking.settings import SESSION_TTL_MS

log = logging.getLogger(__name__)
LUA_DIR = Path(__file__).with_name("lua")
_SCRIPTS_WITH_HELPERS = ("open", "heartbeat", "answer", "close", "evidence")
_PLAIN_SCRIPTS = ("snapshot", "take_dirty", "flushed", "peers", "mark")
# How long a bucket's marks wait for a flusher: as long as the sessions they point at live.
MARK_TTL_MS = SESSION_TTL_MS
# A judging script answers "keys" when the person's other sessions it must touch were not declared; it is then
# called again with them. A second "keys" answer means the person's state moved meanwhile (another page).
_KEY_ATTEMPTS = 4
# The sessions each process knows per person (sid → courseware), so that a call declares them the first time.
_KNOWN_PEOPLE = 100_000
_KNOWN_SESSIONS = 8
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


def session_keys(user_id: int, sid: str, courseware_id) -> list[str]:
    """The keys of one session and of its person's progress on the courseware, in the order the scripts read."""
    prefix, sk = person_prefix(user_id), session_key(user_id, sid)
    return [sk, f"{sk}:ev", f"{sk}:tr", f"{sk}:cov", f"{sk}:pcov", f"{prefix}cw:{courseware_id}",
            f"{prefix}cov:{courseware_id}"]


def person_keys(user_id: int, sid: str, courseware_id, others: dict[str, str]) -> list[str]:
    """KEYS of a judging script (common.lua): the session, the person's keys, then the person's other sessions."""
    prefix, sk = person_prefix(user_id), session_key(user_id, sid)
    keys = [sk, *(prefix + name for name in ("active", "until", "chk", "pool", "day", "opens")),
            f"{prefix}cw:{courseware_id}", f"{prefix}cov:{courseware_id}", f"{sk}:ev", f"{sk}:tr", f"{sk}:cov",
            f"{sk}:pcov"]
    for other, other_cw in others.items():
        if other != sid:
            keys += session_keys(user_id, other, other_cw or courseware_id)
    return keys


def bucket_of(user_id: int, shards: int) -> int:
    """The person's shard bucket: a stable hash of the id (the same in every process and release)."""
    return zlib.crc32(str(int(user_id)).encode()) % shards


@functools.cache
def _bucket_tag(bucket: int, shards: int) -> str:
    """A hash tag for bucket n whose slot lies in the n-th of ``shards`` equal parts of the 16,384 slots.

    A cluster's masters hold contiguous slot ranges (``redis-cli --cluster create`` gives equal ones), so buckets
    spread evenly over the masters instead of as CRC16 of "bk:0", "bk:1", … happens to fall (8/5/3 of 16 on three).
    """
    width = REDIS_CLUSTER_HASH_SLOTS / shards
    for attempt in itertools.count():
        tag = f"bk:{bucket}" if attempt == 0 else f"bk:{bucket}.{attempt}"
        if int(key_slot(tag.encode()) // width) == bucket:
            return tag
    raise AssertionError("unreachable")


def bucket_keys(bucket: int, shards: int = 16) -> tuple[str, str, str]:
    """The dirty set, the set being flushed and the live set of one bucket (one hash tag, one cluster slot)."""
    tag = f"trk:{{{_bucket_tag(int(bucket), int(shards))}}}:"
    return tag + "dirty", tag + "flushing", tag + "live"


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
                    pipe.execute_command("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
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


def run_pipelined(client, calls: list[tuple[Script, list, list]]) -> list:
    """Run script calls in one pipeline (one round trip per node on a cluster); return each answer, raise the first
    error. A script Redis no longer knows (a restart, a promoted replica) is loaded and its call run again."""
    if not calls:
        return []
    pipe = client.pipeline(transaction=False)
    for script, keys, args in calls:
        # redis-py blocks the evalsha method on a cluster pipeline, not the command: routed by its first key.
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    answers = pipe.execute(raise_on_error=False)
    out = []
    for (script, keys, args), answer in zip(calls, answers, strict=True):
        if isinstance(answer, NoScriptError):
            answer = script(keys=keys, args=args)
        if isinstance(answer, Exception):
            raise answer
        out.append(answer)
    return out


class TrackingStore:
    """The tracking scripts loaded once on one Redis client (single, Sentinel or Cluster), and the few plain reads
    the flush needs.

    ``clock`` is a test seam: when set, it gives the scripts the current time in ms instead of Redis ``TIME``.
    It is only ever set by server-side code; nothing a client sends reaches it. With ``batch_calls`` the judging
    scripts go to Redis through a ``ScriptBatcher`` (the gevent web processes), else one call at a time.
    ``shards`` is the number of dirty/live buckets (``TrackingSettings.shards``).
    """

    def __init__(self, client: redis.Redis, clock: Callable[[], int] | None = None, batch_calls: bool = False,
                 shards: int = 16):
        self.redis = client
        self.clock = clock
        self.shards = int(shards)
        self._batcher = ScriptBatcher(client) if batch_calls else None
        self._scripts = {name: client.register_script(_source(name)) for name in _PLAIN_SCRIPTS}
        self._scripts["ask_question"] = client.register_script(_ASK_QUESTION)
        for script in self._scripts.values():
            # Loaded up front (on every master of a cluster), so that a pipeline never meets them unknown.
            script.sha = client.script_load(script.script)
        # The judging scripts, one per (name, settings JSON): settings change rarely (tests, a redeploy).
        self._judges: dict[tuple[str, str], Script] = {}
        self._known: dict[int, dict[str, str]] = {}

    def _now_arg(self) -> str:
        return "" if self.clock is None else str(int(self.clock()))

    def now_ms(self) -> int:
        """Return the tracking clock's current time in ms (Redis TIME unless a test clock is set)."""
        if self.clock is not None:
            return int(self.clock())
        seconds, micros = self.redis.time(target_nodes="random") if _is_cluster(self.redis) else self.redis.time()
        return seconds * 1000 + micros // 1000

    # ---------------------------------------------------------------- the person's sessions a call declares

    def _sessions_known(self, user_id: int) -> dict[str, str]:
        return self._known.get(user_id, {})

    def _learn(self, user_id: int, sessions) -> None:
        known = self._known.get(user_id)
        if known is None:
            if len(self._known) >= _KNOWN_PEOPLE:
                self._known.clear()  # a cold entry costs one more call, never a wrong answer
            known = self._known[user_id] = {}
        for sid, courseware_id in sessions:
            courseware_id = str(courseware_id or "") or known.get(sid, "")
            known.pop(sid, None)
            known[sid] = courseware_id
        while len(known) > _KNOWN_SESSIONS:
            known.pop(next(iter(known)))

    def _call(self, script: Script, keys: list, args: list):
        return script(keys=keys, args=args) if self._batcher is None else self._batcher.call(script, keys, args)

    def _run(self, name: str, cfg: str, user_id: int, sid: str, args: list, courseware_id=None,
             also: str = "") -> dict:
        script = self._judges.get((name, cfg))
        if script is None:
            script = self._judges[(name, cfg)] = self.redis.register_script(_source_with_settings(name, cfg))
            script.sha = self.redis.script_load(script.script)  # so that a batch never meets it unknown
        for _ in range(_KEY_ATTEMPTS):
            known = dict(self._sessions_known(user_id))
            own_cw = str(courseware_id) if courseware_id is not None else known.get(sid, "")
            if also:
                known.setdefault(also, own_cw)
            answer = orjson.loads(self._call(script, person_keys(user_id, sid, own_cw, known), args))
            if answer.get("status") != "keys":
                break
            self._learn(user_id, answer["sessions"])
        else:
            raise redis.RedisError(f"tracking script {name} kept asking for other keys of person {user_id}")
        if courseware_id is not None:
            self._learn(user_id, [(answer.get("sid") or sid, courseware_id)])
        marks = answer.pop("marks", None)
        if marks:
            self._mark(user_id, marks, answer.pop("now_ms"))
        return answer

    def _mark(self, user_id: int, marks: dict, now_ms: int) -> None:
        """Write a script's marks to the person's bucket: dirty (to flush) and live (last activity) or gone."""
        dirty_key, _, live_key = bucket_keys(bucket_of(user_id, self.shards), self.shards)
        dirty = list(dict.fromkeys(f"{user_id}:{sid}" for sid in marks.get("d", [])))
        live = [part for sid in dict.fromkeys(marks.get("l", [])) for part in (now_ms, f"{user_id}:{sid}")]
        gone = [f"{user_id}:{sid}" for sid in dict.fromkeys(marks.get("g", []))]
        args = [MARK_TTL_MS, len(dirty), *dirty, len(live) // 2, *live, len(gone), *gone]
        try:
            self._call(self._scripts["mark"], [dirty_key, live_key], args)
        except redis.RedisError:
            # The change itself is in the person's keys; the session's next change marks it again.
            log.warning("tracking marks of person %s not written to bucket %s", user_id, dirty_key, exc_info=True)

    # ---------------------------------------------------------------- the judging scripts

    def open(self, cfg: str, *, user_id: int, sid: str, token: str, courseware_id: int, duration_ms: int,
             required_watch_ms: int, required_coverage_s: int, seed: ProgressSeed, ip: str, user_agent: str,
             device: str, automation: bool, resume_sid: str, draw_ms: int) -> dict:
        """Open (or resume) a playback and supersede the person's previous one; return the script's answer."""
        return self._run("open", cfg, user_id, sid, [
            self._now_arg(), user_id, sid, token, courseware_id, duration_ms,
            required_watch_ms, required_coverage_s, seed.furthest_ms, seed.resume_ms, seed.watch_ms,
            seed.coverage_bitmap, int(seed.completed), ip, user_agent, device, int(automation), resume_sid, draw_ms,
        ], courseware_id=courseware_id, also=resume_sid)

    def peers(self, kind: str, name: str, user_id: int, info: dict, window_ms: int) -> list[dict]:
        """Record the opener behind an address (``kind`` "a") or on a device ("d"); return everyone seen there
        within the window (the opener included), as the JSON each recorded."""
        tag = f"trk:{{{kind}:{name}}}:"
        raw = self._scripts["peers"](keys=[tag + "m", tag + "i"], args=[
            self._now_arg(), int(user_id), json.dumps(info, separators=(",", ":")), max(int(window_ms), 1)])
        return [json.loads(item) for item in raw if item]

    def evidence(self, cfg: str, *, user_id: int, sid: str, events: list) -> dict:
        """Add cross-person evidence [type, values, once-key] to a session; return its totals (or no_session)."""
        return self._run("evidence", cfg, user_id, sid, [
            self._now_arg(), user_id, sid, json.dumps(events, ensure_ascii=False)])

    def heartbeat(self, cfg: str, *, user_id: int, sid: str, token: str, next_token: str, position_ms: int,
                  playing: bool, hints: dict, draw_ms: int, check_code: str, check_id: str) -> dict:
        """Judge one heartbeat; return the script's answer (status, credit, reason, totals, check)."""
        return self._run("heartbeat", cfg, user_id, sid, [
            self._now_arg(), user_id, sid, token, next_token, position_ms,
            int(playing), json.dumps(hints), draw_ms, check_code, check_id,
        ])

    def answer(self, cfg: str, *, user_id: int, sid: str, check_id: str, answer: str, draw_ms: int) -> dict:
        """Answer the pending attention check; return passed / wrong / expired / no_check with the totals."""
        return self._run("answer", cfg, user_id, sid, [
            self._now_arg(), user_id, sid, check_id, answer, draw_ms,
        ])

    def close(self, cfg: str, *, user_id: int, sid: str, reason: str = "closed", idle_ms: int = 0, draw_ms: int,
              check_code: str, check_id: str) -> dict:
        """End a playback (closed by the page, or idle); return the script's answer."""
        return self._run("close", cfg, user_id, sid, [
            self._now_arg(), user_id, sid, reason, idle_ms, draw_ms, check_code, check_id,
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

    # ---------------------------------------------------------------- the flush

    def snapshot(self, user_id: int, sid: str, events_written: int, trace_written: int) -> Snapshot | None:
        """Read a session for the flush, or None when Redis no longer has it."""
        return self.snapshots([(user_id, sid, events_written, trace_written)])[0]

    def snapshots(self, wanted: list[tuple[int, str, int, int]]) -> list[Snapshot | None]:
        """Read sessions (user id, sid, events written, trace points written) in two pipelined round trips: the
        sessions' coursewares (their progress keys are declared to the snapshot script), then the snapshots."""
        if not wanted:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for user_id, sid, _, _ in wanted:
            pipe.hget(session_key(user_id, sid), "cw")
        coursewares = pipe.execute()
        calls, places = [], []
        for (user_id, sid, events_written, trace_written), courseware_id in zip(wanted, coursewares, strict=True):
            if courseware_id is None:
                places.append(None)
                continue
            sk, ev, tr, cov, _, cw, _ = session_keys(user_id, sid, courseware_id.decode())
            places.append(len(calls))
            calls.append((self._scripts["snapshot"], [sk, cov, ev, tr, cw], [events_written, trace_written]))
        answers = run_pipelined(self.redis, calls)
        return [None if place is None or answers[place] is None else _snapshot(answers[place]) for place in places]

    def flushed(self, written: dict[tuple[int, str], tuple[int, int]], closed_keep_ms: int,
                superseded_keep_ms: int) -> None:
        """After the database committed sessions, per (user id, sid) → (trace points, version) written: drop the
        trace points it holds, and let closed sessions whose time is decided expire soon (lua/flushed.lua)."""
        calls = []
        for (user_id, sid), (trace_points, version) in written.items():
            prefix, (sk, ev, tr, cov, pcov, _, _) = person_prefix(user_id), session_keys(user_id, sid, "")
            calls.append((self._scripts["flushed"], [sk, ev, tr, cov, pcov, f"{prefix}chk", f"{prefix}pool"],
                          [trace_points, version, max(int(closed_keep_ms), 1), max(int(superseded_keep_ms), 1)]))
        run_pipelined(self.redis, calls)

    def take_dirty(self) -> list[tuple[int, str]]:
        """Return the sessions changed since the last flush (and any a failed flush left), as (user id, sid),
        from every bucket."""
        calls = [(self._scripts["take_dirty"], list(bucket_keys(bucket, self.shards)[:2]), [MARK_TTL_MS])
                 for bucket in range(self.shards)]
        return [_member(m) for members in run_pipelined(self.redis, calls) for m in members]

    def finish_dirty(self) -> None:
        """Forget the sessions just flushed (changes made meanwhile are already in the next dirty sets)."""
        pipe = self.redis.pipeline(transaction=False)
        for bucket in range(self.shards):
            pipe.delete(bucket_keys(bucket, self.shards)[1])
        pipe.execute()

    def open_count(self) -> int:
        """How many sessions are open (in the live sets), for the metrics."""
        pipe = self.redis.pipeline(transaction=False)
        for bucket in range(self.shards):
            pipe.zcard(bucket_keys(bucket, self.shards)[2])
        return sum(int(n) for n in pipe.execute())

    def idle_sessions(self, older_than_ms: int, limit: int = 500) -> list[tuple[int, str]]:
        """Return open sessions whose last activity is older than the given time, as (user id, sid), at most
        ``limit`` from each bucket."""
        pipe = self.redis.pipeline(transaction=False)
        for bucket in range(self.shards):
            pipe.zrangebyscore(bucket_keys(bucket, self.shards)[2], "-inf", older_than_ms, start=0, num=limit)
        return [_member(m) for members in pipe.execute() for m in members]

    def coverage(self, user_id: int, sid: str, provisional: bool = False) -> bytes:
        """Return a session's coverage bitmap (confirmed, or the provisional one)."""
        return self.redis.get(session_key(user_id, sid) + (":pcov" if provisional else ":cov")) or b""

    def courseware_coverage(self, user_id: int, courseware_id: int) -> bytes:
        """Return the person's confirmed coverage bitmap of a courseware as Redis holds it."""
        return self.redis.get(f"{person_prefix(user_id)}cov:{courseware_id}") or b""

    def try_lock(self, name: str, ttl_ms: int) -> bool:
        """Take a lock shared by every process for ttl_ms unless another holder has it (never released early)."""
        return bool(self.redis.set(f"trk:lock:{name}", b"1", nx=True, px=ttl_ms))


def _member(raw: bytes) -> tuple[int, str]:
    uid, _, sid = raw.decode().partition(":")
    return int(uid), sid


def _is_cluster(client) -> bool:
    return isinstance(client, redis.RedisCluster)
