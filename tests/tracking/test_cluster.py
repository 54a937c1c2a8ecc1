"""Tracking on a real 3-master Redis Cluster (issue 18): the same scripts, properties and rules as on one Redis.

A cluster refuses a script that touches keys of two slots, or keys another node serves; the scripts' own guard
(``call`` in lua/common.lua) refuses any key a call did not declare, on every backend. So a rich session run
here, with every kind of script call, shows that each call stays declared and in one slot. After it, every key
left in the cluster has a TTL.
"""

from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.accounts.models import Role
from lms.config import Config, ConfigError
from lms.core.redis import cluster_startup_nodes
from lms.orgs.models import OrgKind
from lms.tracking import service, tasks
from lms.tracking.store import _source_with_settings, bucket_keys, person_keys
from tests.conftest import make_org, make_user
from tests.tracking import Player, configure, make_ready_courseware, media, synthetic_user_id
from tests.tracking.test_properties import any_heartbeat_sequence, honest_page_on_a_jittery_network, scenario

# Fewer examples than on one Redis (tests/tracking/test_properties.py): the rules are the same scripts, the
# cluster adds routing, which a few examples exercise fully.
ON_CLUSTER = settings(max_examples=12, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@ON_CLUSTER
@given(steps=scenario, rate=st.sampled_from([1.0, 1.5]))
def test_no_heartbeat_sequence_earns_more_than_real_time_on_the_cluster(cluster_app, steps, rate):
    any_heartbeat_sequence(cluster_app, steps, rate)


@ON_CLUSTER
@given(delays_ms=st.lists(st.integers(0, 600), min_size=10, max_size=40),
       steps_ms=st.lists(st.integers(4000, 6000), min_size=10, max_size=40),
       drop_at=st.integers(0, 39), drop_ms=st.sampled_from([0, 20_000, 40_000]))
def test_an_honest_page_keeps_its_time_on_the_cluster(cluster_app, delays_ms, steps_ms, drop_at, drop_ms):
    honest_page_on_a_jittery_network(cluster_app, delays_ms, steps_ms, drop_at, drop_ms)


def every_kind_of_call(app) -> tuple[Player, Player]:
    """Play a session through every script: open, heartbeats, a passed and a missed check, a takeover, a resume,
    evidence across people (one device, two accounts), an end check, close, the idle sweep and the flush."""
    clock = configure(app, check_mean_interval_s=30.0, check_min_gap_s=20.0, check_answer_window_s=20.0,
                      idle_close_s=600.0, closed_keep_s=60.0)
    province = make_org(OrgKind.PROVINCE_HR)
    unit, base = make_org(OrgKind.UNIT, province), make_org(OrgKind.BASE, province)
    one, two = make_user(unit, Role.LEARNER), make_user(unit, Role.LEARNER)
    cw1, cw2 = (make_ready_courseware(base, [one, two], duration_s=d) for d in (120.0, 60.0))
    first = Player.open(clock, user_id=one.id, facts=media(cw1.id, duration_s=120), device="device-one-0001")
    check = first.play(20, jitter=0.3)[-1]["check"]  # due after 20 s of credited playing
    assert first.answer(check)["result"] == "passed"
    first.play(10, jitter=0.3)
    other = Player.open(clock, user_id=first.user_id, facts=media(cw2.id, duration_s=60))  # takes over
    assert first.beat()["error"]["code"] == "superseded"
    assert other.play(20, jitter=0.3)[-1]["check"]["kind"] == "play"
    assert other.beat(25.0, 0.0)["voided_s"] > 0  # missed: left unanswered past its window
    resumed = Player.open(clock, user_id=first.user_id, facts=media(cw1.id, duration_s=120),
                          resume_sid=first.sid)
    assert resumed.sid == first.sid
    resumed.play(15, jitter=0.3)
    waiting = resumed.beat(5.0, position_s=120.0)["check"]  # the end of the media offers one if none waits
    assert waiting is not None
    closing = resumed.close()
    assert closing["ok"] and (closing["check"] or waiting)["id"] == waiting["id"]
    assert resumed.answer(waiting)["result"] == "passed"  # after the close: its time is decided
    # Another account on the same device.
    second = Player.open(clock, user_id=two.id, facts=media(cw1.id, duration_s=120), device="device-one-0001")
    assert second.acks[0]["held"]
    second.play(10, jitter=0.3)
    clock.advance(700)
    assert service.close_idle_sessions() == [(second.user_id, second.sid)]
    tasks.flush_dirty_sessions()
    return resumed, second


def test_every_call_declares_its_keys_in_one_slot_and_every_key_expires(cluster_app, redis_cluster, monkeypatch):
    monkeypatch.setattr(service, "_draw_check_ms", lambda settings: 20_000)  # a check after 20 s of credit
    first, second = every_kind_of_call(cluster_app)
    keys_without_ttl, slots_of_person = [], {}
    for port in redis_cluster.master_ports():
        node = redis_cluster.node(port)
        for key in node.scan_iter(count=500):
            if node.pttl(key) < 0:
                keys_without_ttl.append(key)
            tag = key.decode().partition("{")[2].partition("}")[0]
            slots_of_person.setdefault(tag, set()).add(port)
    assert keys_without_ttl == []
    # One person's keys (and one bucket's, one address's, one device's) live on one node.
    assert str(first.user_id) in slots_of_person and str(second.user_id) in slots_of_person
    assert all(len(ports) == 1 for ports in slots_of_person.values())
    # A closed session flushed and decided leaves Redis within closed_keep_s; one whose time still waits for the
    # person's next check (closed idle with pending time) stays.
    client = redis_cluster.client()
    decided = [client.pttl(f"trk:{{{first.user_id}}}:s:{first.sid}{part}") for part in ("", ":ev", ":tr", ":cov")]
    # (-2: gone already, as the trace the database holds is.)
    assert 0 < decided[0] <= 60_000 and all(ttl == -2 or 0 < ttl <= 60_000 for ttl in decided), decided
    assert client.pttl(f"trk:{{{second.user_id}}}:s:{second.sid}") > 86_400_000


def test_a_script_touching_an_undeclared_key_is_refused(cluster_app):
    clock = configure(cluster_app)
    player = Player.open(clock, facts=media(1))
    store, cfg = service.get_store(), service.tracking_settings().script_config
    script = store.redis.register_script(_source_with_settings("heartbeat", cfg))
    keys = [k for k in person_keys(player.user_id, player.sid, 1, {}) if not k.endswith(":tr")]
    clock.advance(5)
    with pytest.raises(redis.ResponseError, match="undeclared key"):
        script(keys=keys, args=[clock.ms, player.user_id, player.sid, player.token, "next-token", 5000, 1, "{}",
                                60_000, "1234", "check-id"])


def getkeys_calls(redis_cluster) -> int:
    return sum(int(redis_cluster.node(port).info("commandstats").get("cmdstat_command|getkeys", {}).get("calls", 0))
               for port in redis_cluster.master_ports())


def test_the_persons_and_the_buckets_keys_spread_over_the_three_masters(cluster_app, redis_cluster):
    clock = configure(cluster_app)
    asked = getkeys_calls(redis_cluster)
    players = [Player.open(clock, facts=media(1)) for _ in range(60)]
    for player in players:
        player.beat()
    spread = redis_cluster.keys_per_master()
    assert len(spread) == 3 and min(spread.values()) >= 0.15 * sum(spread.values()), spread
    client = redis_cluster.client()
    shards = service.tracking_settings().shards
    ports = [client.nodes_manager.get_node_from_slot(client.keyslot(bucket_keys(n, shards)[0])).port
             for n in range(shards)]
    assert sorted(ports.count(port) for port in set(ports)) == [5, 5, 6]  # the buckets spread evenly
    assert service.get_store().open_count() == 60
    assert sorted(service.get_store().take_dirty()) == sorted((p.user_id, p.sid) for p in players)
    # Pipelined script calls are routed by their first key, without a COMMAND GETKEYS round trip each.
    assert getkeys_calls(redis_cluster) == asked


def test_a_master_failing_over_mid_session_loses_no_credit(cluster_app, redis_cluster):
    clock = configure(cluster_app)
    player = Player.open(clock, user_id=synthetic_user_id(), facts=media(1, duration_s=3600))
    player.play(30, jitter=0.3)
    before = player.credited()
    client = redis_cluster.client()
    master = client.nodes_manager.get_node_from_slot(client.keyslot(f"trk:{{{player.user_id}}}:active")).port
    redis_cluster.fail_over(master)
    player.play(30, jitter=0.3)
    assert all(ack["ok"] for ack in player.acks), player.acks[-1]
    assert player.credited() == pytest.approx(before + 30, abs=0.01)
    assert service.get_store().snapshot(player.user_id, player.sid, 0, 0).fields["state"] == "open"


def test_only_the_tracking_role_accepts_a_cluster_url_and_bad_ones_are_refused_in_chinese(tmp_path):
    base = {"LMS_DATA_DIR": str(tmp_path), "LMS_REDIS_URL": "redis://127.0.0.1:6379/0"}
    url = "redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7000/"
    config = Config.from_env({**base, "LMS_TRACKING_REDIS_URL": url})
    assert config.redis_url_for("tracking") == url and config.redis_url_for("queue") == base["LMS_REDIS_URL"]
    assert [(n.host, n.port) for n in cluster_startup_nodes(url)] == [("10.0.0.1", 7000), ("10.0.0.2", 7000)]
    for key, bad, message in (("LMS_TRACKING_REDIS_URL", "redis+cluster://:s3cret@10.0.0.1/", "主机:端口"),
                              ("LMS_TRACKING_REDIS_URL", "redis+cluster://:s3cret@10.0.0.1:7000/0", "没有库号"),
                              ("LMS_QUEUE_REDIS_URL", url, "格式错误")):
        with pytest.raises(ConfigError, match=message) as refused:
            Config.from_env({**base, key: bad})
        assert "s3cret" not in str(refused.value)
