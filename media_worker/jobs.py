"""The media job: validate an uploaded original, package it as HLS, publish it atomically, report progress.

Storage layout (a contract the upload and delivery code rely on)::

    {asset.original_key}                          the upload, never modified or deleted here
    media/{asset_id}/v{version}/master.m3u8       master playlist (BANDWIDTH, RESOLUTION, CODECS)
    media/{asset_id}/v{version}/{h}p/index.m3u8   one media playlist per rendition
    media/{asset_id}/v{version}/{h}p/seg_00000.ts 6-second MPEG-TS segments
    media/{asset_id}/v{version}/poster.jpg        a frame at about 10% of the video
    media/{asset_id}/v{version}/manifest.json     every key of the version, so it can be deleted without listing
    keys/{asset_id}/v{version}/key.bin            AES-128 key when encrypted (outside media/, never presigned with it)

Each run is a new version (``attempts`` after incrementing it). The row only points at a version once all of
its objects are stored, in one transaction, and only if no later attempt has started meanwhile; so a worker
killed at any point leaves the row on the previous version, and running the job again is always safe.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, has_app_context
from rq import Queue, Worker, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from lms.config import Config
from lms.core.db import utcnow
from lms.core.jobs import MEDIA_QUEUE, enqueue, job_app
from lms.core.realtime import emit
from lms.core.storage import ObjectNotFound, ObjectStore, StorageError
from lms.courses.models import MediaAsset, MediaStatus
from lms.extensions import db
from media_worker.packaging import PackageResult, package
from media_worker.probe import MediaRejected, ProbeResult, probe_media

log = logging.getLogger(__name__)

JOB_ID_PREFIX = "media-"
_JOB_ID = re.compile(r"^media-(\d+)-")
WORK_DIR_PREFIX = "lms-media-"
PROGRESS_INTERVAL_S = 2.0
PACKAGING_PERCENT = 90  # ffmpeg's share of the bar; uploading fills the rest
TRANSFER_THREADS = 4
COPY_CHUNK = 1024 * 1024
SWEEP_LOCK = "lms:media:sweep"
SWEEP_LOCK_SECONDS = 60
PROGRESS_EVENT = "media_progress"
PROGRESS_NAMESPACE = "/media"

MESSAGE_MISSING_ORIGINAL = "找不到上传的原始文件，请重新上传。"
MESSAGE_SYSTEM_ERROR = "处理时发生系统错误，多次重试仍未成功，请联系平台管理员。"
MESSAGE_READING = "正在读取原始文件…"
MESSAGE_CHECKING = "正在检查视频…"
MESSAGE_PACKAGING = "正在转码…"
MESSAGE_UPLOADING = "正在保存…"
MESSAGE_READY = "处理完成，可以播放。"

CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".jpg": "image/jpeg",
                 ".json": "application/json"}


def media_prefix(asset_id: int, version: int) -> str:
    """Return the storage prefix of one published version, ending in a slash (``MediaAsset.hls_prefix``)."""
    return f"media/{asset_id}/v{version}/"


def key_storage_key(asset_id: int, version: int) -> str:
    """Return where the AES-128 key of an encrypted version is stored."""
    return f"keys/{asset_id}/v{version}/key.bin"


def manifest_storage_key(asset_id: int, version: int) -> str:
    """Return where the list of a version's objects is stored."""
    return media_prefix(asset_id, version) + "manifest.json"


def enqueue_processing(asset_id: int):
    """Queue the processing of an asset; call it after the asset's QUEUED status is committed."""
    return enqueue(process_media, asset_id, job_id=f"{JOB_ID_PREFIX}{asset_id}-{secrets.token_hex(6)}")


def process_media(asset_id: int) -> None:
    """Make and publish the HLS version of an asset's original, or mark the asset FAILED if it is not a video."""
    if has_app_context():
        _process_media(asset_id)
        return
    with job_app().app_context():
        _process_media(asset_id)


@dataclasses.dataclass(frozen=True)
class _Version:
    """A version made and stored, not yet published."""

    info: ProbeResult
    result: PackageResult
    original_size: int
    keys: tuple[str, ...]


