"""SPEC §3 invariants 1–8, one behaviour per test, through the service API on a server clock the test drives."""

from __future__ import annotations

import statistics

import pytest

from lms.tracking import service
from lms.tracking.service import TrackingSettings, explain, format_duration
from tests.tracking import T0_MS, Player, configure, media, synthetic_user_id


@pytest.fixture
def clock(app):
    return configure(app)


@pytest.fixture
def fixed_checks(monkeypatch):
    """Make the next attention check come after exactly 20 s of credited playing, with code 4821."""
    monkeypatch.setattr(service, "_draw_check_ms", lambda settings: 20_000)
    monkeypatch.setattr(service, "_check_code", lambda: "4821")


def events(player: Player) -> list[dict]:
    return service.get_store().snapshot(player.user_id, player.sid, 0, 0).new_events


def event_types(player: Player) -> list[str]:
    return [e["type"] for e in events(player)]


def session_field(player: Player, name: str) -> str | None:
    return service.get_store().snapshot(player.user_id, player.sid, 0, 0).fields.get(name)


# ------------------------------------------------------------------------------------------------ invariant 1


def test_an_honest_player_is_credited_exactly_its_real_playing_time(clock):
    player = Player.open(clock)
    acks = player.play(60)
    assert all(a["ok"] and a["interval"]["credited_s"] == 5.0 and a["interval"]["reason"] is None for a in acks)
    assert player.credited() == 60.0
    assert acks[-1]["courseware"]["furthest_verified_s"] == 60.0
    assert acks[-1]["today_s"] == 60.0


def test_durations_claimed_by_the_client_are_ignored(clock):
    player = Player.open(clock)
    clock.advance(5)
    ack = service.heartbeat(player.user_id, {"sid": player.sid, "token": player.token, "position_s": 5.0,
                                             "playing": True, "duration_s": 3600, "credited_s": 3600,
                                             "watched_ms": 3_600_000}).ack
    assert ack["interval"]["credited_s"] == 5.0
    assert ack["session"]["pending_s"] == 5.0


def test_credit_is_the_server_time_between_heartbeats_not_the_media_advance(clock):
    player = Player.open(clock)
    ack = player.beat(3.0, 3.0)
    assert ack["interval"] == {"seconds": 3.0, "credited_s": 3.0, "reason": None, "message": None}
    # Paused for part of the interval: only what was played counts, and it is no failure to explain.
    ack = player.beat(5.0, 2.0)
    assert ack["interval"]["credited_s"] == 2.0 and ack["interval"]["reason"] is None


def test_a_paused_interval_earns_nothing_and_says_so(clock):
    player = Player.open(clock)
    player.play(10)
    ack = player.beat(5.0, 0.0, playing=False)
    assert ack["interval"]["credited_s"] == 0.0
    assert ack["interval"]["reason"] == "paused"
    assert ack["interval"]["message"] == "已暂停 5 秒，暂停期间不计时"


# ------------------------------------------------------------------------------------------------ invariant 2


def test_a_newer_playback_takes_over_and_the_older_page_is_told_why(clock):
    laptop = Player.open(clock)
    laptop.play(20)
    phone = Player.open(clock, laptop.user_id, media(courseware_id=2))
    refused = laptop.beat()
    assert refused == {"ok": False, "error": {"code": "superseded",
                                              "message": "已在其他设备或页面继续播放，本页停止计时"}}
    assert phone.beat()["interval"]["credited_s"] == 5.0
    # Both sessions carry the evidence: the older one was still playing when the newer one opened.
    assert "concurrent" in event_types(laptop) and "superseded" in event_types(laptop)
    assert "concurrent" in event_types(phone)


def test_two_playbacks_of_one_person_are_never_credited_for_the_same_time(clock):
    tab_a = Player.open(clock)
    start = clock.ms
    tab_a.play(10)
    tab_b = Player.open(clock, tab_a.user_id)
    tab_b.play(6, step=3)
    # Tab A comes back (resume takes over again); its interval reaches back over tab B's credited time.
    resumed = service.start_playback(tab_a.user_id, media(), resume_sid=tab_a.sid).ack
    assert resumed["sid"] == tab_a.sid and resumed["resumed"]
    tab_a.token = resumed["token"]
    ack = tab_a.beat(4.0, 10.0)
    elapsed = (clock.ms - start) / 1000
    assert ack["interval"]["credited_s"] == 4.0  # only after B's last credited moment, not A's own last heartbeat
    assert tab_a.credited() + tab_b.credited() <= elapsed
    assert "overlap" in event_types(tab_a)


