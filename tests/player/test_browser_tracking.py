"""The learner's tracked player in headless Chromium (Debian's, driven by Playwright), against the real server.

Each test serves the app (Socket.IO included) on a loopback port with tracking settings of small durations, plays
a real, AES-encrypted HLS video made by ffmpeg, and reads what the server credited from the database after a
flush. The browser looks like an ordinary desktop Chrome (no "HeadlessChrome" agent, no navigator.webdriver):
the server rightly holds sessions of automated browsers for review (SPEC §3), and these tests are about what the
page and the time accounting do, not about that evidence, which tests/tracking covers.

Timing is never asserted beyond the invariant "credited ≤ real time elapsed" (measured around the whole visit).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from lms.courses.models import CourseState
from lms.extensions import db
from lms.tracking import service as tracking
from lms.tracking.models import CoursewareProgress, HoldState
from tests.player import enroll, live_server, make_course, make_packaged_media
from tests.support import services
from tests.support.browser import (
    FAST_TRACKING,
    WITH_CHECKS,
    chromium,
    flushed_sessions,
    honest_context,
    leave,
    log_in,
    seed_earlier_watching,
    start_playing,
)
from tests.support.media import package_encrypted_hls

VIDEO_SECONDS = 10


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def hls_folder(tmp_path_factory):
    """A 10-second test video packaged as AES-128 HLS (2-second segments) by ffmpeg, as the media worker does."""
    if not services.ffmpeg_available():
        services.require(services.FFMPEG, FileNotFoundError("ffmpeg 或 ffprobe 不在 PATH 中"))
    return package_encrypted_hls(tmp_path_factory.mktemp("browser-hls"), seconds=VIDEO_SECONDS)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium that looks like a learner's, launched once for the module."""
    with chromium(honest=True) as launched:
        yield launched


@pytest.fixture
def lecture(app, tree, hls_folder):
    """A published course of base_a whose courseware plays the packaged video (0.1 h); learner_a is enrolled."""
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(0.1,),
                         media=[make_packaged_media(tree.base_a, hls_folder)])
    enroll(tree.learner_a, course)
    return course.coursewares[0]


@pytest.fixture
def learner_page(browser, tree) -> Iterator:
    """Return a function that logs learner_a in through the login form of a served app and returns the page."""
    contexts = []

    def open_page(url: str):
        context = honest_context(browser, viewport={"width": 390, "height": 844})  # a phone's width
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        log_in(page, url, tree.learner_a)
        return page

    yield open_page
    for context in contexts:
        context.close()


# ------------------------------------------------------------------------------------------------ scenarios


