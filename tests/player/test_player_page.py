"""The player page (/play/<courseware_id>) as the server renders it: who gets it, what it shows, what it never holds.

What the page does in a browser is in test_browser_tracking.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest

from lms.accounts.models import Role
from lms.core.db import utcnow
from lms.courses.models import CourseState, MediaStatus
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.tracking import service as tracking
from lms.tracking.models import PlaybackSession, PlaybackState
from tests.conftest import SECRET, login, make_org, make_user
from tests.player import enroll, make_course, make_media

VENDOR = Path(__file__).resolve().parents[2] / "lms" / "static" / "vendor"


@pytest.fixture
def lecture(tree):
    """A published course of base_a with one encrypted, ready courseware of 1 labelled hour; learner_a enrolled."""
    asset = make_media(tree.base_a, encrypted=True)
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,), media=[asset])
    enroll(tree.learner_a, course)
    return {"course": course, "courseware": course.coursewares[0], "asset": asset,
            "play": f"/play/{course.coursewares[0].id}"}


def earlier_playback(user, courseware, seconds: float) -> None:
    """Record a finished playback of the courseware and recompute the learner's progress, as a flush does."""
    at = utcnow() - dt.timedelta(hours=2)
    db.session.add(PlaybackSession(public_id=f"earlier-{user.id}-{courseware.id}", user_id=user.id,
                                   courseware_id=courseware.id, state=PlaybackState.CLOSED, started_at=at,
                                   ended_at=at, last_heartbeat_at=at, credited_seconds=seconds))
    db.session.flush()
    tracking.recompute_progress(user.id, courseware.id)
    db.session.commit()


def test_an_enrolled_learner_gets_the_tracked_player_with_everything_it_needs(client, tree, lecture):
    login(client, tree.learner_a)
    response = client.get(lecture["play"])
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    page = response.get_data(as_text=True)
    assert 'data-tracked="true"' in page and f'data-courseware-id="{lecture["courseware"].id}"' in page
    assert f'data-master-url="{lecture["play"]}/master.m3u8"' in page
    for script in ("vendor/socket.io.min.js", "vendor/hls.min.js", "player.js"):
        assert f'src="/static/{script}"' in page
    # Until the playback is open nothing plays: the video has no source and the play button is disabled.
    assert re.search(r"<video[^>]*>", page).group(0).count("src=") == 0
    assert re.search(r'<button type="button" data-action="play"[^>]*disabled', page)
    assert "<dialog" in page and "注意力验证" in page
    assert "本课件已计时 <strong data-watch-time>0 秒</strong>，要求 45 分钟" in page
    assert "尚未完成本课件的观看要求" in page
    assert 'aria-label="课件视频播放器"' in page and 'aria-label="音量"' in page


def test_the_page_shows_the_verified_progress_already_written(client, tree, lecture):
    earlier_playback(tree.learner_a, lecture["courseware"], 750.0)
    login(client, tree.learner_a)
    page = client.get(lecture["play"]).get_data(as_text=True)
    assert "<strong data-watch-time>12 分 30 秒</strong>" in page
    assert 'value="750.0"' in page and 'max="2700.0"' in page
    assert "尚未完成本课件的观看要求" in page


def test_a_learner_who_met_the_requirement_sees_it_completed(client, tree, lecture):
    asset = make_media(tree.base_a, duration_s=10.0)
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(0.1,), media=[asset])
    enroll(tree.learner_a, course)
    courseware = course.coursewares[0]
    earlier_playback(tree.learner_a, courseware, 300.0)
    # Coverage comes from the sessions' bitmaps: mark every second of the 10-second video as watched.
    session = db.session.query(PlaybackSession).filter_by(user_id=tree.learner_a.id,
                                                          courseware_id=courseware.id).one()
    session.coverage_bitmap, session.coverage_seconds = b"\xff\xc0", 10
    progress = tracking.recompute_progress(tree.learner_a.id, courseware.id)
    db.session.commit()
    assert progress.completed
    login(client, tree.learner_a)
    page = client.get(f"/play/{courseware.id}").get_data(as_text=True)
    assert "已完成本课件的观看要求" in page and "尚未完成" not in page


