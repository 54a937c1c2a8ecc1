"""Socket.IO's JSON module: orjson's speed, the standard module's answers where the two differ."""

from __future__ import annotations

import json
import math

import pytest

from lms.core import socketio_json


def test_packets_are_compact_utf8_and_read_back_the_same():
    ack = {"ok": True, "interval": {"seconds": 5.012, "reason": None}, "notices": ["检测到倍速播放，本段不计时"]}
    text = socketio_json.dumps([ack], separators=(",", ":"))
    assert "检测到倍速播放" in text and " " not in text.replace("检测到倍速播放，本段不计时", "")
    assert socketio_json.loads(text) == json.loads(text) == [ack]


def test_what_orjson_will_not_write_is_written_as_the_standard_module_writes_it():
    assert socketio_json.dumps({1: "a"}) == json.dumps({1: "a"})
    assert socketio_json.loads(socketio_json.dumps([2**70])) == [2**70]


def test_a_client_may_still_send_nan_and_the_services_see_it():
    data = socketio_json.loads('["heartbeat", {"position_s": NaN, "n": Infinity}]')
    assert math.isnan(data[1]["position_s"]) and data[1]["n"] == math.inf


def test_integers_beyond_64_bits_arrive_as_floats_which_no_event_takes_for_an_id_or_a_count():
    # The standard module made them exact ints (and refused more than 100 digits); either way the services refuse
    # them: ids and counts must be ints within range, positions finite and within a day.
    for digits in (70, 101):
        (value,) = socketio_json.loads("[" + "9" * digits + "]")
        assert not isinstance(value, int)
    with pytest.raises(ValueError):  # past a double's range: the standard module's refusal
        socketio_json.loads("[" + "9" * 400 + "]")


def test_broken_json_is_refused():
    with pytest.raises(ValueError):
        socketio_json.loads('{"sid": ')