def test_a_learner_watches_to_completion_answers_attention_checks_and_sees_the_counted_time(
        app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = WITH_CHECKS
    learner = tree.learner_a
    # 0.1 h asks for 270 s of watching: an earlier visit already earned all but 5 s, so this visit completes it.
    seed_earlier_watching(learner, lecture, 265.0)
    started = time.monotonic()
    with live_server(app) as url:
        page = learner_page(url)
        start_playing(page, url, lecture)
        dialog = page.locator("dialog[data-check]")
        answered = 0
        deadline = time.monotonic() + 60
        while page.locator("[data-completion]").inner_text() != "已完成本课件的观看要求":
            assert time.monotonic() < deadline, page.locator("[data-summary]").inner_text()
            if dialog.is_visible():
                page.wait_for_timeout(1200)  # a person reads the code before typing it
                code = page.locator("[data-check-code]").inner_text()
                assert re.fullmatch(r"\d{4}", code)
                page.keyboard.press("Control+A")  # the dialog put the focus in its input
                page.keyboard.type(code)
                if page.locator("[data-check-code]").inner_text() != code:
                    continue  # the server replaced the check meanwhile (an end check by a due one): read again
                page.keyboard.press("Enter")
                page.wait_for_function("!document.querySelector('dialog[data-check]').open")
                answered += 1
            page.wait_for_timeout(150)
        assert answered >= 1
        assert page.locator("[data-status]").inner_text() != ""
        watch_text = page.locator("[data-watch-time]").inner_text()
        assert re.fullmatch(r"4 分 3\d 秒", watch_text), watch_text  # 265 s earlier + this visit, shown in Chinese
        assert page.locator("[data-session-time]").inner_text() != "0 秒"
        assert page.get_attribute("#player", "data-completed") == "true"
        leave(page, learner, lecture)
        rows = flushed_sessions(learner, lecture)
    elapsed = time.monotonic() - started

    progress = db.session.scalar(sa.select(CoursewareProgress).where(
        CoursewareProgress.user_id == learner.id, CoursewareProgress.courseware_id == lecture.id))
    assert progress.completed_at is not None
    assert progress.verified_watch_seconds >= 270.0 and progress.coverage_seconds >= progress.required_coverage_seconds
    visit = next(row for row in rows if row.public_id != "earlier-visit-0001")
    assert visit.hold_state == HoldState.NONE
    assert 5.0 <= visit.credited_seconds + visit.pending_seconds <= elapsed
    assert {e.type for e in visit.events} >= {"opened", "check_issued", "check_passed"}


def test_a_playback_rate_forced_to_8_by_script_earns_no_more_than_real_time(app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    learner = tree.learner_a
    with live_server(app) as url:
        page = learner_page(url)
        started = time.monotonic()
        start_playing(page, url, lecture)
        page.evaluate("window.forceRate = setInterval(() => { document.querySelector('video').playbackRate = 8; }, 20)")
        page.wait_for_timeout(4000)
        # The page puts the rate back as soon as a script changes it.
        assert page.evaluate("""async () => {
            clearInterval(window.forceRate);
            const video = document.querySelector('video');
            video.playbackRate = 8;
            await new Promise(resolve => setTimeout(resolve, 100));
            return video.playbackRate; }""") == 1.0
        leave(page, learner, lecture)
        rows = flushed_sessions(learner, lecture)
    elapsed = time.monotonic() - started

    assert len(rows) == 1
    assert rows[0].credited_seconds + rows[0].pending_seconds <= elapsed
    assert rows[0].heartbeat_count >= 3  # the page kept reporting while the script forced the rate


def test_a_playback_rate_set_from_the_console_is_undone_said_and_reported_for_the_reviewer(
        app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    learner = tree.learner_a
    with live_server(app) as url:
        page = learner_page(url)
        start_playing(page, url, lecture)
        page.evaluate("document.querySelector('video').playbackRate = 4")  # as typed in the console
        notice = page.locator("[data-rate-notice]")
        notice.wait_for(state="visible")
        assert "播放速度固定为 1 倍速" in notice.inner_text() and "倍速播放" in notice.inner_text()
        assert page.evaluate("document.querySelector('video').playbackRate") == 1.0
        for _ in range(2):  # the second acknowledged heartbeat was sent after the attempt: it carried the hint
            counted = page.locator("[data-session-time]").inner_text()
            page.wait_for_function("t => document.querySelector('[data-session-time]').textContent !== t",
                                   arg=counted)
        leave(page, learner, lecture)
        rows = flushed_sessions(learner, lecture)

    [attempt] = [e for e in rows[0].events if e.type == "rate_attempt"]
    assert attempt.values == {"count": 1, "rate": 4.0}
    assert rows[0].hold_state == HoldState.NONE  # a curious learner is not held for it


def test_time_waiting_for_an_attention_check_says_when_it_will_count(app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = {**FAST_TRACKING, "check_mean_interval_s": 900.0, "check_min_gap_s": 600.0}
    with live_server(app) as url:
        page = learner_page(url)
        note = page.locator("[data-pending-note]")
        start_playing(page, url, lecture)
        page.locator("[data-pending]").wait_for(state="visible")
        assert note.is_visible()
        assert note.inner_text() == tracking.pending_note(tracking.tracking_settings())
        assert "下一次注意力验证通过后计入" in note.inner_text() and "平均每播放约 15 分钟一次" in note.inner_text()
        leave(page, tree.learner_a, lecture)


def test_a_page_whose_document_hidden_is_overridden_pauses_and_earns_no_more_than_real_time(
        app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    learner = tree.learner_a
    with live_server(app) as url:
        page = learner_page(url)
        started = time.monotonic()
        start_playing(page, url, lecture)
        page.wait_for_timeout(1000)
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
            Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
            document.dispatchEvent(new Event('visibilitychange')); }""")
        page.wait_for_function("document.querySelector('video').paused")
        assert "页面已隐藏" in page.locator("[data-status]").inner_text()
        # A script playing on regardless is paused again.
        page.evaluate("document.querySelector('video').play().catch(() => {})")
        page.wait_for_timeout(500)
        assert page.evaluate("document.querySelector('video').paused")
        page.wait_for_timeout(2000)
        leave(page, learner, lecture)
        rows = flushed_sessions(learner, lecture)
    elapsed = time.monotonic() - started

    assert len(rows) == 1
    assert rows[0].credited_seconds + rows[0].pending_seconds <= elapsed
    assert any(e.type == "opened" for e in rows[0].events)


def test_a_page_that_loses_the_network_reconnects_resumes_its_playback_and_carries_on(
        app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    learner = tree.learner_a
    started = time.monotonic()
    with live_server(app) as url:
        page = learner_page(url)
        sockets, polls = [], []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        # While offline the client also tries long-polling (tryAllTransports); none of those may get through.
        page.on("requestfinished", lambda request: "transport=polling" in request.url and polls.append(request.url))
        start_playing(page, url, lecture)
        page.wait_for_function("document.querySelector('[data-session-time]').textContent !== '0 秒'")
        page.context.set_offline(True)
        page.wait_for_function("document.querySelector('[data-status]').textContent.includes('网络连接中断')")
        page.wait_for_timeout(2000)
        page.context.set_offline(False)
        page.wait_for_function("document.querySelector('[data-status]').textContent === '计时中。'")
        # Earning again shows as a change of the counted time. A drop longer than the grace makes the first
        # interval after it a gap that earns nothing, so a fixed wait of one heartbeat or two is not enough.
        counted = page.text_content("[data-session-time]")
        page.wait_for_function("t => document.querySelector('[data-session-time]').textContent !== t", arg=counted)
        leave(page, learner, lecture)
        rows = flushed_sessions(learner, lecture)
    elapsed = time.monotonic() - started

    assert len(rows) == 1  # the same playback, resumed
    # It connected, and reconnected, by WebSocket straight away: no long-polling handshake that a load balancer
    # would have to keep on one process.
    assert len(sockets) >= 2 and all("/socket.io/" in u and "transport=websocket" in u for u in sockets), sockets
    assert polls == []
    events = [e.type for e in rows[0].events]
    assert "resumed" in events
    resumed_at = next(e.at for e in rows[0].events if e.type == "resumed")
    assert any(point[2] > 0 for point in rows[0].trace
               if rows[0].started_at + dt.timedelta(milliseconds=point[0]) > resumed_at)  # earning again
    assert rows[0].credited_seconds + rows[0].pending_seconds <= elapsed


def test_a_second_page_takes_over_and_the_first_says_so_and_can_take_it_back(app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    learner = tree.learner_a
    with live_server(app) as url:
        first = learner_page(url)
        started = time.monotonic()
        start_playing(first, url, lecture)
        second = first.context.new_page()  # another tab of the same browser
        start_playing(second, url, lecture)
        takeover = first.locator("[data-takeover]")
        takeover.wait_for(state="visible")
        assert "本页停止计时" in takeover.inner_text()
        first.wait_for_function("document.querySelector('video').paused")
        first.click("[data-action=continue-here]")
        second.locator("[data-takeover]").wait_for(state="visible")
        second.wait_for_function("document.querySelector('video').paused")
        assert first.locator("[data-takeover]").is_hidden()
        second.close()
        leave(first, learner, lecture)
        rows = flushed_sessions(learner, lecture)
    elapsed = time.monotonic() - started

    assert len(rows) == 2 and sum(r.credited_seconds + r.pending_seconds for r in rows) <= elapsed
    assert "superseded" in {e.type for r in rows for e in r.events}


def test_seeking_forward_past_the_verified_position_snaps_back_with_a_notice_and_is_reported(
        app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    learner = tree.learner_a
    with live_server(app) as url:
        page = learner_page(url)
        started = time.monotonic()
        start_playing(page, url, lecture)
        snapped_back = "(v => !v.seeking && v.currentTime < 5)(document.querySelector('video'))"
        page.evaluate("document.querySelector('video').currentTime = 9")  # a script, or a drag of the bar
        page.wait_for_function(snapped_back, timeout=5000)  # (the seeking event comes a task later)
        assert "只能拖动到已经观看过的位置" in page.locator("[data-status]").inner_text()
        for _ in range(3):  # → jumps 5 s forward only within what was watched
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        page.wait_for_function(snapped_back, timeout=5000)
        page.wait_for_timeout(1500)  # the next heartbeat reports the refusals
        leave(page, learner, lecture)
        rows = flushed_sessions(learner, lecture)
    elapsed = time.monotonic() - started

    assert len(rows) == 1 and rows[0].furthest_verified_s < 8
    assert any(e.type == "seek_attempt" and e.values["count"] >= 1 for e in rows[0].events)
    assert rows[0].credited_seconds + rows[0].pending_seconds <= elapsed


def test_the_player_page_requests_nothing_that_fails(app, tree, lecture, learner_page):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    with live_server(app) as url:
        page = learner_page(url)
        failed = []
        page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
                if response.status >= 400 else None)
        # A request cancelled by leaving the page it belonged to (ERR_ABORTED) did not fail.
        page.on("requestfailed", lambda request: failed.append(f"{request.failure} {request.url}")
                if request.failure != "net::ERR_ABORTED" else None)
        # The browser's own requests (the favicon) reach no response handler, only the console.
        page.on("console", lambda message: failed.append(f"{message.text} {message.location['url']}")
                if message.type == "error" else None)
        start_playing(page, url, lecture)
        page.wait_for_timeout(1500)  # a heartbeat or two, and whatever the page loads late
        leave(page, tree.learner_a, lecture)
    assert failed == []


def test_a_learner_whose_playback_is_held_is_told_why_in_the_player_and_in_the_watch_records(
        app, tree, lecture, browser):
    app.config["LMS_TRACKING"] = FAST_TRACKING
    learner = tree.learner_a
    automation = tracking.HOLD_REASONS["automation"]
    with live_server(app) as url:
        context = honest_context(browser)
        # navigator.webdriver true, as a browser driven by a bot reports it (the module's browser hides it)
        context.add_init_script("Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => true})")
        page = context.new_page()
        page.set_default_timeout(20_000)
        log_in(page, url, learner)
        start_playing(page, url, lecture)
        held = page.locator("[data-held]")
        held.wait_for(state="visible")
        page.locator("[data-held-reasons] li").first.wait_for()
        assert page.locator("[data-held-reasons] li").all_inner_texts() == [automation]
        leave(page, learner, lecture)
        rows = flushed_sessions(learner, lecture)
        assert rows[0].hold_state == HoldState.HELD
        records = context.new_page()
        records.goto(f"{url}/my/watch-records")
        row = records.locator(f"[data-session='{rows[0].public_id}']")
        assert "待审核" in row.inner_text()
        assert row.locator("[data-hold-reasons] li").all_inner_texts() == [automation]
        context.close()
