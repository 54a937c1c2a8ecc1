"""Script calls made meanwhile share one round trip to Redis (ScriptBatcher), each with its own answer or error."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lms.tracking import service
from lms.tracking.store import ScriptBatcher, TrackingStore
from tests.tracking import Player, configure, media, synthetic_user_id

ECHO = "return {KEYS[1], ARGV[1]}"
FAIL_ON_ODD = "if tonumber(ARGV[1]) % 2 == 1 then return redis.error_reply('odd ' .. ARGV[1]) end return ARGV[1]"


def held_first_batch(monkeypatch, batcher: ScriptBatcher, calls: int) -> list[int]:
    """Hold the first batch until all ``calls`` are in it or queued behind it; return every batch's size."""
    sizes: list[int] = []
    send = batcher._send

    def recording_send(batch):
        if not sizes:
            deadline = time.monotonic() + 5
            while len(batch) + len(batcher._queue) < calls and time.monotonic() < deadline:
                time.sleep(0.001)
        sizes.append(len(batch))
        send(batch)

    monkeypatch.setattr(batcher, "_send", recording_send)
    return sizes


def run_in_threads(count: int, work, first_alone: threading.Event | None = None) -> list:
    """Run ``work(i)`` in ``count`` threads; with ``first_alone``, start the others once it is set."""
    results: list = [None] * count

    def one(index):
        try:
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - compared by the test
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for index, thread in enumerate(threads):
        thread.start()
        if index == 0 and first_alone is not None:
            assert first_alone.wait(5)
    for thread in threads:
        thread.join(10)
    return results


def test_calls_made_meanwhile_share_a_batch_and_each_gets_its_own_answer(app, monkeypatch):
    client = app.extensions["lms.redis"]
    batcher = ScriptBatcher(client)
    script = client.register_script(ECHO)
    sizes = held_first_batch(monkeypatch, batcher, calls=8)
    first_sent = threading.Event()
    send = batcher._send
    monkeypatch.setattr(batcher, "_send", lambda batch: (first_sent.set(), send(batch)))
    # The first call is taken alone; the seven made while its batch is out all go in the next one.
    answers = run_in_threads(8, lambda i: batcher.call(script, [f"k{i}"], [i]), first_alone=first_sent)
    assert answers == [[f"k{i}".encode(), str(i).encode()] for i in range(8)]
    assert sizes == [1, 7]


def test_one_failing_call_fails_alone(app, monkeypatch):
    client = app.extensions["lms.redis"]
    batcher = ScriptBatcher(client)
    script = client.register_script(FAIL_ON_ODD)
    held_first_batch(monkeypatch, batcher, calls=6)
    answers = run_in_threads(6, lambda i: batcher.call(script, [], [i]))
    for i, answer in enumerate(answers):
        if i % 2:
            assert isinstance(answer, redis.ResponseError) and f"odd {i}" in str(answer)
        else:
            assert answer == str(i).encode()


def test_a_batch_after_redis_forgot_its_scripts_still_runs(app):
    client = app.extensions["lms.redis"]
    batcher = ScriptBatcher(client)
    script = client.register_script(ECHO)
    assert batcher.call(script, ["a"], [1]) == [b"a", b"1"]
    client.script_flush()
    assert batcher.call(script, ["b"], [2]) == [b"b", b"2"]


def test_an_unreachable_redis_fails_every_call_of_the_batch_and_the_next_batch_runs(app, monkeypatch):
    client = app.extensions["lms.redis"]
    batcher = ScriptBatcher(client)
    script = client.register_script(ECHO)
    real_pipeline = client.pipeline
    # Nothing listens on port 1; no retries, so the test does not wait out redis-py's back-off.
    broken = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(client, "pipeline", broken.pipeline)
    answers = run_in_threads(4, lambda i: batcher.call(script, ["k"], [i]))
    assert all(isinstance(answer, redis.ConnectionError) for answer in answers)
    monkeypatch.setattr(client, "pipeline", real_pipeline)
    assert batcher.call(script, ["k"], [9]) == [b"k", b"9"]


def test_a_caller_whose_batch_never_comes_back_gets_a_redis_timeout(app, monkeypatch):
    client = app.extensions["lms.redis"]
    batcher = ScriptBatcher(client)
    script = client.register_script(ECHO)
    monkeypatch.setattr(ScriptBatcher, "WAIT_S", 0.2)
    monkeypatch.setattr(batcher, "_send", lambda batch: time.sleep(1))  # a Redis that stopped answering
    with pytest.raises(redis.TimeoutError):
        batcher.call(script, ["k"], [1])


def test_an_unexpected_failure_while_answering_reaches_every_caller(app, monkeypatch):
    client = app.extensions["lms.redis"]
    batcher = ScriptBatcher(client)
    script = client.register_script(ECHO)
    real_pipeline = client.pipeline
    monkeypatch.setattr(client, "pipeline", lambda **kwargs: ShortPipeline(real_pipeline(**kwargs)))
    with pytest.raises(ValueError):  # answers and calls no longer pair up: every caller hears it, none waits
        batcher.call(script, ["k"], [1])


class ShortPipeline:
    """A pipeline that loses the last answer of its batch."""

    def __init__(self, pipe):
        self.pipe = pipe

    def execute_command(self, *args):
        return self.pipe.execute_command(*args)

    def execute(self, raise_on_error=True):
        return self.pipe.execute(raise_on_error=raise_on_error)[:-1]


def test_heartbeats_judged_through_batches_credit_what_one_at_a_time_credits(app):
    """The same playbacks, judged by a batching store and by a plain one, earn the same and leave the same state."""
    clock = configure(app)
    plain = service.get_store()
    batching = TrackingStore(plain.redis, clock=clock, batch_calls=True)
    outcomes = {}
    for name, store in (("plain", plain), ("batching", batching)):
        app.extensions["lms.tracking.store"] = store
        players = [Player.open(clock, synthetic_user_id(), media(duration_s=120.0)) for _ in range(4)]

        def beat(index, players=players):
            with app.app_context():
                return players[index].beat(0.0, advance_s=5.0)

        for _ in range(12):
            clock.advance(5.0)
            assert all(ack["ok"] for ack in run_in_threads(len(players), beat))
        outcomes[name] = [(p.credited(), p.acks[-1]["session"]["pending_s"],
                           p.acks[-1]["courseware"]["furthest_verified_s"]) for p in players]
    app.extensions["lms.tracking.store"] = plain
    assert outcomes["batching"] == outcomes["plain"]
    assert all(pending == 60.0 and furthest == 60.0 for _, pending, furthest in outcomes["plain"])


@pytest.fixture(autouse=True)
def _restore_store(app):
    store = app.extensions.get("lms.tracking.store")
    yield
    if store is not None:
        app.extensions["lms.tracking.store"] = store
