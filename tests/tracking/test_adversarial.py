"""Every known cheat of SPEC §3, played by a real Socket.IO client against real server processes.

Two server processes (gunicorn + gevent-websocket, PostgreSQL, Redis) run with test durations: one without
attention checks, one that asks a check after every ~2 s of credited time. Each cheat is played once, all of them
at the same time (they are different people, at different addresses), by the ``outcomes`` fixture; each test
then reads back from the database what its cheat earned and the evidence it left.

What "earns nothing beyond the real time it honestly played" means here: ``honest_s`` is the media time the
cheater really played at 1× between heartbeats the server accepted, measured by the client on its own clock.
A raised rate can hide inside the drift tolerance for a moment before the cumulative drift gives it away: the
media may run up to ``position_tolerance_s`` ahead of the server's clock, after up to ``position_tolerance_s``
of slack behind it, so ``RATE_TOLERANCE_S`` = 2 × ``position_tolerance_s`` of real time spent cheating at 2×
may be credited (protocol §4, rule 6); after that the page is beyond its verified position until it goes back
(rule 7). No other cheat gets any tolerance.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from lms.extensions import db
from lms.tracking import tasks
from lms.tracking.models import CoursewareProgress, HoldState, PlaybackSession
from tests.support.tracking_client import (
    MediaClock,
    ServerProcess,
    TrackingClient,
    real_backend_app,
    seed_campus,
    stored_event_types,
    stored_session,
)

DURATION_S = 600.0
PLAIN = {
    "heartbeat_interval_s": 1.0,
    "min_interval_s": 0.5,
    "grace_s": 2.0,  # max_gap = 1 × 1.2 + 2 = 3.2 s
    "position_tolerance_s": 1.0,
    "flush_interval_s": 1.0,
    "idle_close_s": 60.0,
    "check_mean_interval_s": 10_000_000.0,
    "check_min_gap_s": 0.0,
}
# A blocking check after each 2 s of credited time, 2 s to answer it.
WITH_CHECKS = {**PLAIN, "check_mean_interval_s": 2.0, "check_min_gap_s": 2.0, "check_answer_window_s": 2.0}
MAX_GAP_S = PLAIN["heartbeat_interval_s"] * 1.2 + PLAIN["grace_s"]
RATE_TOLERANCE_S = 2 * PLAIN["position_tolerance_s"]
MS = 0.001  # positions travel in whole milliseconds; sums of them may be off by a float rounding
HONEST_HINTS = {"hidden": False, "rate": 1.0, "webdriver": False}
HEADLESS_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/142.0"


class Cheater:
    """A page that follows the protocol when it plays honestly and breaks it on purpose in between."""

    def __init__(self, url: str, login: str, address: str, **client_options):
        self.client = TrackingClient(url, login, address=address, **client_options)
        self.video = MediaClock()
        self.honest_s = 0.0
        self.honest_before_seek = 0.0  # for the seeking cheat: what it had honestly played when it jumped
        self.answers: list[dict] = []  # for the machine answering checks: the answers' acknowledgements
        self.accepted_position, self.accepted_at = 0.0, 0.0
        self.opened_at = self.closed_at = self.final_position = 0.0

    def open(self, courseware_id: int) -> dict:
        self.client.connect()
        ack = self.client.open(courseware_id)
        assert ack["ok"], ack
        self.opened_at = time.monotonic()
        self.video.seek(ack["resume_s"])
        self.accepted_position, self.accepted_at = ack["resume_s"], time.monotonic()
        self.video.play()
        return ack

    def beat(self, position: float | None = None, *, honest: bool = False, hints: dict | None = None,
             **options) -> dict:
        """Send one heartbeat (the video's position unless told); count its advance as honest if it was."""
        sent_at = time.monotonic()
        position = round(self.video.position_at(sent_at) if position is None else position, 3)  # whole ms, as sent
        ack = self.client.heartbeat(position, hints=HONEST_HINTS if hints is None else hints, **options)
        if ack["ok"]:
            if honest:
                # Played at 1× since the last accepted heartbeat: no more than the real time that passed.
                self.honest_s += max(0.0, min(position - self.accepted_position, sent_at - self.accepted_at + MS))
            self.accepted_position, self.accepted_at = position, sent_at
        return ack

    def play_honestly(self, seconds: float, on_check: Callable[[dict], None] | None = None) -> None:
        """Play at 1× for about ``seconds``, heartbeating when the server asks."""
        self.video.set_rate(1.0)
        self.video.play()
        end = time.monotonic() + seconds
        while time.monotonic() + self.client.next_delay() <= end:
            time.sleep(self.client.next_delay())
            ack = self.beat(honest=True)
            if not ack["ok"] and ack["error"]["code"] == "too_soon":
                time.sleep(ack["error"]["retry_in_s"])
                continue
            assert ack["ok"], ack
            if ack.get("check") and on_check:
                on_check(ack["check"])

    def close(self) -> dict:
        ack = self.client.close()
        self.closed_at, self.final_position = time.monotonic(), self.video.position
        self.client.disconnect()
        return ack

    @property
    def wall_s(self) -> float:
        return self.closed_at - self.opened_at


@dataclasses.dataclass
class Outcome:
    """What a cheat did (its pages) and, once everything is flushed, what the database says about it."""

    pages: list[Cheater]
    rows: list[PlaybackSession] = dataclasses.field(default_factory=list)
    events: list[list[str]] = dataclasses.field(default_factory=list)
    error: BaseException | None = None

    @property
    def page(self) -> Cheater:
        return self.pages[0]

    @property
    def row(self) -> PlaybackSession:
        return self.rows[0]

    def earned(self, index: int = 0) -> float:
        """Seconds credited to the session: confirmed plus still pending a check."""
        return self.rows[index].credited_seconds + self.rows[index].pending_seconds


# ---------------------------------------------------------------------------------------------------- the cheats


def raise_the_playback_rate(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.1")
    page.open(cw)
    page.play_honestly(3.0)
    page.video.set_rate(2.0)  # video.playbackRate = 2; the page even claims 1× in its hints
    for _ in range(4):
        time.sleep(page.client.next_delay())
        page.beat()
    page.close()
    return [page]


def speed_up_the_page_timers(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.2")
    page.open(cw)
    page.play_honestly(2.0)
    # Timers run twice as fast: every requested delay passes in half the real time, and the video "advances" by
    # the full delay each time.
    position = page.video.position
    for _ in range(6):
        delay = page.client.next_delay()
        time.sleep(delay / 2)
        position += delay
        ack = page.beat(position)
        if not ack["ok"] and ack["error"]["code"] == "too_soon":
            time.sleep(ack["error"]["retry_in_s"])
    page.close()
    return [page]


def seek_to_the_end(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.3")
    page.open(cw)
    page.play_honestly(3.0)
    page.honest_before_seek = page.honest_s
    page.video.seek(DURATION_S - 2.0)
    page.play_honestly(3.0)  # plays on, honestly, from where verified playing never got
    page.close()
    return [page]


def override_document_hidden(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.4")
    page.open(cw)
    page.play_honestly(2.0)
    # In a background tab the browser throttles timers; with document.hidden overridden the video plays on and
    # the page still claims to be visible, but its heartbeats come late.
    for _ in range(2):
        time.sleep(MAX_GAP_S * 1.5)
        page.beat()
    page.close()
    return [page]


def forge_replay_and_reorder_messages(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.5")
    page.open(cw)
    tokens = [page.client.token]
    forged = [
        lambda: page.beat(DURATION_S / 2, token="forged-token-0123456789"),  # any key in the page is public
        lambda: page.beat(page.video.position + 30, token=tokens[-2]),  # replayed: the token already used
        lambda: page.beat(page.video.position + 30, token=tokens[-3] if len(tokens) > 2 else tokens[0]),  # reordered
        # With the page's own valid token: made-up progress and durations are judged like any heartbeat.
        lambda: page.beat(page.video.position + 120, credited_s=9999, duration_s=9999),
        lambda: page.beat(page.video.position + 30, sid="stolen-session-id-0000"),  # someone else's, or made up
    ]
    for forge in forged:
        time.sleep(page.client.next_delay())
        assert page.beat(honest=True)["ok"]
        tokens.append(page.client.token)
        time.sleep(PLAIN["min_interval_s"] + 0.1)  # not refused as a flood: judged on what it says
        forge()
    time.sleep(page.client.next_delay())
    page.beat(honest=True)
    page.close()
    return [page]


def play_in_several_tabs_at_once(urls, cw, logins):
    tabs = [Cheater(urls["plain"], logins[0], "10.3.0.6", device=f"device-tab-{n}-x") for n in range(2)]
    for tab in tabs:
        tab.open(cw)
    # Both tabs play in real time; whichever is told it was taken over takes the playback back at once.
    for _ in range(6):
        for tab in tabs:
            ack = tab.beat(honest=True)
            if not ack["ok"] and ack["error"]["code"] == "superseded":
                assert tab.client.open(cw, resume=True)["ok"]
                tab.beat(honest=True)
        time.sleep(0.6)
    for tab in tabs:
        tab.close()
    return tabs


def flood_heartbeats(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.7")
    page.open(cw)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        page.beat(honest=True)  # refused as too_soon unless min_interval_s has passed: the token stays valid
        time.sleep(0.1)
    page.close()
    return [page]


def come_back_to_a_long_idle_page(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.8")
    page.open(cw)
    page.play_honestly(2.0)
    time.sleep(MAX_GAP_S * 2)  # the page slept; the video, it claims, played on
    page.beat()
    page.play_honestly(2.0)
    page.close()
    return [page]


def pause_long_then_jump(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.9")
    page.open(cw)
    page.play_honestly(2.0)
    page.video.pause()
    paused_at, started = page.video.position, time.monotonic()
    for _ in range(3):
        time.sleep(page.client.next_delay())
        page.beat(playing=False)
    # Jump ahead by the time spent paused, as if it had played all along.
    time.sleep(page.client.next_delay())
    page.video.seek(paused_at + time.monotonic() - started)
    page.beat()
    page.play_honestly(2.0)
    page.close()
    return [page]


def suppress_the_attention_checks(urls, cw, logins):
    page = Cheater(urls["checks"], logins[0], "10.3.0.10")
    page.open(cw)
    end = time.monotonic() + 9.0
    while time.monotonic() < end:
        # The pop-up is hidden: the video never pauses, nothing is answered. (Heartbeats a little late, so each
        # interval's advance is clearly more than the position tolerance.)
        time.sleep(page.client.next_delay() + 0.5)
        page.beat(honest=True)
    page.close()
    return [page]


def answer_checks_by_machine(urls, cw, logins):
    page = Cheater(urls["checks"], logins[0], "10.3.0.11")
    page.open(cw)
    page.play_honestly(11.0, on_check=lambda check: page.answers.append(page.client.answer(check)))
    page.close()
    return [page]


def automate_a_headless_browser(urls, cw, logins):
    page = Cheater(urls["plain"], logins[0], "10.3.0.12", user_agent=HEADLESS_UA)
    page.open(cw)
    page.play_honestly(3.0)
    time.sleep(page.client.next_delay())
    page.beat(honest=True, hints={**HONEST_HINTS, "webdriver": True})
    page.close()
    return [page]


def study_for_many_accounts_from_one_address(urls, cw, logins):
    pages = [Cheater(urls["plain"], login, "10.3.9.9") for login in logins[:4]]
    for page in pages:
        page.open(cw)
        page.play_honestly(1.5)
        page.close()
    return pages


def study_for_two_accounts_on_one_device(urls, cw, logins):
    pages = [Cheater(urls["plain"], login, f"10.3.1.{n}", device="one-shared-laptop") for n, login in
             enumerate(logins[:2])]
    for page in pages:
        page.open(cw)
        page.play_honestly(1.5)
        page.close()
    return pages


CHEATS: dict[str, tuple[Callable, int]] = {
    "rate": (raise_the_playback_rate, 1),
    "timers": (speed_up_the_page_timers, 1),
    "seek_end": (seek_to_the_end, 1),
    "hidden": (override_document_hidden, 1),
    "forged": (forge_replay_and_reorder_messages, 1),
    "tabs": (play_in_several_tabs_at_once, 1),
    "flood": (flood_heartbeats, 1),
    "idle": (come_back_to_a_long_idle_page, 1),
    "pause_jump": (pause_long_then_jump, 1),
    "checks_suppressed": (suppress_the_attention_checks, 1),
    "checks_by_machine": (answer_checks_by_machine, 1),
    "headless": (automate_a_headless_browser, 1),
    "shared_address": (study_for_many_accounts_from_one_address, 4),
    "shared_device": (study_for_two_accounts_on_one_device, 2),
}


# Played again with the tracking state on a 3-master Redis Cluster: a representative set, one of each kind of
# script call (judging, checks, takeovers, cross-person evidence), so the suite grows by seconds, not minutes.
ON_CLUSTER = ("rate", "forged", "tabs", "checks_suppressed", "headless", "shared_device")


@pytest.fixture(scope="module", params=["redis", "cluster"])
def outcomes(request, postgres_url, redis_url, tmp_path_factory) -> dict[str, Outcome]:
    """Start both servers, play every cheat at once, flush, and read back each cheat's sessions and evidence."""
    cluster = request.param == "cluster"
    tracking_url = request.getfixturevalue("redis_cluster").url() if cluster else None
    cheats = {name: CHEATS[name] for name in ON_CLUSTER} if cluster else CHEATS
    env = {"LMS_TRACKING_REDIS_URL": tracking_url} if cluster else {}
    with real_backend_app(postgres_url, redis_url, tmp_path_factory.mktemp("adversarial"), tracking_url):
        campus = seed_campus(sum(people for _, people in cheats.values()), duration_s=DURATION_S)
        servers = {"plain": ServerProcess(database_url=postgres_url, redis_url=redis_url, tracking=PLAIN, env=env),
                   "checks": ServerProcess(database_url=postgres_url, redis_url=redis_url, tracking=WITH_CHECKS,
                                           env=env)}
        try:
            for server in servers.values():
                server.start(wait=False)
            for server in servers.values():
                server.wait_ready()
            urls = {name: server.url for name, server in servers.items()}
            logins = iter(campus.logins)
            results: dict[str, Outcome] = {}
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(cheats)) as pool:
                futures = {name: pool.submit(cheat, urls, campus.courseware_id, [next(logins) for _ in range(n)])
                           for name, (cheat, n) in cheats.items()}
                for name, future in futures.items():
                    try:
                        results[name] = Outcome(pages=future.result(timeout=120))
                    except Exception as error:  # noqa: BLE001 - reported by the cheat's own test
                        results[name] = Outcome(pages=[], error=error)
        finally:
            for server in servers.values():
                server.request_stop()
            for server in servers.values():
                server.cleanup()
        # What the servers had not written yet (a superseded tab's last refusals) is written now, from Redis.
        tasks.flush_dirty_sessions()
        for outcome in results.values():
            for page in outcome.pages:
                outcome.rows.append(stored_session(page.client.sid))
                outcome.events.append(stored_event_types(page.client.sid))
        yield results
    if cluster:
        request.getfixturevalue("redis_cluster").empty()


def outcome_of(outcomes, name: str) -> Outcome:
    if name not in outcomes:
        pytest.skip("not in the representative set played on the Redis Cluster")
    outcome = outcomes[name]
    if outcome.error is not None:
        raise outcome.error
    return outcome


def progress_of(outcome: Outcome, index: int = 0) -> CoursewareProgress:
    row = outcome.rows[index]
    return db.session.scalar(sa.select(CoursewareProgress).where(
        CoursewareProgress.user_id == row.user_id, CoursewareProgress.courseware_id == row.courseware_id))


def assert_within_real_time(outcome: Outcome) -> None:
    for page, row in zip(outcome.pages, outcome.rows, strict=True):
        assert row.credited_seconds + row.pending_seconds <= page.wall_s, (row.credited_seconds, page.wall_s)


def test_a_raised_playback_rate_earns_only_the_honest_time_and_is_recorded(outcomes):
    outcome = outcome_of(outcomes, "rate")
    assert outcome.earned() <= outcome.page.honest_s + RATE_TOLERANCE_S + MS
    assert outcome.events[0].count("rate") >= 1
    assert_within_real_time(outcome)


def test_sped_up_page_timers_earn_only_the_honest_time_and_are_recorded(outcomes):
    outcome = outcome_of(outcomes, "timers")
    assert outcome.earned() <= outcome.page.honest_s + RATE_TOLERANCE_S + MS
    assert "rate" in outcome.events[0]
    assert_within_real_time(outcome)


def test_seeking_to_the_end_earns_nothing_and_verifies_nothing_beyond_honest_playing(outcomes):
    outcome = outcome_of(outcomes, "seek_end")
    page = outcome.page
    assert outcome.earned() <= page.honest_before_seek + MS
    assert "seek_ahead" in outcome.events[0] and "beyond_verified" in outcome.events[0]
    tolerance = PLAIN["position_tolerance_s"]
    assert outcome.row.furthest_verified_s <= page.honest_before_seek + tolerance
    assert outcome.row.coverage_seconds <= page.honest_before_seek + 1
    assert progress_of(outcome).furthest_verified_s <= page.honest_before_seek + tolerance


def test_playing_on_in_a_background_tab_with_document_hidden_overridden_earns_nothing(outcomes):
    outcome = outcome_of(outcomes, "hidden")
    assert outcome.earned() <= outcome.page.honest_s + MS
    assert outcome.events[0].count("gap") == 2


def test_forged_replayed_and_reordered_messages_earn_nothing(outcomes):
    outcome = outcome_of(outcomes, "forged")
    assert outcome.earned() <= outcome.page.honest_s + MS
    assert outcome.page.client.errors == ["bad_token", "bad_token", "bad_token", "no_session"]
    assert outcome.events[0].count("bad_token") == 3  # the made-up session id is simply unknown
    assert "seek_ahead" in outcome.events[0]  # the valid token does not make a made-up position believable
    assert outcome.row.furthest_verified_s <= outcome.page.final_position
    assert_within_real_time(outcome)


def test_several_tabs_of_one_person_are_credited_once_and_leave_evidence(outcomes):
    outcome = outcome_of(outcomes, "tabs")
    window = max(p.closed_at for p in outcome.pages) - min(p.opened_at for p in outcome.pages)
    assert outcome.earned(0) + outcome.earned(1) <= window
    events = outcome.events[0] + outcome.events[1]
    assert "concurrent" in events and "superseded_heartbeat" in events


def test_flooded_heartbeats_earn_only_the_real_time(outcomes):
    outcome = outcome_of(outcomes, "flood")
    assert outcome.earned() <= outcome.page.honest_s + MS
    assert outcome.events[0].count("flood") >= 10
    assert "too_soon" in outcome.page.client.errors
    assert_within_real_time(outcome)


def test_a_long_idle_page_earns_nothing_for_the_idle_time(outcomes):
    outcome = outcome_of(outcomes, "idle")
    assert outcome.earned() <= outcome.page.honest_s + MS
    assert "gap" in outcome.events[0]


def test_a_long_pause_then_a_jump_earns_nothing_for_the_paused_time(outcomes):
    outcome = outcome_of(outcomes, "pause_jump")
    assert outcome.earned() <= outcome.page.honest_s + MS
    assert {"rate", "seek_ahead"} & set(outcome.events[0])


def test_suppressed_attention_checks_void_the_time_and_are_recorded(outcomes):
    outcome = outcome_of(outcomes, "checks_suppressed")
    assert outcome.row.credited_seconds == 0  # nothing was ever confirmed
    assert outcome.row.voided_seconds > 0
    assert "check_missed" in outcome.events[0] and "played_during_check" in outcome.events[0]
    assert progress_of(outcome).verified_watch_seconds == 0


def test_checks_answered_by_a_machine_hold_the_session_for_review(outcomes):
    outcome = outcome_of(outcomes, "checks_by_machine")
    assert outcome.earned() <= outcome.page.honest_s + MS
    assert all(answer["result"] == "passed" for answer in outcome.page.answers), outcome.page.answers
    assert outcome.events[0].count("check_fast") >= 3
    assert outcome.row.hold_state == HoldState.HELD
    assert progress_of(outcome).verified_watch_seconds == 0  # held time counts only once a reviewer releases it


def test_a_headless_automated_browser_is_held_for_review(outcomes):
    outcome = outcome_of(outcomes, "headless")
    assert outcome.earned() <= outcome.page.honest_s + MS
    assert outcome.events[0].count("automation") == 1  # the agent at open; the webdriver hint adds no second one
    assert outcome.row.hold_state == HoldState.HELD
    assert progress_of(outcome).verified_watch_seconds == 0


def test_many_accounts_of_one_unit_from_one_address_leave_weak_evidence_and_are_not_held(outcomes):
    # What a hospital's staff behind one address look like (issue 16): the address alone never holds a session.
    outcome = outcome_of(outcomes, "shared_address")
    for index, page in enumerate(outcome.pages):
        assert outcome.earned(index) <= page.honest_s + MS
    assert [("shared_address" in events) for events in outcome.events] == [False, False, False, True]
    assert {row.hold_state for row in outcome.rows} == {HoldState.NONE}


def test_two_accounts_on_one_device_are_both_held_for_review(outcomes):
    outcome = outcome_of(outcomes, "shared_device")
    # The first account is held too once the second appears on its device, and both played the same courseware.
    assert [("shared_device" in events) for events in outcome.events] == [True, True]
    assert all("device_relay" in events for events in outcome.events)
    assert [row.hold_state for row in outcome.rows] == [HoldState.HELD, HoldState.HELD]
