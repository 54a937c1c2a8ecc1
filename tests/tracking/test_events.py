"""The "/tracking" Socket.IO namespace: who may connect, and what each event acknowledges."""

from __future__ import annotations

import pytest
import socketio as socketio_pkg
import sqlalchemy as sa

from lms.accounts.models import Role
from lms.courses.models import CourseState, MediaStatus
from lms.extensions import db, socketio
from lms.orgs.models import ReviewStatus
from lms.tracking.events import TRACKING_NAMESPACE, TrackingNamespace, register_tracking_namespace
from lms.tracking.models import PlaybackSession, PlaybackState
from tests.conftest import login, make_user
from tests.tracking import configure, make_ready_courseware

NS = TRACKING_NAMESPACE


@pytest.fixture
def clock(app):
    """Register the namespace on this app's Socket.IO server and drive the tracking clock."""
    register_tracking_namespace(socketio)
    if isinstance(socketio.server.manager, socketio_pkg.PubSubManager):
        # socketio.test_client refuses a message queue. This namespace answers through acknowledgements only and
        # never broadcasts, so a local client manager exercises exactly the same code.
        manager = socketio_pkg.Manager()
        manager.set_server(socketio.server)
        socketio.server.manager = manager
    return configure(app)


@pytest.fixture
def courseware(tree):
    return make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0)


def connect(app, client, user=None, **kwargs):
    if user is not None:
        login(client, user)
    return socketio.test_client(app, namespace=NS, flask_test_client=client, **kwargs)


def test_an_approved_learner_opens_a_playback_and_gets_every_heartbeat_acknowledged(app, client, clock, tree,
                                                                                      courseware):
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 Firefox/140.0"  # one browser: login and socket alike
    sio = connect(app, client, tree.learner_a)
    assert sio.is_connected(NS)
    opened = sio.emit("open", {"courseware_id": courseware.id}, namespace=NS, callback=True)
    assert opened["ok"] and opened["resume_s"] == 0.0 and opened["interval_s"] == 5.0
    assert opened["courseware"]["required_watch_s"] == 270.0 and opened["courseware"]["duration_s"] == 300.0
    token, position = opened["token"], 0.0
    for step in (4.6, 5.4, 4.8):
        clock.advance(step)
        position += step
        ack = sio.emit("heartbeat", {"sid": opened["sid"], "token": token, "position_s": position, "playing": True,
                                     "hints": {"hidden": False, "rate": 1.0, "webdriver": False}},
                       namespace=NS, callback=True)
        assert ack["ok"] and ack["interval"]["credited_s"] == step, ack
        token = ack["token"]
    assert ack["session"]["pending_s"] == 14.8
    replay = sio.emit("heartbeat", {"sid": opened["sid"], "token": opened["token"], "position_s": position},
                      namespace=NS, callback=True)
    assert replay["error"]["code"] == "bad_token"
    closed = sio.emit("close", {"sid": opened["sid"]}, namespace=NS, callback=True)
    assert closed["ok"] and closed["check"]["kind"] == "close"
    clock.advance(3)
    answer = sio.emit("check_answer", {"sid": opened["sid"], "check_id": closed["check"]["id"],
                                       "answer": closed["check"]["code"]}, namespace=NS, callback=True)
    assert answer["result"] == "passed" and answer["confirmed_s"] == 14.8
    # The end of the session reached the database at once, not at the next periodic flush.
    db.session.expire_all()
    row = db.session.scalar(sa.select(PlaybackSession).where(PlaybackSession.public_id == opened["sid"]))
    assert row.state == PlaybackState.CLOSED and row.credited_seconds == 14.8
    assert row.user_id == tree.learner_a.id and row.user_agent == "Mozilla/5.0 Firefox/140.0"
    sio.disconnect(namespace=NS)


def test_a_reconnecting_page_resumes_its_playback_on_a_new_connection(app, client, clock, tree, courseware):
    first = connect(app, client, tree.learner_a)
    opened = first.emit("open", {"courseware_id": courseware.id}, namespace=NS, callback=True)
    first.disconnect(namespace=NS)
    second = connect(app, client)
    resumed = second.emit("open", {"courseware_id": courseware.id, "resume_sid": opened["sid"]}, namespace=NS,
                          callback=True)
    assert resumed["resumed"] and resumed["sid"] == opened["sid"] and resumed["token"] != opened["token"]
    clock.advance(12)
    ack = second.emit("heartbeat", {"sid": opened["sid"], "token": resumed["token"], "position_s": 12.0,
                                    "playing": True}, namespace=NS, callback=True)
    assert ack["interval"]["credited_s"] == 12.0


@pytest.mark.parametrize("who", ["anonymous", "pending_learner", "unit_admin", "base_admin", "reviewer"])
def test_everyone_but_approved_learners_is_refused_at_connection(app, client, clock, tree, who):
    user = {"anonymous": None, "pending_learner": tree.pending_a, "unit_admin": tree.admins["unit_a"],
            "base_admin": tree.admins["base_a"], "reviewer": tree.reviewer}[who]
    sio = connect(app, client, user)
    assert not sio.is_connected(NS)


def test_a_learner_whose_password_an_admin_reset_is_refused_until_they_change_it(app, client, clock, tree):
    tree.learner_a.must_change_password = True  # as after an admin's reset (lms.accounts.resets)
    db.session.commit()
    assert not connect(app, client, tree.learner_a).is_connected(NS)


def test_a_learner_of_an_unapproved_unit_is_refused(app, client, clock, tree):
    tree.unit_b.status = ReviewStatus.PENDING
    db.session.commit()
    assert not connect(app, client, tree.learner_b).is_connected(NS)


