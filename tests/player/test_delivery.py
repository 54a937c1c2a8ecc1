"""Delivery of courseware streams (SPEC §4): playlists whose segment URLs are short-lived presigned URLs of the
object store, only for the enrolled learner (and the base's admin, to preview); everyone else gets 403. The AES
key goes to a learner only while their active playback (lms.tracking) is of that courseware.

On the real backend every segment URL is SeaweedFS's own presigned URL: the bytes come from the S3 server,
which itself refuses a tampered or expired URL. On the embedded backend they are the app's signed /storage
URLs (the embedded mode's trade-off), held to the same rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import pytest
import requests

from lms.accounts.models import Role
from lms.core.db import utcnow
from lms.courses.models import CourseState, MediaAsset, MediaStatus
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.tracking import service as tracking
from tests.conftest import api_token, login, make_org, make_user
from tests.player import (
    browser_session,
    enroll,
    live_server,
    make_course,
    make_media,
    put_object,
    segment_bytes,
)
from tests.support import services

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@pytest.fixture
def lecture(tree):
    """A published course of base_a whose one courseware has ready (encrypted) HLS; learner_a is enrolled."""
    asset = make_media(tree.base_a, encrypted=True)
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,), media=[asset])
    enroll(tree.learner_a, course)
    courseware = course.coursewares[0]
    return {"course": course, "courseware": courseware, "asset": asset, "play": f"/play/{courseware.id}"}


def uri_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def download(client, url: str) -> tuple[int, bytes]:
    """Fetch a segment URL as the browser would: from the S3 server itself, or the embedded app's /storage."""
    if url.startswith("http"):
        response = requests.get(url, timeout=10)
        return response.status_code, response.content
    response = client.get(url)
    try:
        return response.status_code, response.data
    finally:
        response.close()


def open_playback(user, courseware) -> str:
    """Open a playback of the courseware, as the player page does before hls.js asks for the key; return its sid."""
    reply = tracking.open_session(user, courseware.id)
    assert reply.ack["ok"], reply.ack
    return reply.ack["sid"]


def segment_urls(client, play: str, rendition: str = "360p") -> list[str]:
    response = client.get(f"{play}/{rendition}/index.m3u8")
    assert response.status_code == 200, response.get_data(as_text=True)
    return uri_lines(response.get_data(as_text=True))


# ------------------------------------------------------------------------------------------------ playlists


def test_an_enrolled_learner_gets_a_master_playlist_of_the_apps_rendition_urls(client, tree, lecture):
    login(client, tree.learner_a)
    response = client.get(f"{lecture['play']}/master.m3u8")
    assert response.status_code == 200
    assert response.mimetype == PLAYLIST_TYPE and response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert uri_lines(text) == [f"{lecture['play']}/360p/index.m3u8", f"{lecture['play']}/720p/index.m3u8"]
    assert "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360" in text
    assert "media/" not in text  # no storage key leaks into the master playlist


def test_media_playlist_segments_are_presigned_and_download_from_the_storage_server(client, tree, lecture, config):
    login(client, tree.learner_a)
    response = client.get(f"{lecture['play']}/720p/index.m3u8")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "#EXT-X-ENDLIST" in response.get_data(as_text=True)
    urls = uri_lines(response.get_data(as_text=True))
    assert len(urls) == 3
    for index, url in enumerate(urls):
        if config.s3 is not None:
            # Straight from the S3 server, signed with its credentials: never through the app.
            parsed = urlparse(url)
            assert parsed.netloc == config.s3.endpoint
            query = dict(parse_qsl(parsed.query))
            assert query["X-Amz-Expires"] == str(config.presign_seconds) and "X-Amz-Signature" in query
        else:
            assert url.startswith(f"/storage/{lecture['asset'].hls_prefix}720p/seg_") and "signature=" in url
        assert download(client, url) == (200, segment_bytes(lecture["asset"].id, "720p", index))


def _tampered(url: str, how: str) -> str:
    parsed = urlparse(url)
    query = dict(parse_qsl(parsed.query))
    if how == "signature":
        name = "X-Amz-Signature" if "X-Amz-Signature" in query else "signature"
        query[name] = query[name][:-1] + ("0" if query[name][-1] != "0" else "1")
        return urlunparse(parsed._replace(query=urlencode(query)))
    if how == "other-segment":
        return urlunparse(parsed._replace(path=parsed.path.replace("seg_00000", "seg_00001")))
    name = "X-Amz-Expires" if "X-Amz-Expires" in query else "expires"
    query[name] = str(int(query[name]) + 3600)
    return urlunparse(parsed._replace(query=urlencode(query)))


