"""From a played session to a decision: a learner plays at 2× through the real tracking service, the session is held
and flushed, a reviewer reads the picture and releases it, and the learner sees the outcome."""

from __future__ import annotations

import sqlalchemy as sa

from lms.extensions import db
from lms.tracking import service as tracking
from lms.tracking import tasks
from lms.tracking.models import CoursewareProgress, HoldState, PlaybackSession
from tests.conftest import csrf_token, login
from tests.review import chart_svg, markers, polylines
from tests.tracking import Player, configure, make_ready_courseware


def test_a_session_held_for_speed_up_is_shown_released_and_reported_to_the_learner(app, client, tree):
    clock = configure(app)
    courseware = make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0, labelled_hours="0.1")
    reply = tracking.open_session(tree.learner_a, courseware.id, ip="198.51.100.1", user_agent="pytest")
    player = Player(clock, tree.learner_a.id, reply.ack)
    player.play(60, jitter=0.5)
    player.play(30, rate=2.0, jitter=0.5)
    closing = tracking.close_session(player.user_id, {"sid": player.sid}).ack
    clock.advance(3)
    assert player.answer(closing["check"])["result"] == "passed"
    tasks.flush_dirty_sessions()

    session = db.session.scalar(sa.select(PlaybackSession).where(PlaybackSession.public_id == player.sid))
    assert session.hold_state == HoldState.HELD and session.credited_seconds > 0
    login(client, tree.reviewer)
    queue = client.get("/review/sessions").get_data(as_text=True)
    assert f'href="/review/sessions/{session.id}"' in queue
    html = client.get(f"/review/sessions/{session.id}").get_data(as_text=True)
    svg = chart_svg(html)
    reference = next(e for e in svg.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "reference")
    x1, y1, x2, y2 = (float(reference.get(k)) for k in ("x1", "y1", "x2", "y2"))
    (violation,) = polylines(svg, "violation")
    assert all(y < y1 + (y2 - y1) * (x - x1) / (x2 - x1) - 5 for x, y in violation[1:])
    # Every 2× interval is refused for its rate; the third rate event reaches the hold threshold.
    assert len(markers(svg, "rate")) >= 3 and len(markers(svg, "held")) == 1
    assert "倍速播放：" in html and "倍速播放 ×" in html

    token = csrf_token(client, f"/review/sessions/{session.id}")
    response = client.post(f"/review/sessions/{session.id}/decide",
                           data={"decision": "release", "reason": "倍速段未计时，其余为正常观看，予以认可",
                                 "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    session = db.session.get(PlaybackSession, session.id)
    progress = db.session.scalar(sa.select(CoursewareProgress).where(CoursewareProgress.user_id == tree.learner_a.id))
    assert session.hold_state == HoldState.RELEASED
    assert progress.verified_watch_seconds == session.credited_seconds and progress.held_seconds == 0

    client.post("/logout", data={"csrf_token": token})
    login(client, tree.learner_a)
    mine = client.get("/my/watch-records").get_data(as_text=True)
    assert "审核通过" in mine and "倍速段未计时，其余为正常观看，予以认可" in mine
