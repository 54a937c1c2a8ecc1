"""The whole courseware pipeline through its real parts: a generated video uploaded in parts through the API,
processed by the real worker (RQ on Redis, or the embedded worker thread), and the published HLS decoded by
ffprobe through the app's playlists and the storage server's presigned segment URLs."""

from __future__ import annotations

import json
import subprocess
import time

import requests
from rq import Queue, SimpleWorker

from lms.core.jobs import MEDIA_QUEUE
from lms.courses.models import MediaAsset, MediaStatus
from lms.extensions import db
from tests.conftest import api_token
from tests.player import browser_session, live_server, make_course
from tests.support import media, services

PROCESSING_DEADLINE_S = 120


def upload(client, headers: dict, courseware_id: int, path) -> int:
    """Send a file through the upload API in parts, each PUT where the API says (the storage server or the app)."""
    size = path.stat().st_size
    started = client.post("/api/v1/uploads", headers=headers, json={
        "courseware_id": courseware_id, "filename": "第一讲.mp4", "size": size, "content_type": "video/mp4"})
    assert started.status_code == 201, started.get_json()
    asset_id, part_size = started.get_json()["asset_id"], started.get_json()["part_size"]
    with path.open("rb") as file:
        for number in range(1, started.get_json()["part_count"] + 1):
            chunk = file.read(part_size)
            target = client.get(f"/api/v1/uploads/{asset_id}/parts/{number}", headers=headers).get_json()
            if target["url"].startswith("http"):
                assert requests.put(target["url"], data=chunk, timeout=60).status_code == 200
            else:
                assert client.put(target["url"], data=chunk, headers=headers).status_code == 200
    completed = client.post(f"/api/v1/uploads/{asset_id}/complete", headers=headers)
    assert completed.status_code == 200, completed.get_json()
    return asset_id


def wait_until_processed(app, asset_id: int) -> MediaAsset:
    """Run the queued job the way production does: an RQ worker with Redis, else the app's own worker thread."""
    if app.extensions["lms.config"].redis_url:
        queue = Queue(MEDIA_QUEUE, connection=app.extensions["lms.redis.queue"])
        SimpleWorker([queue], connection=app.extensions["lms.redis.queue"]).work(burst=True)
    deadline = time.monotonic() + PROCESSING_DEADLINE_S
    while time.monotonic() < deadline:
        db.session.expire_all()
        asset = db.session.get(MediaAsset, asset_id)
        if asset.status in (MediaStatus.READY, MediaStatus.FAILED):
            return asset
        time.sleep(0.2)
    raise AssertionError(f"media asset {asset_id} still {asset.status} after {PROCESSING_DEADLINE_S} s")


def test_an_uploaded_video_is_processed_by_the_worker_and_plays_back_through_signed_urls(app, client, tree,
                                                                                         tmp_path):
    if not services.ffmpeg_available():
        services.require(services.FFMPEG, FileNotFoundError("ffmpeg 或 ffprobe 不在 PATH 中"))
    video = media.make_test_video(tmp_path / "lecture.mp4", seconds=6, width=320, height=240)
    course = make_course(tree.base_a, hours=(0.1,))
    courseware_id = course.coursewares[0].id
    base_admin = tree.admins["base_a"]

    asset_id = upload(client, api_token(client, base_admin), courseware_id, video)
    asset = wait_until_processed(app, asset_id)

    assert asset.status == MediaStatus.READY, asset.error_message
    assert 5.5 < asset.duration_s < 6.5 and [r["name"] for r in asset.renditions] == ["240p"]
    with live_server(app) as url, browser_session(url, base_admin) as session:
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        master = f"{url}/play/{courseware_id}/master.m3u8"
        # Flask-Login's strong session protection ties the session to the browser's User-Agent.
        headers = f"Cookie: {cookie}\r\nUser-Agent: {session.headers['User-Agent']}\r\n"
        # -count_frames decodes every frame: each presigned segment arrived whole from the storage server.
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-headers", headers, "-count_frames", "-show_entries",
             "format=duration:stream=codec_name,nb_read_frames", "-of", "json", master],
            capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and probe.stderr == "", probe.stderr
    found = json.loads(probe.stdout)
    frames = {s["codec_name"]: int(s["nb_read_frames"]) for s in found["streams"]}
    assert frames["h264"] == 6 * 25 and frames["aac"] > 250
