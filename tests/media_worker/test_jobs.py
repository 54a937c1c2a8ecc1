"""The media job end to end with real ffmpeg, on the embedded backend and on PostgreSQL + Redis + S3.

Every published rendition is read back by ffprobe the way a player fetches it: through presigned URLs
on the S3 server (the local folder's files in the embedded mode).
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from rq import Queue, SimpleWorker

from lms.core.jobs import MEDIA_QUEUE
from lms.core.storage import StorageUnavailable
from lms.courses.models import MediaStatus
from lms.extensions import db
from media_worker import jobs, probe
from media_worker.jobs import (
    enqueue_processing,
    key_storage_key,
    live_job_asset_ids,
    manifest_storage_key,
    media_prefix,
    process_media,
    remove_stale_work_dirs,
    sweep_stuck_assets,
)
from tests.media_worker.conftest import (
    create_asset,
    fetch_text,
    ffprobe_hls,
    playable_playlist,
    process_with_settings,
    reload,
)


def decoded_video_hash(location: str) -> str:
    hls = ["-allowed_extensions", "ALL"] if location.endswith(".m3u8") else []
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-protocol_whitelist", "file,http,https,tcp,tls,crypto", *hls,
         "-i", location, "-map", "0:v:0", "-f", "hash", "-hash", "md5", "-"],
        capture_output=True, text=True, check=True)
    return result.stdout.strip()


def streams(probed: dict) -> dict[str, dict]:
    return {s["codec_type"]: s for s in probed["streams"]}


def test_h264_aac_upload_is_remuxed_and_plays_back_through_signed_urls(app, base, videos, tmp_path):
    source = videos.h264_480p()
    asset = create_asset(app, base, source)

    process_media(asset.id)

    asset = reload(asset)
    assert asset.status is MediaStatus.READY, asset.error_message
    assert (asset.hls_version, asset.attempts, asset.progress_percent) == (1, 1, 100)
    assert asset.duration_s == pytest.approx(4.0, abs=0.1)
    assert (asset.width, asset.height, asset.video_codec, asset.audio_codec) == (640, 480, "h264", "aac")
    assert asset.size_bytes == source.stat().st_size and asset.processed_at is not None and not asset.encrypted
    assert [(r["name"], r["width"], r["height"], r["playlist"]) for r in asset.renditions] == [
        ("360p", 480, 360, "360p/index.m3u8"), ("480p", 640, 480, "480p/index.m3u8")]
    master = fetch_text(app, asset.hls_prefix + "master.m3u8")
    for rendition in asset.renditions:
        assert (f"BANDWIDTH={rendition['bandwidth']},") in master
        assert f"RESOLUTION={rendition['width']}x{rendition['height']}" in master

    for rendition in asset.renditions:
        probed = ffprobe_hls(playable_playlist(app, asset, rendition["name"], tmp_path))
        video, audio = streams(probed)["video"], streams(probed)["audio"]
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", rendition["width"],
                                                                         rendition["height"])
        assert int(video["nb_read_packets"]) == 100 and audio["codec_name"] == "aac"
        assert float(probed["format"]["duration"]) == pytest.approx(4.0, abs=0.1)
    # The source rendition is the original stream itself: the same pictures, bit for bit; the other is re-encoded.
    source_pictures = decoded_video_hash(str(source))
    assert decoded_video_hash(str(playable_playlist(app, asset, "480p", tmp_path))) == source_pictures
    assert decoded_video_hash(str(playable_playlist(app, asset, "360p", tmp_path))) != source_pictures
    poster = tmp_path / "poster.jpg"
    with app.extensions["lms.storage"].open(asset.hls_prefix + "poster.jpg") as stream:
        poster.write_bytes(stream.read())
    assert poster.read_bytes()[:2] == b"\xff\xd8" and decoded_video_hash(str(poster)).startswith("MD5=")


@pytest.mark.parametrize(("video", "expected"), [("mpeg4_240p", ("240p", 320, 240)),
                                                 ("vp8_400p", ("360p", 360, 360))], ids=["mpeg4", "vp8"])
def test_other_codecs_are_transcoded_to_h264_without_upscaling(app, base, videos, tmp_path, video, expected):
    source = getattr(videos, video)()
    asset = create_asset(app, base, source)

    process_media(asset.id)

    asset = reload(asset)
    assert asset.status is MediaStatus.READY, asset.error_message
    assert [(r["name"], r["width"], r["height"]) for r in asset.renditions] == [expected]
    assert asset.renditions[0]["codecs"] == "avc1.640028,mp4a.40.2"
    probed = ffprobe_hls(playable_playlist(app, asset, expected[0], tmp_path))
    assert streams(probed)["video"]["codec_name"] == "h264" and streams(probed)["audio"]["codec_name"] == "aac"
    assert (streams(probed)["video"]["width"], streams(probed)["video"]["height"]) == expected[1:]
    assert float(probed["format"]["duration"]) == pytest.approx(4.0, abs=0.15)


def test_encrypted_output_plays_only_with_its_key_which_is_stored_outside_the_media_prefix(
        app, app_factory, config, base, videos, tmp_path):
    asset = create_asset(app, base, videos.h264_240p())

    process_with_settings(app_factory, config, asset.id, hls_encrypt=True)

    asset = reload(asset)
    assert asset.status is MediaStatus.READY and asset.encrypted
    store = app.extensions["lms.storage"]
    assert store.size(key_storage_key(asset.id, 1)) == 16
    assert key_storage_key(asset.id, 1).startswith("keys/")
    playlist_text = fetch_text(app, asset.hls_prefix + "240p/index.m3u8")
    assert '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x' in playlist_text
    assert not store.exists(asset.hls_prefix + "key.bin") and not store.exists(asset.hls_prefix + "240p/key.bin")
    with store.open(asset.hls_prefix + "240p/seg_00000.ts") as stream:
        stored = stream.read()
    # A clear MPEG-TS segment has the sync byte 0x47 at every 188-byte packet start; ciphertext has it by chance
    # only (about 1 in 256). ffprobe is no judge here: it sometimes guesses some format from random bytes.
    packet_starts = range(0, len(stored) - 188, 188)
    synced = sum(stored[i] == 0x47 for i in packet_starts)
    assert len(packet_starts) > 20 and synced < len(packet_starts) // 10

    probed = ffprobe_hls(playable_playlist(app, asset, "240p", tmp_path))
    assert int(streams(probed)["video"]["nb_read_packets"]) == 100


BAD_FILES = [("text", probe.MESSAGE_NOT_VIDEO), ("truncated", probe.MESSAGE_TRUNCATED),
             ("audio_only", probe.MESSAGE_NO_VIDEO), ("empty", probe.MESSAGE_EMPTY),
             ("too_long", "视频时长 0:00:04 超过允许的上限 0:00:02，请剪辑后分段上传。")]


@pytest.mark.parametrize(("kind", "message"), BAD_FILES, ids=[kind for kind, _ in BAD_FILES])
def test_bad_upload_fails_with_its_message_and_keeps_the_original(app, app_factory, config, base, videos, kind,
                                                                 message, monkeypatch):
    max_seconds = 2 if kind == "too_long" else config.media_max_seconds
    events = []
    monkeypatch.setattr(jobs, "emit", lambda *args, **kwargs: events.append((args, kwargs)))
    asset = create_asset(app, base, videos.bad(kind))

    process_with_settings(app_factory, config, asset.id, media_max_seconds=max_seconds)  # raises nothing: no retry

    asset = reload(asset)
    assert (asset.status, asset.error_message, asset.hls_version) == (MediaStatus.FAILED, message, None)
    store = app.extensions["lms.storage"]
    assert store.exists(asset.original_key)
    assert not store.exists(manifest_storage_key(asset.id, asset.attempts))  # nothing of it was stored
    (last_event, kwargs) = events[-1]
    assert last_event[1] == {"asset_id": asset.id, "status": "failed", "percent": 0, "message": message}
    assert kwargs == {"namespace": "/media", "room": f"base:{base.id}"}


def test_running_the_job_again_publishes_a_new_version_and_deletes_the_old_one(app, base, videos):
    asset = create_asset(app, base, videos.h264_240p())
    store = app.extensions["lms.storage"]
    process_media(asset.id)
    with store.open(manifest_storage_key(asset.id, 1)) as stream:
        first_keys = json.load(stream)["keys"]
    assert media_prefix(asset.id, 1) + "master.m3u8" in first_keys

    process_media(asset.id)

    asset = reload(asset)
    assert (asset.status, asset.hls_version, asset.attempts) == (MediaStatus.READY, 2, 2)
    assert asset.hls_prefix == media_prefix(asset.id, 2)
    assert store.exists(asset.hls_prefix + "master.m3u8") and store.exists(asset.hls_prefix + "240p/index.m3u8")
    assert not [key for key in first_keys if store.exists(key)]
    assert not store.exists(manifest_storage_key(asset.id, 1))


def test_attempt_overtaken_by_a_later_one_publishes_nothing_and_removes_its_objects(app, base, videos, monkeypatch):
    asset = create_asset(app, base, videos.h264_240p())
    real_package = jobs.package

    def package_while_another_attempt_starts(*args, **kwargs):
        result = real_package(*args, **kwargs)
        with db.engine.begin() as connection:  # another worker picks the asset up meanwhile
            connection.execute(db.text("UPDATE media_assets SET attempts = attempts + 1 WHERE id = :id"),
                               {"id": asset.id})
        return result

    monkeypatch.setattr(jobs, "package", package_while_another_attempt_starts)
    process_media(asset.id)

    asset = reload(asset)
    assert (asset.status, asset.hls_version, asset.attempts) == (MediaStatus.PROCESSING, None, 2)
    store = app.extensions["lms.storage"]
    assert not store.exists(media_prefix(asset.id, 1) + "master.m3u8")
    assert not store.exists(manifest_storage_key(asset.id, 1))


def test_storage_failure_raises_for_a_retry_and_the_last_try_marks_a_system_error(app, base, videos, monkeypatch):
    asset = create_asset(app, base, videos.h264_240p())
    store = app.extensions["lms.storage"]

    def storage_down(*args, **kwargs):
        raise StorageUnavailable("对象存储不可达：测试")

    monkeypatch.setattr(store, "put", storage_down)
    with pytest.raises(StorageUnavailable):
        process_media(asset.id)

    asset = reload(asset)  # outside RQ there is no retry left, so the base is told
    assert (asset.status, asset.error_message) == (MediaStatus.FAILED, jobs.MESSAGE_SYSTEM_ERROR)
    assert store.exists(asset.original_key)


def test_failed_reprocessing_leaves_the_published_version_playable(app, base, videos, monkeypatch):
    asset = create_asset(app, base, videos.h264_240p())
    process_media(asset.id)
    store = app.extensions["lms.storage"]
    monkeypatch.setattr(store, "put", lambda *args, **kwargs: (_ for _ in ()).throw(StorageUnavailable("测试")))

    with pytest.raises(StorageUnavailable):
        process_media(asset.id)

    asset = reload(asset)
    assert (asset.status, asset.hls_version, asset.attempts) == (MediaStatus.READY, 1, 2)
    assert asset.error_message == jobs.MESSAGE_SYSTEM_ERROR and store.exists(asset.hls_prefix + "master.m3u8")


def test_progress_is_stored_and_broadcast_to_the_base_room_up_to_ready(app, base, videos, monkeypatch):
    events = []
    monkeypatch.setattr(jobs, "emit", lambda event, data, **kwargs: events.append((event, data, kwargs)))
    asset = create_asset(app, base, videos.h264_480p())

    process_media(asset.id)

    assert {(event, kwargs["namespace"], kwargs["room"]) for event, _, kwargs in events} == {
        ("media_progress", "/media", f"base:{base.id}")}
    percents = [data["percent"] for _, data, _ in events]
    assert percents == sorted(percents) and percents[0] == 0
    assert [data["status"] for _, data, _ in events][:-1] == ["processing"] * (len(events) - 1)
    assert events[-1][1] == {"asset_id": asset.id, "status": "ready", "percent": 100,
                             "message": jobs.MESSAGE_READY}


def test_progress_reporter_writes_at_most_every_two_seconds(app, base, videos, monkeypatch):
    events = []
    monkeypatch.setattr(jobs, "emit", lambda event, data, **kwargs: events.append(data["percent"]))
    asset = create_asset(app, base, videos.h264_240p(), status=MediaStatus.PROCESSING)
    now = [100.0]
    reporter = jobs.ProgressReporter(asset.id, version=0, base_id=base.id, clock=lambda: now[0])
    for percent in range(1, 40):
        reporter.report(percent, "…")
        now[0] += 0.25
    assert events == [1, 9, 17, 25, 33]
    assert reload(asset).progress_percent == 33


def test_sweep_requeues_an_asset_left_processing_without_a_job_once(app, base, videos):
    asset = create_asset(app, base, videos.h264_240p(), status=MediaStatus.PROCESSING)

    assert sweep_stuck_assets() == [asset.id]

    if app.extensions["lms.config"].redis_url:
        assert live_job_asset_ids(app.extensions["lms.redis.queue"]) == {asset.id}
        assert sweep_stuck_assets() == []  # its new job is waiting in the queue
    else:
        deadline = time.monotonic() + 30
        while reload(asset).status is not MediaStatus.READY and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reload(asset).status is MediaStatus.READY


def test_stale_work_folders_of_dead_processes_are_removed(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = tmp_path / f"lms-media-7-{finished.pid}-abc"
    alive = tmp_path / f"lms-media-8-{subprocess.os.getpid()}-def"
    for folder in (dead, alive):
        (folder / "out").mkdir(parents=True)

    assert remove_stale_work_dirs(tmp_path) == [dead]
    assert alive.exists() and not dead.exists()


def test_missing_original_fails_without_a_retry(app, base, videos):
    asset = create_asset(app, base, videos.h264_240p())
    app.extensions["lms.storage"].delete(asset.original_key)

    process_media(asset.id)

    asset = reload(asset)
    assert (asset.status, asset.error_message) == (MediaStatus.FAILED, jobs.MESSAGE_MISSING_ORIGINAL)


@pytest.mark.parametrize("base_config", ["real"], indirect=True)
def test_job_queued_before_the_asset_was_published_does_nothing_when_it_finally_runs(app, base, videos):
    asset = create_asset(app, base, videos.h264_240p())
    stale = enqueue_processing(asset.id)  # e.g. a job RQ re-queues long after the sweep's job succeeded
    process_media(asset.id)

    SimpleWorker([Queue(MEDIA_QUEUE, connection=app.extensions["lms.redis.queue"])],
                 connection=app.extensions["lms.redis.queue"]).work(burst=True)

    assert stale.get_status(refresh=True) == "finished"
    asset = reload(asset)
    assert (asset.status, asset.hls_version, asset.attempts) == (MediaStatus.READY, 1, 1)