@pytest.mark.parametrize("how", ["signature", "other-segment", "longer-expiry"])
def test_a_tampered_segment_url_is_refused_by_the_storage_server(client, tree, lecture, how):
    login(client, tree.learner_a)
    url = segment_urls(client, lecture["play"])[0]
    assert download(client, url)[0] == 200
    assert download(client, _tampered(url, how))[0] == 403


def _expires_at(url: str) -> float:
    """Return the epoch second after which a presigned URL (S3's or the local store's) is refused."""
    query = dict(parse_qsl(urlparse(url).query))
    if "X-Amz-Date" in query:
        signed = dt.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        return signed.timestamp() + int(query["X-Amz-Expires"])
    return float(query["expires"])


def test_an_expired_segment_url_is_refused_by_the_storage_server(config, app_factory, tree, lecture):
    # S3 signs to the whole second, so a 1-second URL may be dead before a loaded machine fetches it once:
    # give it a few seconds and then wait until just past the moment the URL itself names.
    short = app_factory(dataclasses.replace(config, presign_seconds=4))
    client = short.test_client()
    login(client, tree.learner_a)
    url = segment_urls(client, lecture["play"])[0]
    assert download(client, url)[0] == 200
    time.sleep(max(0.0, _expires_at(url) - time.time()) + 1.5)
    assert download(client, url)[0] == 403
    # The playlist itself is cheap to fetch again, and its fresh URLs work.
    assert download(client, segment_urls(client, lecture["play"])[0])[0] == 200


def test_the_key_line_points_at_the_app_and_the_key_is_served_uncached(client, tree, lecture):
    login(client, tree.learner_a)
    text = client.get(f"{lecture['play']}/360p/index.m3u8").get_data(as_text=True)
    key_lines = [line for line in text.splitlines() if line.startswith("#EXT-X-KEY")]
    assert key_lines == [f'#EXT-X-KEY:METHOD=AES-128,URI="{lecture["play"]}/key",IV=0x000102030405060708090a0b0c0d0e0f']
    assert "keys/" not in text  # the key is never presigned
    open_playback(tree.learner_a, lecture["courseware"])
    response = client.get(f"{lecture['play']}/key")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    asset = lecture["asset"]
    with client.application.extensions["lms.storage"].open(f"keys/{asset.id}/v{asset.hls_version}/key.bin") as f:
        assert response.data == f.read() and len(response.data) == 16


def test_an_unencrypted_video_has_no_key_and_no_key_line(client, tree):
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,), media=[make_media(tree.base_a)])
    enroll(tree.learner_a, course)
    login(client, tree.learner_a)
    play = f"/play/{course.coursewares[0].id}"
    assert "#EXT-X-KEY" not in client.get(f"{play}/360p/index.m3u8").get_data(as_text=True)
    open_playback(tree.learner_a, course.coursewares[0])
    assert client.get(f"{play}/key").status_code == 404


def test_a_learner_gets_the_key_only_while_their_active_playback_is_of_that_courseware(client, tree, lecture):
    other = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,),
                        media=[make_media(tree.base_a, encrypted=True)])
    enroll(tree.learner_a, other)
    login(client, tree.learner_a)
    key_url = f"{lecture['play']}/key"
    assert client.get(key_url).status_code == 403  # enrolled, but nothing is playing
    assert client.get(f"{lecture['play']}/360p/index.m3u8").status_code == 200  # the playlists are not gated
    sid = open_playback(tree.learner_a, lecture["courseware"])
    assert client.get(key_url).status_code == 200
    # Playing another courseware (on any page or device) takes over: the first one's key is refused again.
    open_playback(tree.learner_a, other.coursewares[0])
    assert client.get(key_url).status_code == 403
    assert client.get(f"/play/{other.coursewares[0].id}/key").status_code == 200
    resumed = tracking.open_session(tree.learner_a, lecture["courseware"].id, resume_sid=sid).ack
    assert resumed["resumed"] and client.get(key_url).status_code == 200
    assert tracking.close_session(tree.learner_a.id, {"sid": sid}).ack["ok"]
    assert client.get(key_url).status_code == 403
    # Another learner's playback opens nothing for this one.
    enroll(tree.learner_b, lecture["course"])
    open_playback(tree.learner_b, lecture["courseware"])
    assert client.get(key_url).status_code == 403


# ------------------------------------------------------------------------------------------------ who may play


def _outsider(tree, who: str):
    if who == "other_learner_same_unit":
        return make_user(tree.unit_a, Role.LEARNER)
    if who == "other_base_admin":
        return make_user(make_org(OrgKind.BASE, tree.dept_b))
    if who == "pending_enrolled_learner":
        return tree.pending_a
    return {"learner_b": tree.learner_b, "reviewer": tree.reviewer}.get(who) or tree.admins[who]