def _process_media(asset_id: int) -> None:
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None:
        log.warning("media asset %s does not exist; nothing to do", asset_id)
        return
    if asset.status is MediaStatus.UPLOADING:
        log.warning("media asset %s is still uploading; nothing to do", asset_id)
        return
    if _made_obsolete(asset):
        log.info("media asset %s was published after this job was queued; nothing to do", asset_id)
        return
    base_id, original_key = asset.base_id, asset.original_key
    version = _begin_attempt(asset_id)
    log.info("media asset %s: making version %s from %s", asset_id, version, original_key)
    reporter = ProgressReporter(asset_id, version, base_id)
    reporter.report(0, MESSAGE_READING, force=True)
    store: ObjectStore = current_app.extensions["lms.storage"]
    config = current_app.extensions["lms.config"]
    try:
        with _work_dir(asset_id) as work:
            made = _make_version(store, config, asset_id, version, original_key, work, reporter)
    except MediaRejected as exc:
        log.info("media asset %s rejected: %s", asset_id, exc)
        reporter.finish(_mark_failed(asset_id, version, exc.message), exc.message)
        return
    except Exception:
        if _is_last_try():
            reporter.finish(_mark_failed(asset_id, version, MESSAGE_SYSTEM_ERROR), MESSAGE_SYSTEM_ERROR)
        raise
    if not _publish(asset_id, version, made):
        log.info("media asset %s: version %s was superseded by a later attempt; discarding it", asset_id, version)
        _delete_keys(store, made.keys)
        return
    log.info("media asset %s: published version %s (%s, %s)", asset_id, version, made.result.plan.mode,
             ", ".join(r.name for r in made.result.renditions))
    reporter.finish(MediaStatus.READY, MESSAGE_READY)
    for old_version in range(1, version):
        _delete_version(store, asset_id, old_version)


def _make_version(store: ObjectStore, config: Config, asset_id: int, version: int, original_key: str, work: Path,
                  reporter: ProgressReporter) -> _Version:
    original = work / "original"
    size = _download(store, original_key, original)
    reporter.report(0, MESSAGE_CHECKING, force=True)
    info = probe_media(original, config.media_max_seconds)
    out_dir = work / "out"
    out_dir.mkdir()
    reporter.report(1, MESSAGE_PACKAGING, force=True)
    result = package(original, out_dir, info, config.hls_ladder, encrypt=config.hls_encrypt,
                     on_progress=lambda f: reporter.report(1 + round(f * (PACKAGING_PERCENT - 1)), MESSAGE_PACKAGING))
    reporter.report(PACKAGING_PERCENT, MESSAGE_UPLOADING, force=True)
    keys = _upload_version(store, asset_id, version, out_dir, result, reporter)
    return _Version(info=info, result=result, original_size=size, keys=keys)


def _download(store: ObjectStore, key: str, path: Path) -> int:
    try:
        with store.open(key) as source, path.open("wb") as target:
            shutil.copyfileobj(source, target, COPY_CHUNK)
    except ObjectNotFound as exc:
        raise MediaRejected(MESSAGE_MISSING_ORIGINAL, key) from exc
    return path.stat().st_size