# ------------------------------------------------------------------------------------------------ invariant 3


def test_a_raised_playback_rate_earns_nothing_and_is_recorded(clock):
    player = Player.open(clock)
    acks = player.play(60, rate=2.0)
    assert player.credited() == 0.0
    assert {a["interval"]["reason"] for a in acks} == {"rate"}
    assert acks[0]["interval"]["message"] == "检测到倍速播放，本段不计时"
    assert event_types(player).count("rate") == len(acks)


def test_a_slightly_raised_rate_cannot_hide_inside_the_jitter_tolerance(clock):
    player = Player.open(clock)
    player.play(120, rate=1.25)
    # The cumulative drift catches 1.25× within two intervals; at most the first one slips through.
    assert player.credited() <= 5.0
    assert event_types(player).count("rate") >= 20


def test_network_jitter_is_not_mistaken_for_a_raised_rate(clock):
    player = Player.open(clock)
    delays = [0.0, 0.3, 0.05, 0.6, 0.1, 0.45, 0.0, 0.25, 0.6, 0.15] * 6
    sent_at = 0.0
    previous_arrival = 0.0
    for delay in delays:
        sent_at += 5.0
        arrival = sent_at + delay
        ack = player.beat(arrival - previous_arrival, position_s=sent_at)
        previous_arrival = arrival
        assert ack["ok"] and ack["interval"]["reason"] is None, ack
    assert player.credited() >= 0.95 * sent_at
    assert "rate" not in event_types(player)


def test_the_allowed_rate_is_configurable(app, clock):
    app.config["LMS_TRACKING"] = {**app.config["LMS_TRACKING"], "allowed_rate": 1.5}
    player = Player.open(clock)
    acks = player.play(30, rate=1.5)
    assert all(a["interval"]["reason"] is None for a in acks)
    assert player.credited() == 30.0  # real time, not media time
    assert player.play(10, rate=2.0)[-1]["interval"]["reason"] == "rate"


# ------------------------------------------------------------------------------------------------ invariant 4


def test_seeking_past_the_furthest_verified_position_earns_nothing(clock):
    player = Player.open(clock)
    player.play(30)
    ack = player.beat(5.0, position_s=300.0)
    assert ack["interval"]["reason"] == "seek_ahead"
    assert ack["interval"]["message"] == "拖动到尚未观看的位置，本段不计时"
    # Playing on from there, in real time, still earns nothing: the interval starts beyond what was verified.
    later = player.play(20)
    assert {a["interval"]["reason"] for a in later} == {"beyond_verified"}
    assert later[0]["interval"]["message"] == "当前位置超出已验证的观看进度（30 秒处），请回到该处继续，本段不计时"
    assert player.credited() == 30.0
    assert later[-1]["courseware"]["furthest_verified_s"] == 30.0
    # Back at the verified position, playing counts again.
    assert player.beat(5.0, position_s=30.0)["interval"]["reason"] == "seek_back"
    assert player.beat()["interval"]["credited_s"] == 5.0
    assert "seek_ahead" in event_types(player)


def test_replaying_a_verified_stretch_earns_time_but_not_coverage_twice(clock, fixed_checks):
    player = Player.open(clock)
    acks = player.play(20)
    player.answer(acks[-1]["check"])
    assert player.beat(5.0, position_s=0.0)["interval"]["reason"] == "seek_back"
    acks = player.play(20)
    ack = player.answer(acks[-1]["check"])
    assert ack["result"] == "passed"
    assert ack["courseware"]["watch_s"] == 40.0
    assert ack["courseware"]["coverage_s"] == 20


def test_seeking_within_the_verified_part_is_navigation_not_a_cheat(clock):
    player = Player.open(clock)
    player.play(120, jitter=0.5)
    ack = player.beat(5.0, position_s=10.0)
    assert ack["interval"]["message"] == "回退了播放进度，本段不计时"
    ack = player.beat(5.0, position_s=100.0)
    assert ack["interval"]["reason"] == "seek"
    assert ack["interval"]["message"] == "跳转了播放进度，本段不计时"
    assert player.beat(5.0, position_s=115.0)["interval"]["reason"] == "seek"  # a short skip is no raised rate
    assert player.beat()["interval"]["credited_s"] == 5.0
    assert int(session_field(player, "risk")) == 0


