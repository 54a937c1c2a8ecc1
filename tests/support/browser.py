"""Headless Debian Chromium for the browser tests (driven by Playwright), and helpers for the tracked player.

    with chromium() as browser:                 # an ordinary automated browser
        page = browser.new_page()
        log_in(page, url, user)

    with chromium(honest=True) as browser:      # looks like a learner's desktop Chrome
        page = honest_context(browser).new_page()

The server rightly holds playback sessions of automated browsers for review (SPEC §3). Tests about what the
player and the time accounting do, not about that evidence (tests/tracking covers it), use ``honest=True``: no
"HeadlessChrome" in the user agent and navigator.webdriver false.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from lms.core.db import utcnow
from lms.extensions import db
from lms.tracking import service as tracking
from lms.tracking import tasks
from lms.tracking.models import PlaybackSession, PlaybackState
from tests.conftest import PASSWORD
from tests.support import services

CHROMIUM = "/usr/bin/chromium"
# The arguments STACK-NOTES gives.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Plus: navigator.webdriver false (as in a learner's browser) and no sound card.
HONEST_CHROMIUM_ARGS = [*CHROMIUM_ARGS, "--disable-blink-features=AutomationControlled", "--mute-audio"]

# Heartbeats every second (the server still draws each delay ±20 %); no background flusher, the test flushes.
FAST_TRACKING = {"heartbeat_interval_s": 1.0, "min_interval_s": 0.4, "grace_s": 5.0, "coverage_share": 0.8,
                 "flush_in_background": False, "check_mean_interval_s": 100_000.0, "check_min_gap_s": 100_000.0}
# Attention checks after 3 s (+ an exponential draw of mean 1 s) of credited playing.
WITH_CHECKS = {**FAST_TRACKING, "check_min_gap_s": 3.0, "check_mean_interval_s": 4.0, "check_answer_window_s": 60.0}


@contextlib.contextmanager
def chromium(*, honest: bool = False) -> Iterator:
    """Launch headless Debian Chromium; ``honest`` hides the automation flags a learner's browser does not have."""
    if not Path(CHROMIUM).exists():
        services.require("Chromium", FileNotFoundError(f"找不到 {CHROMIUM}：运行 bash scripts/bootstrap.sh --browser"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        if honest:
            # Without --enable-automation (and AutomationControlled), navigator.webdriver is false.
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=HONEST_CHROMIUM_ARGS,
                                                 ignore_default_args=["--enable-automation"])
        else:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def honest_context(browser, **options):
    """A new browser context whose user agent is the desktop Chrome of the same version (no "HeadlessChrome")."""
    agent = (f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             f"Chrome/{browser.version.split('.')[0]}.0.0.0 Safari/537.36")
    return browser.new_context(user_agent=agent, **options)


def log_in(page, url: str, user) -> None:
    """Log in through the login form of the served app, as a person would."""
    page.goto(f"{url}/login")
    page.fill("input[name=login]", user.login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda address: not address.endswith("/login"))


# ------------------------------------------------------------------------------------------------ tracked player


def start_playing(page, url: str, courseware, *, navigate: bool = True) -> None:
    """Open the player (or, with ``navigate=False``, follow the link to it), wait for the playback to be opened,
    and start the video with the keyboard."""
    with page.expect_response(lambda response: response.url.endswith(f"/play/{courseware.id}/key")) as key:
        if navigate:
            page.goto(f"{url}/play/{courseware.id}")
        else:
            page.click(f"a[href='/play/{courseware.id}']")
    # hls.js asked for the key only once the playback was open: it was handed out at the first request.
    assert key.value.status == 200
    page.wait_for_function("!document.querySelector('[data-action=play]').disabled")
    page.focus("video")
    page.keyboard.press("k")
    page.wait_for_function("document.querySelector('video').currentTime > 0.5")
    # Real frames were decoded: the segments arrived and the key the server handed out decrypted them.
    assert page.evaluate("document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames") > 0


def leave(page, user, courseware) -> None:
    """Close the page (pagehide closes the playback) and wait until the server has ended it."""
    page.close()
    deadline = time.monotonic() + 10
    while tracking.has_active_playback(user.id, courseware.id) and time.monotonic() < deadline:
        time.sleep(0.1)


def flushed_sessions(user, courseware) -> list[PlaybackSession]:
    """Write every changed session to the database, as the periodic flush does, and return the learner's."""
    tasks.flush_dirty_sessions()
    db.session.expire_all()
    return db.session.scalars(sa.select(PlaybackSession).where(
        PlaybackSession.user_id == user.id, PlaybackSession.courseware_id == courseware.id)).all()


def seed_earlier_watching(user, courseware, seconds: float) -> None:
    """Record an earlier, finished playback of the courseware (no coverage), as an earlier visit leaves it."""
    started = utcnow() - dt.timedelta(days=1)
    db.session.add(PlaybackSession(public_id="earlier-visit-0001", user_id=user.id, courseware_id=courseware.id,
                                   state=PlaybackState.CLOSED, started_at=started, ended_at=started,
                                   last_heartbeat_at=started, credited_seconds=seconds))
    db.session.flush()
    tracking.recompute_progress(user.id, courseware.id)
    db.session.commit()