@pytest.mark.parametrize(("payload", "code"), [
    ({}, "invalid_input"),
    ({"courseware_id": "1"}, "invalid_input"),
    ({"courseware_id": 999_999}, "not_found"),
    ({"courseware_id": None, "resume_sid": "x"}, "invalid_input"),
])
def test_a_bad_open_request_gets_an_error_acknowledgement(app, client, clock, tree, courseware, payload, code):
    sio = connect(app, client, tree.learner_a)
    ack = sio.emit("open", payload, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == code and ack["error"]["message"]


def test_only_an_enrolled_learner_may_open_a_playback(app, client, clock, tree, courseware):
    other = make_user(tree.unit_a, Role.LEARNER)
    ack = connect(app, client, other).emit("open", {"courseware_id": courseware.id}, namespace=NS, callback=True)
    assert ack == {"ok": False, "error": {"code": "forbidden", "message": "请先选修该课程，再学习其中的课件。"}}


def test_a_courseware_whose_video_is_not_ready_cannot_be_opened(app, client, clock, tree, courseware):
    courseware.media.status = MediaStatus.PROCESSING
    db.session.commit()
    ack = connect(app, client, tree.learner_a).emit("open", {"courseware_id": courseware.id}, namespace=NS,
                                                    callback=True)
    assert ack["error"]["code"] == "media_unavailable"


def test_a_draft_course_is_not_found(app, client, clock, tree):
    draft = make_ready_courseware(tree.base_a, [tree.learner_a], state=CourseState.DRAFT)
    ack = connect(app, client, tree.learner_a).emit("open", {"courseware_id": draft.id}, namespace=NS, callback=True)
    assert ack["error"]["code"] == "not_found"


@pytest.mark.parametrize("payload", [None, [], "x", {"sid": "short"}, {"sid": "a" * 20, "token": "t"},
                                     {"sid": "a" * 20, "token": "t", "position_s": -1},
                                     {"sid": "a" * 20, "token": "t", "position_s": float("nan")},
                                     {"sid": "a" * 20, "token": "t", "position_s": True},
                                     {"sid": "a" * 20, "token": "t", "position_s": 1, "playing": "yes"}])
def test_malformed_heartbeats_get_an_error_acknowledgement(app, client, clock, tree, payload):
    ack = connect(app, client, tree.learner_a).emit("heartbeat", payload, namespace=NS, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_input"


def test_a_heartbeat_for_an_unknown_session_is_refused(app, client, clock, tree):
    ack = connect(app, client, tree.learner_a).emit(
        "heartbeat", {"sid": "a" * 22, "token": "t", "position_s": 1.0, "playing": True}, namespace=NS, callback=True)
    assert ack == {"ok": False, "error": {"code": "no_session", "message": "播放记录不存在或已过期，请刷新页面"}}


def test_registering_the_namespace_again_keeps_exactly_one_handler(app):
    register_tracking_namespace(socketio)
    register_tracking_namespace(socketio)
    handlers = [h for h in socketio.namespace_handlers if isinstance(h, TrackingNamespace)]
    assert len(handlers) == 1
    assert socketio.server.namespace_handlers[NS] is handlers[0]


@pytest.mark.parametrize(("trusted", "forwarded", "expected"), [
    (0, "203.0.113.9", "127.0.0.1"),
    (1, "203.0.113.9", "203.0.113.9"),
    (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),
    (2, "198.51.100.1, 203.0.113.9", "198.51.100.1"),
    (2, "203.0.113.9", "127.0.0.1"),
])
def test_the_learners_address_is_read_behind_trusted_proxies(app_factory, config, trusted, forwarded, expected):
    import dataclasses

    from lms.tracking.events import client_address

    proxied = app_factory(dataclasses.replace(config, trusted_proxies=trusted))
    with proxied.test_request_context("/socket.io/", headers={"X-Forwarded-For": forwarded},
                                      environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        assert client_address() == expected


def test_the_metrics_count_each_event_by_outcome_and_time_its_answer(app, client, clock, tree, courseware):
    from prometheus_client import REGISTRY

    def count(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {outcome: count("lms_tracking_events_total", event="heartbeat", outcome=outcome)
              for outcome in ("ok", "bad_token", "rate")}
    timed = count("lms_tracking_event_seconds_count", event="heartbeat")
    sio = connect(app, client, tree.learner_a)
    opened = sio.emit("open", {"courseware_id": courseware.id}, namespace=NS, callback=True)
    token, position = opened["token"], 0.0
    for step, rate in ((5.0, 1.0), (5.0, 1.0), (5.0, 2.0)):
        clock.advance(step)
        position += step * rate
        ack = sio.emit("heartbeat", {"sid": opened["sid"], "token": token, "position_s": position, "playing": True,
                                     "hints": {"hidden": False, "rate": rate, "webdriver": False}},
                       namespace=NS, callback=True)
        token = ack["token"]
    assert ack["interval"]["reason"] == "rate", ack
    sio.emit("heartbeat", {"sid": opened["sid"], "token": opened["token"], "position_s": position},
             namespace=NS, callback=True)
    after = {outcome: count("lms_tracking_events_total", event="heartbeat", outcome=outcome) for outcome in before}
    assert {k: after[k] - before[k] for k in before} == {"ok": 2, "bad_token": 1, "rate": 1}
    assert count("lms_tracking_event_seconds_count", event="heartbeat") == timed + 4
    assert client.get("/metrics").status_code == 200
    sio.disconnect(namespace=NS)