def _outsider(tree, who: str):
    if who == "other_learner_same_unit":
        return make_user(tree.unit_a, Role.LEARNER)
    if who == "other_base_admin":
        return make_user(make_org(OrgKind.BASE, tree.dept_b))
    return {"learner_b": tree.learner_b, "reviewer": tree.reviewer}.get(who) or tree.admins[who]


@pytest.mark.parametrize("who", ["learner_b", "other_learner_same_unit", "other_base_admin", "unit_a", "dept_a",
                                 "city", "province", "reviewer"])
def test_everyone_else_gets_403_and_no_trace_of_the_video(client, tree, lecture, who):
    login(client, _outsider(tree, who))
    response = client.get(lecture["play"])
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "master.m3u8" not in page and "player.js" not in page and lecture["asset"].hls_prefix not in page


def test_anonymous_visitors_are_sent_to_log_in_and_pending_learners_to_their_status(client, tree, lecture):
    response = client.get(lecture["play"])
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    enroll(tree.pending_a, lecture["course"])
    login(client, tree.pending_a)
    response = client.get(lecture["play"])
    assert response.status_code == 302 and "master.m3u8" not in response.get_data(as_text=True)


def test_a_course_back_in_draft_is_not_played_by_enrolled_learners(client, tree, lecture):
    lecture["course"].state = CourseState.DRAFT
    db.session.commit()
    login(client, tree.learner_a)
    assert client.get(lecture["play"]).status_code == 403


def test_the_page_holds_no_key_no_segment_url_and_no_tracking_token(client, tree, lecture, config):
    sid = tracking.open_session(tree.learner_a, lecture["courseware"].id).ack["sid"]  # a playback on another page
    login(client, tree.learner_a)
    page = client.get(lecture["play"]).get_data(as_text=True)
    asset = lecture["asset"]
    with client.application.extensions["lms.storage"].open(f"keys/{asset.id}/v{asset.hls_version}/key.bin") as f:
        key = f.read()
    assert key.hex() not in page.lower() and "keys/" not in page and "/key" not in page
    assert "seg_" not in page and "index.m3u8" not in page and "#EXT" not in page
    assert sid not in page and SECRET not in page
    # The one presigned URL on the page is the poster's.
    signed = re.findall(r'"([^"]*(?:X-Amz-Signature|signature)=[^"]*)"', page)
    assert len(signed) == 1 and "poster.jpg" in signed[0]
    assert tree.learner_b.name not in page and tree.learner_b.login not in page


def test_the_base_admin_previews_without_tracking(client, tree):
    course = make_course(tree.base_a, hours=(1.0,), media=[make_media(tree.base_a, encrypted=True)])  # a draft
    login(client, tree.admins["base_a"])
    page = client.get(f"/play/{course.coursewares[0].id}").get_data(as_text=True)
    assert 'data-tracked="false"' in page and "预览（不计学时）" in page
    assert "socket.io" not in page and "<dialog" not in page and "data-watch-time" not in page
    assert 'src="/static/vendor/hls.min.js"' in page


def test_a_courseware_whose_video_is_not_ready_says_so_and_loads_no_player(client, tree):
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,),
                         media=[make_media(tree.base_a, status=MediaStatus.PROCESSING)])
    enroll(tree.learner_a, course)
    login(client, tree.learner_a)
    page = client.get(f"/play/{course.coursewares[0].id}").get_data(as_text=True)
    assert "该课件的视频尚未就绪" in page and "player.js" not in page and "<video" not in page


def test_the_vendored_browser_libraries_match_their_recorded_checksums_and_are_served(client):
    table = (VENDOR / "README.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", table, re.MULTILINE))
    assert {"hls.min.js", "socket.io.min.js"} <= set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        response = client.get(f"/static/vendor/{name}")
        assert response.status_code == 200 and hashlib.sha256(response.data).hexdigest() == digest
        response.close()
    response = client.get("/static/player.js")
    assert response.status_code == 200 and b"LmsPlayer" in response.data
    response.close()