# ------------------------------------------------------------------------------------------------ invariant 5


def test_a_gap_longer_than_allowed_earns_nothing_and_says_how_long(clock):
    player = Player.open(clock)
    player.play(20)
    ack = player.beat(130.0)
    assert ack["interval"]["credited_s"] == 0.0
    assert ack["interval"]["reason"] == "gap"
    assert ack["interval"]["message"] == "网络中断 2 分 10 秒，未计时"
    # No buffer plays 130 s unobserved: the verified position stays where it was, and the page goes back there.
    assert ack["courseware"]["furthest_verified_s"] == 20.0 and ack["resume_s"] == 20.0
    assert player.beat(position_s=20.0)["interval"]["reason"] == "seek_back"
    assert player.beat()["interval"]["credited_s"] == 5.0


def test_after_a_longer_drop_a_page_that_played_on_from_its_buffer_carries_on(clock):
    player = Player.open(clock)
    player.play(20)
    ack = player.beat(60.0)
    assert ack["interval"]["reason"] == "gap" and ack["interval"]["credited_s"] == 0.0
    assert ack["courseware"]["furthest_verified_s"] == 80.0
    assert player.beat()["interval"]["credited_s"] == 5.0


def test_a_brief_drop_within_the_grace_window_costs_nothing(clock):
    settings = TrackingSettings()
    assert settings.max_gap_s == 31.0  # 5 s × 1.2 (the longest requested delay) + 25 s of grace
    player = Player.open(clock)
    player.play(10)
    assert player.beat(31.0)["interval"]["credited_s"] == 31.0
    assert player.beat(31.5)["interval"]["reason"] == "gap"


def test_after_a_lost_acknowledgement_the_page_resumes_its_session_and_carries_on(clock):
    player = Player.open(clock)
    player.play(10)
    stale = player.token
    player.beat()  # the server accepted it, but the acknowledgement never reached the page
    player.token = stale
    assert player.beat()["error"]["code"] == "bad_token"
    resumed = service.start_playback(player.user_id, media(), resume_sid=player.sid).ack
    assert resumed["resumed"] and resumed["sid"] == player.sid
    player.token = resumed["token"]
    # Measured from the last accepted heartbeat: the drop within the grace window cost nothing.
    assert player.beat(4.0)["interval"]["credited_s"] == 9.0
    assert int(session_field(player, "held")) == 0


# ------------------------------------------------------------------------------------------------ invariant 6


def test_a_replayed_heartbeat_earns_nothing_and_changes_nothing(clock):
    player = Player.open(clock)
    first_token = player.token
    player.play(10)
    before = service.get_store().snapshot(player.user_id, player.sid, 0, 0).fields
    ack = player.beat(5.0, token=first_token)
    assert ack == {"ok": False, "error": {
        "code": "bad_token", "message": "播放记录校验未通过（可能是网络重发或页面已过期），本次不计时，正在重新连接"}}
    after = service.get_store().snapshot(player.user_id, player.sid, 0, 0).fields
    for name in ("token", "pos_ms", "last_hb_ms", "prov_ms", "credited_ms"):
        assert after[name] == before[name]
    assert "bad_token" in event_types(player)


@pytest.mark.parametrize("token", ["forged-token", "", "x" * 65, None, 12345])
def test_a_forged_or_missing_token_earns_nothing(clock, token):
    player = Player.open(clock)
    clock.advance(5)
    payload = {"sid": player.sid, "token": token, "position_s": 5.0, "playing": True}
    if token in ("forged-token",):
        assert service.heartbeat(player.user_id, payload).ack["error"]["code"] == "bad_token"
    else:
        with pytest.raises(service.InvalidInput):
            service.heartbeat(player.user_id, payload)
    assert player.beat(0.0, 0.0)["ok"]  # the real token still works


def test_another_persons_session_is_unknown_to_them(clock):
    player = Player.open(clock)
    clock.advance(5)
    ack = service.heartbeat(synthetic_user_id(), {"sid": player.sid, "token": player.token, "position_s": 5.0,
                                                  "playing": True}).ack
    assert ack["error"]["code"] == "no_session"


