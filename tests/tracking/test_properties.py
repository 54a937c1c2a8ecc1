"""Properties over any heartbeat sequence: credit never exceeds real time, nor the media's advance, nor coverage.

Hypothesis drives the service API directly (no Socket.IO) on a server clock the test moves: any timing, positions,
playback rates, tokens (current, replayed, forged), reconnects, closes, attention checks and concurrent sessions of
one person on two coursewares. After every example the whole Redis state of the person is checked too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.tracking import service
from lms.tracking.service import TooManyOpens
from tests.tracking import FakeClock, Player, configure, media, synthetic_user_id

DURATIONS_S = {1: 120.0, 2: 45.0}
DAILY_CAP_HOURS = 0.02  # 72 s, so that examples reach it
SPEEDS = [1.0] * 8 + [0.0, 0.5, 1.05, 1.3, 2.0, 20.0, "back", "jump", "end"]
# Mostly on schedule, sometimes a flood, sometimes a drop or a long absence.
wait_ms = st.one_of(st.integers(2000, 7000), st.integers(2000, 7000), st.integers(2000, 7000),
                    st.integers(0, 2500), st.integers(7000, 45_000))
beat_step = st.tuples(st.just("beat"), st.integers(0, 8), wait_ms, st.sampled_from(SPEEDS),
                      st.sampled_from(["current"] * 8 + ["stale", "forged"]), st.booleans() | st.just(True),
                      st.sampled_from(["right", "right", "right", "wrong", "later"]))
STEPS = {
    "beat": beat_step,
    "open": st.tuples(st.just("open"), st.sampled_from([1, 2]), st.just(False), st.just(0)),
    # Go back to an earlier page and resume its playback there: takes over from the page in use.
    "switch": st.tuples(st.just("open"), st.just(1), st.just(True), st.integers(0, 7)),
    "answer": st.tuples(st.just("answer"), st.sampled_from([True, True, False])),
    "close": st.tuples(st.just("close"), st.integers(0, 7)),
    "wait": st.tuples(st.just("wait"), st.integers(0, 200_000)),
}
# Weighted by sampling the kind first (one_of would pick among distinct strategies about evenly).
step = st.sampled_from(["beat"] * 18 + ["open", "switch", "switch", "switch", "answer", "answer", "close", "wait"]
                       ).flatmap(STEPS.__getitem__)
scenario = st.tuples(st.sampled_from([1, 2]), st.lists(step, min_size=15, max_size=60)).map(
    lambda t: [("open", t[0], False, 0), *t[1]])

PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@dataclass
class Tab:
    """One page of the person, as the test knows it."""

    sid: str
    courseware_id: int
    token: str
    previous_token: str | None
    claimed_ms: int  # where the page says its video is
    server_position_ms: int  # the position of the last accepted heartbeat
    last_accepted_ms: int


class Person:
    """Runs the steps against the service and checks each acknowledgement against what really happened."""

    def __init__(self, clock: FakeClock, rate: float):
        self.clock, self.rate = clock, rate
        self.user_id = synthetic_user_id()
        self.tabs: list[Tab] = []
        self.active = 0  # the page the person is using; heartbeats of the others are concurrency attempts
        self.first_open_ms: int | None = None
        self.credits: list[tuple[int, int]] = []  # credited wall-clock ranges (start, end]
        self.runs: dict[tuple, dict] = defaultdict(lambda: {"credit": 0, "advance": 0})
        self.played: dict[int, list[tuple[int, int]]] = defaultdict(list)  # media of verified intervals
        self.pending_check: tuple[str, dict] | None = None

    def run(self, steps) -> None:
        for kind, *args in steps:
            getattr(self, kind)(*args)

    def open(self, courseware_id: int, resume: bool, index: int) -> None:
        tab = self.tabs[index % len(self.tabs)] if resume and self.tabs else None
        if tab is not None:
            courseware_id = tab.courseware_id
        try:
            ack = service.start_playback(self.user_id, media(courseware_id, DURATIONS_S[courseware_id]),
                                         resume_sid=tab.sid if tab else None).ack
        except TooManyOpens:
            return
        if self.first_open_ms is None:
            self.first_open_ms = self.clock.ms
        if tab is not None and ack["sid"] == tab.sid:
            assert ack["resumed"]
            tab.previous_token, tab.token = tab.token, ack["token"]
            self.active = self.tabs.index(tab)
            return
        resume_ms = round(ack["resume_s"] * 1000)
        self.tabs.append(Tab(ack["sid"], courseware_id, ack["token"], None, resume_ms, resume_ms, self.clock.ms))
        self.active = len(self.tabs) - 1

    def beat(self, index: int, wait_ms: int, speed, token_kind: str, playing: bool, on_check: str) -> None:
        if not self.tabs:
            return
        tab = self.tabs[self.active if index < 6 else index % len(self.tabs)]
        duration_ms = int(DURATIONS_S[tab.courseware_id] * 1000)
        self.clock.ms += wait_ms
        if speed == "back":
            tab.claimed_ms = max(0, tab.claimed_ms - 30_000)
        elif speed == "jump":
            tab.claimed_ms += 90_000
        elif speed == "end":
            tab.claimed_ms = duration_ms
        else:
            tab.claimed_ms += int(wait_ms * speed)
        tab.claimed_ms = min(tab.claimed_ms, 3 * duration_ms)
        token = {"current": tab.token, "stale": tab.previous_token or "stale-token",
                 "forged": "forged-token"}[token_kind]
        reply = service.heartbeat(self.user_id, {"sid": tab.sid, "token": token,
                                                 "position_s": tab.claimed_ms / 1000, "playing": playing})
        ack, out = reply.ack, reply.detail
        if not ack["ok"]:
            assert ack["error"]["code"] in ("bad_token", "too_soon", "superseded", "ended", "no_session")
            if token != tab.token:
                assert ack["error"]["code"] in ("bad_token", "superseded", "ended")
            return
        assert token == tab.token, "a heartbeat with a wrong token was accepted"
        now = self.clock.ms
        position_ms = min(max(tab.claimed_ms, 0), duration_ms)
        assert out["position_ms"] == position_ms
        # Invariant 1: the interval is the server's time since the last accepted heartbeat.
        assert round(ack["interval"]["seconds"] * 1000) == now - tab.last_accepted_ms
        credit_ms = out["credit_ms"]
        assert round(ack["interval"]["credited_s"] * 1000) == credit_ms >= 0
        if credit_ms:
            # Credit is attributed to a wall-clock range inside the session's own time, ending no later than now.
            start = out["credit_from_ms"]
            assert self.first_open_ms <= start and start + credit_ms <= now
            self.credits.append((start, start + credit_ms))
        if out.get("run_from_ms") is not None:
            run = self.runs[(tab.sid, out["run_from_ms"])]
            run["credit"] += credit_ms
            run["advance"] += position_ms - tab.server_position_ms
            self.played[tab.courseware_id].append((tab.server_position_ms, position_ms))
        else:
            assert credit_ms == 0
        tab.server_position_ms, tab.last_accepted_ms = position_ms, now
        tab.previous_token, tab.token = tab.token, ack["token"]
        if ack["check"]:
            self.pending_check = (tab.sid, ack["check"])
            if on_check != "later":
                self.clock.ms += 3000
                self.answer(on_check == "right")

    def answer(self, right: bool) -> None:
        if self.pending_check is None:
            return
        sid, check = self.pending_check
        ack = service.answer_check(self.user_id, {"sid": sid, "check_id": check["id"],
                                                  "answer": check["code"] if right else "wrong"}).ack
        if ack["ok"]:
            assert ack["result"] in ("passed", "wrong", "expired")
            assert ack["result"] != "passed" or right
        self.pending_check = None

    def close(self, index: int) -> None:
        if not self.tabs:
            return
        tab = self.tabs[index % len(self.tabs)]
        ack = service.close_session(self.user_id, {"sid": tab.sid}).ack
        if ack.get("check"):
            self.pending_check = (tab.sid, ack["check"])

    def wait(self, ms: int) -> None:
        self.clock.ms += ms

    # -------------------------------------------------------------------------------------------- whole state

    def check_everything(self) -> None:
        store = service.get_store()
        # Invariant 2: credited wall-clock ranges of all sessions together never overlap, so in any window the
        # person is credited at most the window's length.
        ranges = sorted(self.credits)
        for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
            assert start >= end, "two playbacks were credited for the same time"
        if ranges:
            assert ranges[0][0] >= self.first_open_ms and ranges[-1][1] <= self.clock.ms
        total_ms = sum(end - start for start, end in ranges)
        assert total_ms <= self.clock.ms - (self.first_open_ms or self.clock.ms)

        # Everything ever credited is confirmed, still pending, or voided; none is created or lost.
        snapshots = {tab.sid: store.snapshot(self.user_id, tab.sid, 0, 0) for tab in self.tabs}
        fields = {sid: snap.fields for sid, snap in snapshots.items()}
        held = sum(int(f["credited_ms"]) + int(f["prov_ms"]) + int(f["voided_ms"]) for f in fields.values())
        assert held == total_ms

        # Invariant 3: over every run of verified intervals, credit never exceeds the media advance ÷ allowed rate.
        for run in self.runs.values():
            assert run["credit"] * self.rate <= run["advance"] + 1e-6

        # Invariant 8, per local day.
        per_day: dict[int, int] = defaultdict(int)
        for start, end in ranges:
            per_day[(end + 8 * 3600 * 1000) // 86_400_000] += end - start
        assert all(ms <= DAILY_CAP_HOURS * 3600 * 1000 for ms in per_day.values())

        for courseware_id in DURATIONS_S:
            sids = [tab.sid for tab in self.tabs if tab.courseware_id == courseware_id]
            # Coverage is a set of media seconds: only seconds inside credited media ranges, each counted once.
            allowed = set()
            for start, end in self.played[courseware_id]:
                allowed.update(range(max(math.ceil((start - 500) / 1000), 0), math.ceil((end - 500) / 1000)))
            earned = set()
            for sid in sids:
                earned |= bits(store.coverage(self.user_id, sid)) | bits(store.coverage(self.user_id, sid, True))
            assert earned <= allowed, "coverage counted media that no verified interval played"
            credited_media_s = sum(run["credit"] for (sid, _), run in self.runs.items() if sid in sids) * self.rate
            assert len(earned) <= credited_media_s / 1000 + len(self.played[courseware_id])
            confirmed = set()
            for sid in sids:
                confirmed |= bits(store.coverage(self.user_id, sid))
            assert bits(store.courseware_coverage(self.user_id, courseware_id)) == confirmed
            assert len(confirmed) <= len(allowed)
            # The person's confirmed watch time on the courseware is exactly the sum over its sessions.
            progress = snapshots[sids[0]].progress if sids else {}
            assert int(progress.get("watch_ms", 0)) == sum(int(fields[sid]["credited_ms"]) for sid in sids)


def bits(bitmap: bytes) -> set[int]:
    """Return the media seconds set in a Redis bitmap (bit 0 is the high bit of byte 0)."""
    return {i * 8 + j for i, byte in enumerate(bitmap) for j in range(8) if byte & (0x80 >> j)}


@PROPERTY_SETTINGS
@given(steps=scenario, rate=st.sampled_from([1.0, 1.5]))
def test_no_heartbeat_sequence_earns_more_than_real_time_media_advance_or_coverage(app, steps, rate):
    any_heartbeat_sequence(app, steps, rate)


def any_heartbeat_sequence(app, steps, rate) -> None:
    """The main property's body (also run on the Redis Cluster, tests/tracking/test_cluster.py)."""
    clock = configure(app, allowed_rate=rate, daily_cap_hours=DAILY_CAP_HOURS, check_mean_interval_s=40.0,
                      check_answer_window_s=20.0)
    person = Person(clock, rate)
    person.run(steps)
    person.check_everything()


