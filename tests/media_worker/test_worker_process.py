"""The real worker process (``python -m media_worker``) on Redis, PostgreSQL and S3: killed mid-job, then recovered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lms.config import Config
from lms.courses.models import MediaStatus
from media_worker.jobs import _delete_version, enqueue_processing, manifest_storage_key, media_prefix
from tests.media_worker.conftest import create_asset, ffprobe_hls, playable_playlist, reload

REPO = Path(__file__).resolve().parents[2]
CLIP_SECONDS = 20


def worker_environment(config: Config, data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LMS_")}
    env.update(
        LMS_DATABASE_URL=config.database_url,
        LMS_REDIS_URL=config.redis_url,
        LMS_S3_ENDPOINT=config.s3.endpoint,
        LMS_S3_ACCESS_KEY=config.s3.access_key,
        LMS_S3_SECRET_KEY=config.s3.secret_key,
        LMS_S3_BUCKET=config.s3.bucket,
        LMS_S3_SECURE="true" if config.s3.secure else "false",
        LMS_SECRET_KEY=config.secret_key,
        LMS_DATA_DIR=str(data_dir),
        LMS_HLS_LADDER=",".join(str(height) for height in config.hls_ladder),
        LMS_LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
    )
    return env


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    # A session of its own, so the worker, its forked work horse and their ffmpeg can be killed together.
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, "-m", "media_worker", *args], cwd=REPO, env=env,
                                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def processes_in_session(session_id: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session_id and fields[0] != "Z":  # fields after "(comm)": state ppid pgrp session
            pids.append(int(stat.parent.name))
    return pids


def kill_session(process: subprocess.Popen) -> None:
    """SIGKILL every process of the worker's session at once, as when its machine or container dies."""
    for pid in processes_in_session(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while processes_in_session(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_in_session(process.pid)


def wait_for(condition, timeout: float, worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.poll() is None, f"the worker exited early:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


@pytest.mark.parametrize("base_config", ["real"], indirect=True)
def test_worker_killed_mid_job_publishes_nothing_and_the_next_worker_finishes_the_job(
        app, config, base, videos, tmp_path):
    source = videos.video("mpeg4-480p-long.avi", seconds=CLIP_SECONDS, width=640, height=480, vcodec="mpeg4",
                          acodec="mp3", container="avi")
    asset = create_asset(app, base, source)
    # Ids restart with every test but the bucket lives for the run: clear what an earlier test's asset of the same
    # id left, so that the checks below see only this job's objects.
    store = app.extensions["lms.storage"]
    for version in (1, 2):
        _delete_version(store, asset.id, version)
        store.delete(media_prefix(asset.id, version) + "master.m3u8")
    enqueue_processing(asset.id)
    env = worker_environment(config, tmp_path / "worker-data")
    log = tmp_path / "worker.log"

    first = start_worker(env, log)
    try:
        wait_for(lambda: (row := reload(asset)).status is MediaStatus.PROCESSING and row.progress_percent > 0,
                 timeout=60, worker=first, log=log)
    finally:
        kill_session(first)

    asset = reload(asset)
    assert (asset.status, asset.hls_version, asset.attempts) == (MediaStatus.PROCESSING, None, 1)
    assert not store.exists(media_prefix(asset.id, 1) + "master.m3u8")

    second = start_worker(env, log, "--burst")  # its start-up sweep finds the orphaned asset and queues it again
    assert second.wait(timeout=90) == 0, log.read_text()[-3000:]

    asset = reload(asset)
    assert asset.status is MediaStatus.READY, log.read_text()[-3000:]
    assert (asset.hls_version, asset.attempts) == (2, 2)
    assert asset.duration_s == pytest.approx(CLIP_SECONDS, abs=0.2)
    assert not store.exists(manifest_storage_key(asset.id, 1))
    probed = ffprobe_hls(playable_playlist(app, asset, "360p", tmp_path))
    assert float(probed["format"]["duration"]) == pytest.approx(CLIP_SECONDS, abs=0.2)
    output = log.read_text()
    assert f"removed the work folder of a dead job: {tempfile.gettempdir()}/lms-media-{asset.id}-" in output
    assert f"media asset {asset.id} was left without a live job; queuing it again" in output
    assert f"[job media-{asset.id}-" in output and f"media asset {asset.id}: published version 2" in output