def test_heartbeats_faster_than_the_minimum_interval_are_refused_and_keep_the_token(clock):
    player = Player.open(clock)
    player.play(10)
    token = player.token
    ack = player.beat(1.0, 1.0)
    assert ack == {"ok": False, "error": {"code": "too_soon", "message": "进度上报过于频繁，本次不计时",
                                          "retry_in_s": 1.0}}
    for _ in range(20):
        player.beat(0.01, 0.0)
    assert player.token == token
    ack = player.beat(4.0, 4.2)
    assert ack["interval"]["credited_s"] == 5.2  # measured from the last accepted heartbeat, flood included
    assert event_types(player).count("flood") == 21


# ------------------------------------------------------------------------------------------------ invariant 7


def test_an_attention_check_arrives_at_the_drawn_time_and_blocks_credit_until_answered(clock, fixed_checks):
    player = Player.open(clock)
    acks = player.play(20)
    assert [a["check"] is not None for a in acks] == [False, False, False, True]
    check = acks[-1]["check"]
    assert check["code"] == "4821" and check["blocking"] and check["expires_in_s"] == 90.0
    assert "4821" in check["prompt"]
    waiting = player.beat(5.0, 0.0, playing=False)
    assert waiting["interval"]["reason"] == "check_pending"
    assert waiting["interval"]["message"] == "请先完成注意力验证，验证期间不计时"
    answer = player.answer(check)
    assert answer["result"] == "passed" and answer["confirmed_s"] == 20.0
    assert answer["message"] == "验证通过，已确认 20 秒学习时间"
    assert answer["session"] == {"credited_s": 20.0, "pending_s": 0.0, "voided_s": 0.0}


def test_a_wrong_answer_voids_the_time_since_the_last_passed_check(clock, fixed_checks):
    player = Player.open(clock)
    player.answer(player.play(20)[-1]["check"])
    check = player.play(20)[-1]["check"]
    answer = player.answer(check, "0000")
    assert answer["result"] == "wrong"
    assert answer["voided_s"] == 20.0
    assert answer["message"] == "注意力验证回答错误，上次验证以来的 20 秒不计入"
    assert answer["session"] == {"credited_s": 20.0, "pending_s": 0.0, "voided_s": 20.0}
    assert player.answer(check)["ok"] is False  # a check is answered once


def test_a_missed_check_voids_the_time_since_the_last_passed_check(clock, fixed_checks):
    player = Player.open(clock)
    player.play(20)
    for _ in range(18):
        ack = player.beat(5.0, 0.0, playing=False)
    assert ack["interval"]["reason"] == "check_pending"
    ack = player.beat(5.0, 0.0, playing=False)  # 95 s after the check: past its 90 s window
    assert ack["voided_s"] == 20.0
    assert "注意力验证超时未作答，上次验证以来的 20 秒不计入" in ack["notices"]
    assert ack["session"]["pending_s"] == 0.0 and ack["session"]["voided_s"] == 20.0
    assert "check_missed" in event_types(player)


def test_an_answer_after_the_deadline_is_a_miss(clock, fixed_checks):
    player = Player.open(clock)
    check = player.play(20)[-1]["check"]
    clock.advance(91)
    answer = player.answer(check)
    assert answer["result"] == "expired" and answer["voided_s"] == 20.0


def test_full_width_digits_and_spaces_in_the_answer_are_accepted(clock, fixed_checks):
    player = Player.open(clock)
    check = player.play(20)[-1]["check"]
    clock.advance(3)
    assert player.answer(check, " ４８２１ ")["result"] == "passed"


def test_switching_page_while_a_check_waits_voids_the_pending_time(clock, fixed_checks):
    player = Player.open(clock)
    player.play(20)
    other = Player.open(clock, player.user_id)
    assert other.acks[0]["pending_s"] == 0.0
    assert "check_missed" in event_types(player)
    assert service.get_store().snapshot(player.user_id, player.sid, 0, 0).fields["voided_ms"] == "20000"


def test_closing_while_a_check_waits_voids_the_pending_time(clock, fixed_checks):
    player = Player.open(clock)
    player.play(20)
    ack = player.close()
    assert ack["session"]["voided_s"] == 20.0
    assert ack["notices"] == ["注意力验证超时未作答，上次验证以来的 20 秒不计入"]


def test_reopening_does_not_reset_the_check_countdown(clock, fixed_checks):
    player = Player.open(clock)
    player.play(15)
    player.close()
    clock.advance(60)
    again = Player.open(clock, player.user_id)
    acks = again.play(5)
    assert acks[-1]["check"] is not None and acks[-1]["check"]["blocking"]