@PROPERTY_SETTINGS
@given(delays_ms=st.lists(st.integers(0, 600), min_size=10, max_size=60),
       steps_ms=st.lists(st.integers(4000, 6000), min_size=10, max_size=60),
       drop_at=st.integers(0, 59), drop_ms=st.sampled_from([0, 8_000, 20_000, 40_000]))
def test_an_honest_page_on_a_jittery_network_keeps_its_time(app, delays_ms, steps_ms, drop_at, drop_ms):
    honest_page_on_a_jittery_network(app, delays_ms, steps_ms, drop_at, drop_ms)


def honest_page_on_a_jittery_network(app, delays_ms, steps_ms, drop_at, drop_ms) -> None:
    """The jittery-network property's body (also run on the Redis Cluster, tests/tracking/test_cluster.py)."""
    clock = configure(app)
    player = Player.open(clock, facts=media(duration_s=3600))
    sent_at = arrived_at = 0
    lost_s = 0.0
    for i, (delay, gap) in enumerate(zip(delays_ms, steps_ms, strict=False)):
        if i == drop_at and drop_ms:
            gap += drop_ms  # the network was down; the video kept playing from its buffer
        sent_at += gap
        arrival = max(sent_at + delay, arrived_at + 2000)
        ack = player.beat((arrival - arrived_at) / 1000, position_s=sent_at / 1000)
        arrived_at = arrival
        assert ack["ok"], ack
        assert ack["interval"]["reason"] in (None, "gap"), ack
        if ack["interval"]["reason"] == "gap":
            lost_s += gap / 1000  # the media played across the gap
    # All of the real playing time, but for a disconnect longer than the grace window (31 s by default) and the
    # network delay of the heartbeat that ended it (the next run of credited intervals starts when it arrived).
    assert lost_s == 0 or drop_ms == 40_000
    assert player.credited() >= sent_at / 1000 - lost_s - (max(delays_ms) / 1000 if lost_s else 0) - 0.001