OUTSIDERS = ["learner_b", "other_learner_same_unit", "other_base_admin", "unit_a", "dept_a", "province", "reviewer",
             "pending_enrolled_learner"]


@pytest.mark.parametrize("who", [*OUTSIDERS, "anonymous"])
def test_everyone_but_the_enrolled_learner_and_the_base_gets_403(client, tree, lecture, who):
    if who == "pending_enrolled_learner":
        enroll(tree.pending_a, lecture["course"])
    if who != "anonymous":
        login(client, _outsider(tree, who))
    for path in ("master.m3u8", "360p/index.m3u8", "key"):
        response = client.get(f"{lecture['play']}/{path}")
        assert response.status_code == 403, path
        assert "X-Amz" not in response.get_data(as_text=True) and "signature" not in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["learner_b", "other_base_admin", "unit_a"])
def test_a_bearer_token_of_an_outsider_gets_403_too(client, tree, lecture, who):
    headers = api_token(client, _outsider(tree, who))
    for path in ("master.m3u8", "360p/index.m3u8", "key"):
        assert client.get(f"{lecture['play']}/{path}", headers=headers).status_code == 403
    assert client.get(f"/api/v1/coursewares/{lecture['courseware'].id}/stream", headers=headers).status_code == 403


def test_a_forged_bearer_token_is_not_rescued_by_a_session_cookie(client, tree, lecture):
    login(client, tree.learner_a)
    forged = {"Authorization": "Bearer not-a-real-token"}
    assert client.get(f"{lecture['play']}/master.m3u8", headers=forged).status_code == 403


def test_the_base_admin_previews_even_a_draft_course(client, tree):
    course = make_course(tree.base_a, hours=(1.0,), media=[make_media(tree.base_a, encrypted=True)])
    login(client, tree.admins["base_a"])
    play = f"/play/{course.coursewares[0].id}"
    for path in ("master.m3u8", "360p/index.m3u8", "key"):
        assert client.get(f"{play}/{path}").status_code == 200, path
    assert "预览" in client.get(play).get_data(as_text=True)


def test_a_learner_enrolled_in_a_withdrawn_course_still_plays_it(client, tree, lecture):
    lecture["course"].state = CourseState.WITHDRAWN
    db.session.commit()
    login(client, tree.learner_a)
    assert client.get(f"{lecture['play']}/master.m3u8").status_code == 200


def test_an_enrolment_does_not_open_a_course_that_went_back_to_draft(client, tree, lecture):
    lecture["course"].state = CourseState.DRAFT
    db.session.commit()
    login(client, tree.learner_a)
    assert client.get(f"{lecture['play']}/master.m3u8").status_code == 403


@pytest.mark.parametrize("rendition", ["1080p", "240p", "..", "360p%2F..%2F..%2Fmaster.m3u8", "%2e%2e"])
def test_only_the_assets_listed_renditions_are_served(client, tree, lecture, rendition):
    # 240p exists in storage but is not listed in asset.renditions: it is not served either.
    put_object(f"{lecture['asset'].hls_prefix}240p/index.m3u8", b"#EXTM3U\nseg_00000.ts\n")
    login(client, tree.learner_a)
    assert client.get(f"{lecture['play']}/{rendition}/index.m3u8").status_code == 404


def test_a_video_that_is_not_ready_is_not_served(client, tree):
    asset = make_media(tree.base_a, status=MediaStatus.PROCESSING)
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,), media=[asset])
    enroll(tree.learner_a, course)
    login(client, tree.learner_a)
    response = client.get(f"/play/{course.coursewares[0].id}/master.m3u8")
    assert response.status_code == 404 and "尚未就绪" in response.get_data(as_text=True)
    assert client.get("/play/999999/master.m3u8").status_code == 404


def test_a_playlist_pointing_outside_its_version_is_never_signed(client, tree, lecture):
    prefix = lecture["asset"].hls_prefix
    put_object(f"{prefix}360p/index.m3u8", b"#EXTM3U\n#EXTINF:6,\n../../../../keys/1/v1/key.bin\n#EXT-X-ENDLIST\n")
    login(client, tree.learner_a)
    response = client.get(f"{lecture['play']}/360p/index.m3u8")
    assert response.status_code == 502
    assert "key.bin" not in response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ the API and page