def test_a_passed_check_confirms_pending_time_of_the_earlier_sessions_too(clock, fixed_checks):
    first = Player.open(clock)
    first.play(15)
    close_ack = first.close()
    assert close_ack["check"]["blocking"] is False  # a closing check is offered; ignoring it voids nothing
    clock.advance(200)
    second = Player.open(clock, first.user_id)
    assert second.acks[0]["pending_s"] == 15.0
    answer = second.answer(second.play(5)[-1]["check"])
    assert answer["confirmed_s"] == 20.0
    assert answer["pending_s"] == 0.0


def test_a_closing_check_answered_after_close_confirms_the_pending_time(clock, fixed_checks):
    player = Player.open(clock)
    player.play(15)
    check = player.close()["check"]
    clock.advance(4)
    answer = player.answer(check)
    assert answer["result"] == "passed" and answer["session"]["credited_s"] == 15.0


def test_the_end_of_the_media_offers_a_check_for_the_pending_time(clock, fixed_checks):
    player = Player.open(clock, facts=media(duration_s=12.0))
    acks = player.play(15)
    assert acks[-1]["check"]["kind"] == "end" and not acks[-1]["check"]["blocking"]
    assert player.answer(acks[-1]["check"])["session"]["credited_s"] == 12.0


def test_an_answer_faster_than_a_person_can_type_is_evidence(clock, fixed_checks):
    player = Player.open(clock)
    check = player.play(20)[-1]["check"]
    clock.advance(0.2)
    assert player.answer(check)["result"] == "passed"
    assert "check_fast" in event_types(player)


def test_check_times_are_drawn_at_random_around_the_configured_mean():
    settings = TrackingSettings(check_mean_interval_s=600, check_min_gap_s=60)
    draws = [service._draw_check_ms(settings) / 1000 for _ in range(4000)]
    assert min(draws) >= 60
    assert 560 < statistics.mean(draws) < 640
    assert statistics.pstdev(draws) > 450  # exponential: as spread as its mean above the floor
    assert len(set(draws)) > 3900


# ------------------------------------------------------------------------------------------------ invariant 8


def test_the_daily_cap_stops_crediting_until_the_next_day(app, clock):
    app.config["LMS_TRACKING"] = {**app.config["LMS_TRACKING"], "daily_cap_hours": 0.01}  # 36 s
    player = Player.open(clock)
    acks = player.play(60)
    assert player.credited() == 36.0
    assert acks[-1]["interval"]["reason"] == "daily_cap"
    assert acks[-1]["interval"]["message"] == "今日在线学习已达 0.01 小时上限，今天不再计时"
    assert event_types(player).count("daily_cap") == 1
    # The cap's day is China Standard Time: 15 hours after 09:00 is the next day.
    clock.advance(15 * 3600)
    resumed = service.start_playback(player.user_id, media(), resume_sid=player.sid).ack
    player.token = resumed["token"]
    player.beat(5.0, position_s=60.0)
    assert player.beat()["interval"]["credited_s"] == 5.0


def test_the_daily_cap_covers_all_of_a_persons_playbacks(app, clock):
    app.config["LMS_TRACKING"] = {**app.config["LMS_TRACKING"], "daily_cap_hours": 0.01}
    first = Player.open(clock)
    first.play(30)
    second = Player.open(clock, first.user_id, media(courseware_id=2))
    second.play(30)
    assert first.credited() + second.credited() == 36.0


def test_the_default_daily_cap_is_eight_hours():
    assert TrackingSettings().daily_cap_hours == 8
    assert explain("daily_cap") == "今日在线学习已达 8 小时上限，今天不再计时"


# ------------------------------------------------------------------------------------------------ evidence


def test_a_webdriver_hint_holds_the_session_but_earns_like_any_other(clock):
    player = Player.open(clock)
    ack = player.beat(hints={"webdriver": True, "hidden": False, "rate": 1.0})
    assert ack["held"] is True
    assert "本次学习记录存在异常，已提交人工审核，审核通过后计入学时" in ack["notices"]
    assert ack["interval"]["credited_s"] == 5.0
    assert "automation" in event_types(player) and "held" in event_types(player)


def test_a_headless_browser_is_held_from_the_start(clock):
    player = Player.open(clock, user_agent="Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0.0.0 Safari/537.36")
    assert player.acks[0]["held"] is True
    assert player.acks[0]["held_reasons"] == [service.HOLD_REASONS["automation"]]


