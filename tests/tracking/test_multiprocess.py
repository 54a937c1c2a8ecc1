"""Two real server processes (gunicorn + gevent-websocket) sharing one Redis and one PostgreSQL database.

One person playing on both at once is credited once, and the older page is told why it stopped; a process
killed with SIGKILL mid-session loses nothing Redis holds, and the page carries on on the other process.
The processes read their test durations from ``LMS_TRACKING_*`` variables, as a deployment would.
"""

from __future__ import annotations

import threading
import time

import pytest

from lms.config import Config, ConfigError
from lms.tracking.service import explain
from tests.support.tracking_client import (
    HonestPage,
    TrackingClient,
    real_backend_app,
    running_servers,
    seed_campus,
    stored_event_types,
    stored_session,
)

# Test durations: a heartbeat a second, a flush a second. max_gap = 1 × 1.2 + 3 = 4.2 s.
SETTINGS = {
    "heartbeat_interval_s": 1.0,
    "min_interval_s": 0.5,
    "grace_s": 3.0,
    "position_tolerance_s": 1.0,
    "flush_interval_s": 1.0,
    "idle_close_s": 60.0,
    "check_mean_interval_s": 10_000_000.0,
    "check_min_gap_s": 0.0,
}


@pytest.fixture(scope="module")
def backend(postgres_url, redis_url, tmp_path_factory):
    with real_backend_app(postgres_url, redis_url, tmp_path_factory.mktemp("multiprocess")) as app:
        yield app


@pytest.fixture
def servers(backend, postgres_url, redis_url):
    with running_servers(2, database_url=postgres_url, redis_url=redis_url, tracking=SETTINGS) as pair:
        yield pair


def test_server_processes_take_their_tracking_durations_from_the_environment(backend, servers):
    campus = seed_campus(1)
    page = TrackingClient(servers[0].url, campus.logins[0], address="10.2.0.1").connect()
    opened = page.open(campus.courseware_id)
    assert opened["ok"] and opened["interval_s"] == 1.0 and opened["min_interval_s"] == 0.5
    assert opened["max_gap_s"] == pytest.approx(4.2)
    assert 0.8 <= opened["next_heartbeat_s"] <= 1.2
    page.close()
    page.disconnect()


def test_one_person_playing_on_two_processes_at_once_is_credited_once(backend, servers):
    campus = seed_campus(1)
    login = campus.logins[0]
    laptop = HonestPage(TrackingClient(servers[0].url, login, address="10.2.1.1"), campus.courseware_id)
    phone = HonestPage(TrackingClient(servers[1].url, login, address="10.2.1.2",
                                      user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Mobile/15E148"),
                       campus.courseware_id)
    began = time.monotonic()
    laptop.start()
    laptop.run(2.5)
    phone.start()  # the phone takes over: the laptop's next heartbeat is refused
    ack = laptop.client.heartbeat(laptop.video.position)
    assert ack["error"] == {"code": "superseded", "message": explain("superseded")}
    # Both pages now insist ("continue here"): each takes the playback back whenever it is told it lost it.
    threads = [threading.Thread(target=page.run, args=(5.0,)) for page in (laptop, phone)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for page in (laptop, phone):
        page.client.close()
    elapsed = time.monotonic() - began

    sessions = [stored_session(page.client.sid) for page in (laptop, phone)]
    credited = [s.credited_seconds + s.pending_seconds for s in sessions]
    # Invariant 2 across processes: the person's credited time never exceeds the window's length.
    assert sum(credited) <= elapsed, (credited, elapsed)
    assert all(c > 0 for c in credited), credited  # both earned their turns, never the same moment
    assert "superseded" in laptop.events and "superseded" in phone.events
    assert "concurrent" in stored_event_types(laptop.client.sid)
    assert "superseded_heartbeat" in stored_event_types(laptop.client.sid)
    for page in (laptop, phone):
        page.client.disconnect()


def test_a_process_killed_mid_session_loses_nothing_and_the_page_carries_on_on_the_other(backend, servers):
    campus = seed_campus(1)
    first, second = servers
    client = TrackingClient(first.url, campus.logins[0], address="10.2.2.1", ack_timeout_s=3.0)
    page = HonestPage(client, campus.courseware_id, servers=[first.url, second.url])
    page.start()
    playing = threading.Thread(target=page.run, args=(8.0,))
    playing.start()
    time.sleep(3.0 + SETTINGS["flush_interval_s"] * 1.5)  # heartbeats go on; at least one flush round passes
    row = stored_session(client.sid)
    assert row is not None and row.credited_seconds + row.pending_seconds > 0, "no batch flush before the kill"
    played_at_kill = page.video.position

    first.kill()  # SIGKILL of gunicorn and its worker: no graceful shutdown, no last flush
    playing.join()  # the next heartbeat finds the connection gone; the page reconnects to the other process
    assert client.url == second.url and "resumed" in page.events, page.events
    page.finish()
    client.disconnect()

    row = stored_session(client.sid)
    credited = row.credited_seconds + row.pending_seconds
    assert credited <= page.honest_played_s + 1e-3
    # Redis kept the state, so the kill cost nothing the page played through; at most the in-flight interval
    # (a flush interval's worth, the most the design allows to be lost) may be missing.
    assert credited >= page.honest_played_s - SETTINGS["flush_interval_s"], (credited, page.honest_played_s,
                                                                              page.events)
    assert page.honest_played_s > played_at_kill  # it did carry on after the kill
    assert row.state.value == "closed"


@pytest.mark.parametrize(("env", "message"), [
    ({"LMS_TRACKING_HEARTBEAT_INTERVALL_S": "1"}, "未知的计时配置项 LMS_TRACKING_HEARTBEAT_INTERVALL_S"),
    ({"LMS_TRACKING_GRACE_S": "三秒"}, "LMS_TRACKING_GRACE_S='三秒' 不是数字"),
    ({"LMS_TRACKING_GRACE_S": "inf"}, "LMS_TRACKING_GRACE_S='inf' 不是数字"),
    ({"LMS_TRACKING_HOLD_THRESHOLD": "1.5"}, "LMS_TRACKING_HOLD_THRESHOLD='1.5' 不是整数"),
    ({"LMS_TRACKING_FLUSH_IN_BACKGROUND": "maybe"}, "LMS_TRACKING_FLUSH_IN_BACKGROUND='maybe' 无法识别"),
    ({"LMS_TRACKING_MIN_INTERVAL_S": "4.5"}, "请检查 LMS_TRACKING_MIN_INTERVAL_S"),
])
def test_bad_tracking_settings_stop_start_up_with_a_message_naming_them(env, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env, data_dir=tmp_path)


def test_tracking_settings_are_read_from_the_environment_by_type(tmp_path):
    config = Config.from_env({"LMS_TRACKING_HEARTBEAT_INTERVAL_S": "1", "LMS_TRACKING_MIN_INTERVAL_S": "0.5",
                              "LMS_TRACKING_HOLD_THRESHOLD": "80", "LMS_TRACKING_FLUSH_IN_BACKGROUND": "false",
                              "LMS_TRACKING_GRACE_S": ""}, data_dir=tmp_path)
    assert config.tracking == {"heartbeat_interval_s": 1.0, "min_interval_s": 0.5, "hold_threshold": 80,
                               "flush_in_background": False}
    assert Config.from_env({}, data_dir=tmp_path).tracking == {}