def test_the_stream_api_returns_the_master_url_a_presigned_poster_and_the_duration(client, tree, lecture):
    headers = api_token(client, tree.learner_a)
    response = client.get(f"/api/v1/coursewares/{lecture['courseware'].id}/stream", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["master_url"] == f"http://localhost{lecture['play']}/master.m3u8"
    assert body["duration_s"] == 3120.0 and body["encrypted"] is True
    poster = body["poster_url"]
    if poster.startswith("http://localhost/"):
        poster = poster[len("http://localhost"):]
    assert download(client, poster) == (200, b"\xff\xd8\xff\xe0fake-jpeg-poster")
    # An API client fetches the playlists with the same bearer token.
    master = client.get(body["master_url"], headers=headers)
    assert master.status_code == 200 and master.headers["Cache-Control"] == "no-store"


def test_the_stream_api_refuses_anonymous_callers_and_unready_media(client, tree, lecture):
    url = f"/api/v1/coursewares/{lecture['courseware'].id}/stream"
    assert client.get(url).status_code == 401
    lecture["asset"].status = MediaStatus.PROCESSING
    db.session.commit()
    response = client.get(url, headers=api_token(client, tree.learner_a))
    assert response.status_code == 404 and response.get_json()["error"]["message"] == "该课件的视频尚未就绪。"


def test_the_player_page_is_for_those_who_may_play(client, tree, lecture):
    assert client.get(lecture["play"]).status_code == 302  # to the login page
    login(client, tree.learner_b)
    assert client.get(lecture["play"]).status_code == 403
    login(client, tree.learner_a)
    page = client.get(lecture["play"]).get_data(as_text=True)
    assert "<video" in page and f'data-master-url="{lecture["play"]}/master.m3u8"' in page


# ------------------------------------------------------------------------------------------------ end to end


def _real_hls(folder: Path, key: bytes) -> Path:
    """Package a 4-second test video as encrypted HLS with ffmpeg, the way the media worker lays it out."""
    (folder / "240p").mkdir(parents=True)
    (folder / "key.bin").write_bytes(key)
    (folder / "keyinfo").write_text(f"key.bin\n{folder / 'key.bin'}\n{os.urandom(16).hex()}\n")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi",
         "-i", "sine=frequency=440", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-g", "50", "-c:a", "aac", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
         "-hls_key_info_file", str(folder / "keyinfo"), "-hls_segment_filename", str(folder / "240p/seg_%05d.ts"),
         str(folder / "240p/index.m3u8")],
        check=True, timeout=120)
    return folder / "240p"


def test_ffprobe_reads_real_encrypted_hls_back_through_the_signed_urls(app, tree, tmp_path):
    if not services.ffmpeg_available():
        services.require(services.FFMPEG, FileNotFoundError("ffmpeg 或 ffprobe 不在 PATH 中"))
    key = os.urandom(16)
    rendition = _real_hls(tmp_path, key)
    asset = MediaAsset(base_id=tree.base_a.id, original_key="originals/e2e.mp4", original_filename="e2e.mp4",
                       size_bytes=1, status=MediaStatus.READY, duration_s=4.0, encrypted=True, hls_version=1,
                       processed_at=utcnow(), renditions=[{"name": "240p", "width": 320, "height": 240,
                                                           "bandwidth": 400_000, "playlist": "240p/index.m3u8"}])
    db.session.add(asset)
    db.session.commit()
    for path in sorted(rendition.iterdir()):
        put_object(f"{asset.hls_prefix}240p/{path.name}", path.read_bytes())
    put_object(f"{asset.hls_prefix}master.m3u8",
               b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x240\n240p/index.m3u8\n")
    put_object(f"keys/{asset.id}/v1/key.bin", key)
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(0.1,), media=[asset])
    enroll(tree.learner_a, course)
    open_playback(tree.learner_a, course.coursewares[0])

    with live_server(app) as url, browser_session(url, tree.learner_a) as session:
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        master = f"{url}/play/{course.coursewares[0].id}/master.m3u8"
        headers = ["-headers", f"Cookie: {cookie}\r\nUser-Agent: {session.headers['User-Agent']}\r\n"]
        # -count_frames decodes every frame: the segments arrived whole and the key decrypted them.
        probe = subprocess.run(["ffprobe", "-v", "error", *headers, "-count_frames", "-show_entries",
                                "format=duration:stream=codec_name,nb_read_frames", "-of", "json", master],
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0 and probe.stderr == "", probe.stderr
        found = json.loads(probe.stdout)
        streams = {s["codec_name"]: int(s["nb_read_frames"]) for s in found["streams"]}
        assert streams["h264"] == 100 and streams["aac"] > 150  # 4 s × 25 fps; 4 s × 44.1 kHz ÷ 1024
        assert 3.5 < float(found["format"]["duration"]) < 4.5
        # Without the learner's session nothing plays.
        refused = subprocess.run(["ffprobe", "-v", "error", master], capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "403" in refused.stderr