def test_the_learner_is_told_each_reason_a_session_is_held_and_nothing_while_it_is_not(clock):
    player = Player.open(clock)
    assert player.beat(hints={"rate": 2.0, "hidden": False, "webdriver": False})["held_reasons"] == []
    ack = player.beat(hints={"webdriver": True, "hidden": False, "rate": 1.0})
    assert ack["held"] is True
    # Both kinds of evidence, strongest first, each said once however often it was seen.
    assert ack["held_reasons"] == [service.HOLD_REASONS["automation"], service.HOLD_REASONS["rate_setting"]]
    assert player.beat(hints={"webdriver": True, "hidden": False, "rate": 1.0})["held_reasons"] == ack["held_reasons"]


def test_a_rate_change_the_page_undid_is_a_low_weight_event_that_never_holds_a_curious_learner(clock):
    player = Player.open(clock)
    ack = None
    for i in range(20):  # trying again and again, at the server-drawn delays of an honest page
        ack = player.beat(4.0 + (i * 7 % 11) / 5, hints={"hidden": False, "rate": 1.0, "webdriver": False,
                                                         "rate_blocked": 3, "rate_tried": 4})
    attempts = [e for e in events(player) if e["type"] == "rate_attempt"]
    assert len(attempts) == 20 and attempts[0]["v"] == {"count": 3, "rate": 4.0}
    assert ack["held"] is False and ack["interval"]["credited_s"] == ack["interval"]["seconds"]  # 1×: in full
    assert 0 < int(session_field(player, "risk")) < service.tracking_settings().hold_threshold


@pytest.mark.parametrize("hints", [{"rate_blocked": 0}, {"rate_blocked": -1}, {"rate_blocked": True},
                                   {"rate_blocked": 1001}, {"rate_blocked": "3"}, {"rate_tried": 4}])
def test_malformed_rate_attempt_hints_are_ignored(clock, hints):
    player = Player.open(clock)
    player.beat(hints=hints)
    assert "rate_attempt" not in event_types(player)


def test_every_kind_of_evidence_that_can_hold_a_session_has_a_plain_sentence_without_figures():
    assert set(service.HOLD_REASONS) == set(service.RISK_POLICY)
    for sentence in service.HOLD_REASONS.values():
        assert not any(ch.isdigit() for ch in sentence), sentence  # no threshold, weight or count
        assert "审核员核实后会计入学时" in sentence and sentence.endswith("。")


def test_machine_regular_heartbeats_are_held_and_irregular_ones_are_not(clock):
    machine = Player.open(clock)
    machine.play(150)
    assert "regular_cadence" in event_types(machine)
    assert machine.acks[-1]["held"] is True
    person = Player.open(clock)
    for i in range(30):
        person.beat(4.0 + (i * 7 % 11) / 5)  # the server-drawn delays of an honest page
    assert "regular_cadence" not in event_types(person)
    assert person.acks[-1]["held"] is False


def test_the_ack_asks_for_the_next_heartbeat_at_a_server_drawn_irregular_delay(clock):
    player = Player.open(clock)
    delays = {player.beat()["next_heartbeat_s"] for _ in range(20)}
    assert len(delays) > 15
    assert all(4.0 <= d <= 6.0 for d in delays)


def test_many_accounts_from_one_address_are_held(clock):
    acks = [Player.open(clock, ip="203.0.113.7").acks[0] for _ in range(4)]
    assert [a["held"] for a in acks] == [False, False, False, True]
    assert Player.open(clock, ip="203.0.113.8").acks[0]["held"] is False


def test_several_accounts_on_one_device_are_held(clock):
    first = Player.open(clock, device="device-0123456789")
    second = Player.open(clock, device="device-0123456789")
    assert first.acks[0]["held"] is False and second.acks[0]["held"] is True


def test_a_played_rate_the_page_reports_is_evidence_only(clock):
    player = Player.open(clock)
    player.beat(hints={"rate": 8.0})
    assert "rate_setting" in event_types(player)
    assert player.credited() == 5.0


def test_an_honest_learner_on_a_bad_network_is_not_held(clock):
    player = Player.open(clock)
    player.play(60, jitter=0.3)
    assert player.beat(25.0)["interval"]["credited_s"] == 25.0  # a 20-second disconnect costs nothing
    stale = player.token
    player.beat()
    player.token = stale  # one acknowledgement lost
    player.beat()
    player.token = service.start_playback(player.user_id, media(), resume_sid=player.sid).ack["token"]
    player.play(60, jitter=0.3)
    assert player.acks[-1]["held"] is False
    assert int(session_field(player, "risk")) < TrackingSettings().hold_threshold


