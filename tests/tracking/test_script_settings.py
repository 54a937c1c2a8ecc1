"""The judging scripts carry the settings written into them, one script per settings version."""

from __future__ import annotations

import pytest

from lms.tracking.store import _lua_value
from tests.tracking import Player, configure


@pytest.fixture
def clock(app):
    return configure(app)


def test_changed_settings_reach_a_playback_already_open(app, clock):
    player = Player.open(clock)
    player.play(30)
    assert player.credited() == 30.0
    app.config["LMS_TRACKING"] = {**app.config["LMS_TRACKING"], "daily_cap_hours": 0.01}  # 36 s
    acks = player.play(30)
    assert player.credited() == 36.0
    assert acks[-1]["interval"]["reason"] == "daily_cap"


def test_settings_are_written_as_a_lua_table():
    assert _lua_value({"rate": 1.5, "risk": {"flood": [5, 50]}, "on": True}) == \
        '{["rate"] = 1.5, ["risk"] = {["flood"] = {5, 50}}, ["on"] = true}'
    with pytest.raises(ValueError, match="plain names"):
        _lua_value({"x'] = os.exit() --": 1})
    with pytest.raises(ValueError, match="finite"):
        _lua_value({"rate": float("inf")})