def _upload_version(store: ObjectStore, asset_id: int, version: int, out_dir: Path, result: PackageResult,
                    reporter: ProgressReporter) -> tuple[str, ...]:
    prefix = media_prefix(asset_id, version)
    files = list(result.files)
    keys = [prefix + name for name in files]
    if result.key is not None:
        keys.append(key_storage_key(asset_id, version))
    manifest = manifest_storage_key(asset_id, version)
    # The manifest goes first: whatever of this version reaches storage can later be found and deleted.
    _put_bytes(store, manifest, json.dumps({"asset_id": asset_id, "version": version, "keys": keys}).encode())
    if result.key is not None:
        _put_bytes(store, key_storage_key(asset_id, version), result.key)

    def upload(name: str) -> None:
        path = out_dir / name
        with path.open("rb") as stream:
            store.put(prefix + name, stream, length=path.stat().st_size, content_type=_content_type(name))

    share = 99 - PACKAGING_PERCENT
    _in_parallel(upload, files, lambda done: reporter.report(
        PACKAGING_PERCENT + done * share // len(files), MESSAGE_UPLOADING))
    return (*keys, manifest)


def _put_bytes(store: ObjectStore, key: str, data: bytes) -> None:
    store.put(key, io.BytesIO(data), length=len(data), content_type=_content_type(key))


def _content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def _in_parallel(action: Callable[[str], None], items: list[str], on_done: Callable[[int], None] | None = None) -> None:
    with concurrent.futures.ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="lms-media-io") as pool:
        futures = [pool.submit(action, item) for item in items]
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                future.result()
                if on_done is not None:
                    on_done(done)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _delete_keys(store: ObjectStore, keys: tuple[str, ...] | list[str]) -> None:
    try:
        _in_parallel(store.delete, list(keys))
    except StorageError as exc:
        log.warning("could not delete %d objects: %s", len(keys), exc)


def _delete_version(store: ObjectStore, asset_id: int, version: int) -> None:
    """Delete every object of an unpublished or superseded version; best effort."""
    manifest = manifest_storage_key(asset_id, version)
    try:
        with store.open(manifest) as stream:
            keys = json.load(stream)["keys"]
        _in_parallel(store.delete, keys)
        store.delete(manifest)
    except ObjectNotFound:
        return  # nothing of it was ever stored, or it is already gone
    except (StorageError, ValueError, KeyError) as exc:
        log.warning("media asset %s: could not delete version %s: %s", asset_id, version, exc)
        return
    log.info("media asset %s: deleted version %s (%d objects)", asset_id, version, len(keys))


@contextlib.contextmanager
def _work_dir(asset_id: int) -> Iterator[Path]:
    # The pid in the name lets a restarted worker remove what a killed one left behind.
    with tempfile.TemporaryDirectory(prefix=f"{WORK_DIR_PREFIX}{asset_id}-{os.getpid()}-") as name:
        yield Path(name)


def remove_stale_work_dirs(temp_dir: Path | None = None) -> list[Path]:
    """Delete the work folders of job processes on this host that no longer run; return them."""
    removed = []
    for path in Path(temp_dir or tempfile.gettempdir()).glob(f"{WORK_DIR_PREFIX}*"):
        parts = path.name[len(WORK_DIR_PREFIX):].split("-")
        if len(parts) >= 2 and parts[1].isdigit() and not _pid_alive(int(parts[1])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"  # a zombie has exited already; only its exit status is left to collect


# -- the row: every write after the first is conditional on this attempt still being the latest one


def _made_obsolete(asset: MediaAsset) -> bool:
    """Tell whether the asset was published after the current RQ job was created (a duplicate or stale retry)."""
    job = get_current_job()
    if job is None or job.created_at is None or asset.status is not MediaStatus.READY or asset.processed_at is None:
        return False
    return asset.processed_at.replace(tzinfo=dt.UTC) >= job.created_at


def _begin_attempt(asset_id: int) -> int:
    version = db.session.execute(
        sa.update(MediaAsset)
        .where(MediaAsset.id == asset_id)
        .values(attempts=MediaAsset.attempts + 1, status=MediaStatus.PROCESSING, progress_percent=0,
                error_message=None)
        .returning(MediaAsset.attempts),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    db.session.commit()
    return version


def _is_current(asset_id: int, version: int):
    return sa.and_(MediaAsset.id == asset_id, MediaAsset.attempts == version)


def _publish(asset_id: int, version: int, made: _Version) -> bool:
    info = made.info
    result = db.session.execute(
        sa.update(MediaAsset)
        .where(_is_current(asset_id, version))
        .values(status=MediaStatus.READY, hls_version=version,
                renditions=[r.as_json() for r in made.result.renditions], duration_s=info.duration_s,
                width=info.width, height=info.height, video_codec=info.video_codec, audio_codec=info.audio_codec,
                encrypted=made.result.key is not None, size_bytes=made.original_size, processed_at=utcnow(),
                progress_percent=100, error_message=None),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return result.rowcount == 1


def _mark_failed(asset_id: int, version: int, message: str) -> MediaStatus | None:
    """Record why this attempt failed; return the status written, or None if a later attempt owns the row."""
    nothing_published = MediaAsset.hls_version.is_(None)
    # A version published earlier stays playable: only an asset with nothing to show becomes FAILED.
    status = db.session.execute(
        sa.update(MediaAsset)
        .where(_is_current(asset_id, version))
        .values(status=sa.case((nothing_published, MediaStatus.FAILED.value), else_=MediaStatus.READY.value),
                progress_percent=sa.case((nothing_published, 0), else_=100), error_message=message)
        .returning(MediaAsset.status),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    db.session.commit()
    return status


def _is_last_try() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


class ProgressReporter:
    """Report one attempt's progress to the database and the base's page, at most every 2 seconds."""

    def __init__(self, asset_id: int, version: int, base_id: int, interval_s: float = PROGRESS_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic):
        self.asset_id = asset_id
        self.version = version
        self.base_id = base_id
        self._interval_s = interval_s
        self._clock = clock
        self._last_at: float | None = None
        self._last_percent: int | None = None

    def report(self, percent: int, message: str, force: bool = False) -> None:
        """Store and broadcast the percentage, unless the last report was under the interval ago (or force)."""
        now = self._clock()
        if not force and (percent == self._last_percent or
                          (self._last_at is not None and now - self._last_at < self._interval_s)):
            return
        self._last_at, self._last_percent = now, percent
        written = db.session.execute(
            sa.update(MediaAsset)
            .where(_is_current(self.asset_id, self.version), MediaAsset.status == MediaStatus.PROCESSING)
            .values(progress_percent=percent),
            execution_options={"synchronize_session": False},
        ).rowcount
        db.session.commit()
        if written == 1:  # an attempt overtaken by a later one no longer speaks for the asset
            self._emit(MediaStatus.PROCESSING, percent, message)

    def finish(self, status: MediaStatus | None, message: str) -> None:
        """Broadcast the outcome the row now shows (None: a later attempt owns the row, so say nothing)."""
        if status is not None:
            self._emit(status, 100 if status is MediaStatus.READY else 0, message)

    def _emit(self, status: MediaStatus, percent: int, message: str) -> None:
        data = {"asset_id": self.asset_id, "status": status.value, "percent": percent, "message": message}
        try:
            emit(PROGRESS_EVENT, data, namespace=PROGRESS_NAMESPACE, room=f"base:{self.base_id}")
        except Exception as exc:  # the page also polls the row; a lost broadcast must not fail the job
            log.warning("could not broadcast progress of media asset %s: %s", self.asset_id, exc)


# -- recovery: assets whose job died with its worker


def asset_id_of_job(job_id: str) -> int | None:
    """Return the asset id a media job id was made for, or None for another kind of job."""
    match = _JOB_ID.match(job_id)
    return int(match.group(1)) if match else None


def live_job_asset_ids(connection) -> set[int]:
    """Return the ids of assets that have a media job waiting, scheduled for a retry, or running on a live worker."""
    queue = Queue(MEDIA_QUEUE, connection=connection)
    waiting = set(queue.get_job_ids())
    waiting |= set(queue.scheduled_job_registry.get_job_ids(cleanup=False))
    waiting |= set(queue.deferred_job_registry.get_job_ids(cleanup=False))
    waiting |= set(queue.intermediate_queue.get_job_ids())
    running = {j for j in queue.started_job_registry.get_job_ids(cleanup=False) if _job_alive(connection, j)}
    return {asset_id for job_id in waiting | running if (asset_id := asset_id_of_job(job_id)) is not None}


def _job_alive(connection, job_id: str) -> bool:
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    if not job.worker_name:
        return True  # being handed to a worker right now
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=connection)
    if worker is None:
        return False  # its heartbeat expired
    if worker.hostname == socket.gethostname():
        # The same pid as ours is an earlier incarnation of this worker (a container restarts as pid 1).
        return worker.pid != os.getpid() and _pid_alive(worker.pid)
    return True


def sweep_stuck_assets() -> list[int]:
    """Re-enqueue every asset left QUEUED or PROCESSING without a live job; return their ids.

    With Redis, a job is live while it waits in the queue or runs on a worker that is still alive. Without
    Redis (embedded mode) jobs run on a thread of this process, so call it only at start-up, before any job.
    """
    config = current_app.extensions["lms.config"]
    if not config.redis_url:
        return _enqueue_orphans(set)
    connection = current_app.extensions["lms.redis.queue"]
    lock = connection.lock(SWEEP_LOCK, timeout=SWEEP_LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return []  # another worker is sweeping right now
    try:
        return _enqueue_orphans(lambda: live_job_asset_ids(connection))
    finally:
        with contextlib.suppress(Exception):
            lock.release()


def _enqueue_orphans(live: Callable[[], set[int]]) -> list[int]:
    # The live set is read before the rows, so a job finishing in between is not taken for an orphan,
    # and read again after, so a job enqueued in between is not duplicated.
    live_before = live()
    stuck = db.session.scalars(
        sa.select(MediaAsset.id)
        .where(MediaAsset.status.in_((MediaStatus.QUEUED, MediaStatus.PROCESSING)))
        .order_by(MediaAsset.id)
    ).all()
    db.session.rollback()
    orphans = [asset_id for asset_id in stuck if asset_id not in live_before]
    if orphans:
        live_after = live()
        orphans = [asset_id for asset_id in orphans if asset_id not in live_after]
    for asset_id in orphans:
        log.warning("media asset %s was left without a live job; queuing it again", asset_id)
        enqueue_processing(asset_id)
    return orphans