# ------------------------------------------------------------------------------------------------ sentences


@pytest.mark.parametrize(("ms", "text"), [
    (0, "不到 1 秒"), (999, "1 秒"), (45_000, "45 秒"), (60_000, "1 分钟"), (130_000, "2 分 10 秒"),
    (3_600_000, "1 小时"), (3_900_000, "1 小时 5 分"),
])
def test_durations_are_said_in_plain_chinese(ms, text):
    assert format_duration(ms) == text


@pytest.mark.parametrize(("reason", "ms", "sentence"), [
    ("gap", 130_000, "网络中断 2 分 10 秒，未计时"),
    ("rate", 5_000, "检测到倍速播放，本段不计时"),
    ("superseded", 0, "已在其他设备或页面继续播放，本页停止计时"),
    ("seek_ahead", 5_000, "拖动到尚未观看的位置，本段不计时"),
    ("seek", 5_000, "跳转了播放进度，本段不计时"),
    ("seek_back", 5_000, "回退了播放进度，本段不计时"),
    ("paused", 5_000, "已暂停 5 秒，暂停期间不计时"),
    ("stalled", 5_000, "视频缓冲 5 秒，未计时"),
    ("check_pending", 5_000, "请先完成注意力验证，验证期间不计时"),
    ("overlap", 5_000, "与您在其他页面的播放时间重叠，重叠部分不计时"),
    ("daily_cap", 5_000, "今日在线学习已达 8 小时上限，今天不再计时"),
    ("bad_token", 0, "播放记录校验未通过（可能是网络重发或页面已过期），本次不计时，正在重新连接"),
    ("too_soon", 0, "进度上报过于频繁，本次不计时"),
    ("check_missed", 725_000, "注意力验证超时未作答，上次验证以来的 12 分 5 秒不计入"),
    ("check_wrong", 60_000, "注意力验证回答错误，上次验证以来的 1 分钟不计入"),
    ("idle", 0, "长时间没有播放记录，本次播放已结束，请重新打开课件"),
    ("held", 0, "本次学习记录存在异常，已提交人工审核，审核通过后计入学时"),
])
def test_every_uncredited_interval_has_one_plain_sentence(reason, ms, sentence):
    assert explain(reason, ms) == sentence


def test_every_reason_the_heartbeat_script_can_give_has_its_own_sentence():
    import re
    from pathlib import Path

    lua = (Path(service.__file__).parent / "lua" / "heartbeat.lua").read_text()
    assignments = re.findall(r"^\s*(?:reason|reason, drift|voided, voided_reason) = (.+)$", lua, re.MULTILINE)
    reasons = set(re.findall(r"'([a-z_]+)'", "\n".join(assignments)))
    assert reasons >= {"gap", "check_pending", "beyond_verified", "seek_back", "paused", "stalled", "seek_ahead",
                       "seek", "rate", "overlap", "daily_cap", "check_missed"}
    for reason in reasons:
        assert not explain(reason, 1000).startswith("本段未计时"), reason


# ------------------------------------------------------------------------------------------------ settings


def test_unknown_or_inconsistent_settings_are_refused_with_their_names():
    with pytest.raises(ValueError, match="heartbeat_intervall"):
        TrackingSettings.from_mapping({"heartbeat_intervall": 5})
    with pytest.raises(ValueError, match="min_interval_s"):
        TrackingSettings(min_interval_s=4.5)
    with pytest.raises(ValueError, match="coverage_share"):
        TrackingSettings(coverage_share=1.5)


def test_the_test_clock_starts_mid_morning_china_time():
    assert ((T0_MS + 8 * 3600 * 1000) % 86_400_000) == 9 * 3600 * 1000


def test_only_the_persons_current_playback_counts_as_active(clock):
    player = Player.open(clock, facts=media(courseware_id=7))
    assert service.has_active_playback(player.user_id, 7)
    assert not service.has_active_playback(player.user_id, 8)
    Player.open(clock, player.user_id, media(courseware_id=8))
    assert not service.has_active_playback(player.user_id, 7) and service.has_active_playback(player.user_id, 8)
    assert not service.has_active_playback(synthetic_user_id(), 7)
