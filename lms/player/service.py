"""Who may play a courseware, what the player page shows, and the HLS playlists handed to them.

The stored playlists are never served as they are. The master playlist's rendition lines become the app's
per-rendition URLs, and each media playlist's segment lines become short-lived presigned URLs of the object
store, so the video bytes travel from object storage straight to the browser and never through Python.
The AES-128 key line points at the app's key URL, which checks who is asking on every request.

With the embedded local-folder store, "presigned" URLs point at the app's own signed ``/storage`` route: one
process on one machine serves the bytes too. That is the embedded mode's trade-off; with an S3 server
(MinIO in production) the URLs are the server's own and Python never touches a segment.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

import redis
import sqlalchemy as sa
from flask import current_app

from lms.accounts.models import Role, User
from lms.core.errors import NotFound, ServiceError
from lms.core.storage import ObjectNotFound, ObjectStore, StorageError, validate_key
from lms.courses.models import CourseState, Courseware, MediaAsset, MediaStatus
from lms.courses.service import is_base_admin_of, is_enrolled
from lms.extensions import db
from lms.player import edge
from lms.tracking.models import CoursewareProgress
from lms.tracking.service import format_duration, has_active_playback, media_facts, tracking_settings
from lms.tracking.service import pending_note as tracking_pending_note

log = logging.getLogger(__name__)

PLAYLIST_MIMETYPE = "application/vnd.apple.mpegurl"
MAX_PLAYLIST_BYTES = 4 * 1024 * 1024
MAX_KEY_BYTES = 64
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_METHOD_ATTRIBUTE = re.compile(r"METHOD=([A-Z0-9-]+)")


class MediaUnavailable(ServiceError):
    status = 503
    code = "media_unavailable"


class BrokenPlaylist(ServiceError):
    status = 502
    code = "broken_playlist"


# ------------------------------------------------------------------------------------------------ who may play


def may_view(user: User | None, courseware: Courseware) -> bool:
    """Tell whether the user may play the courseware: an enrolled learner, or its base's admin (preview)."""
    if user is None or not user.is_authenticated or not user.is_approved:
        return False
    course = courseware.course
    if is_base_admin_of(user, course.base_id):
        return True
    if user.role == Role.LEARNER:
        # Withdrawn courses stay playable for those already enrolled; drafts are for the base only.
        return course.state != CourseState.DRAFT and is_enrolled(user, course)
    return False


def is_tracked(user: User) -> bool:
    """Tell whether the user's playing is tracked: a learner's is; the base's preview earns and costs nothing."""
    return user.role == Role.LEARNER


def may_fetch_key(user: User | None, courseware: Courseware) -> bool:
    """Tell whether the user may fetch the courseware's AES-128 key right now.

    A learner gets it only while their one active playback (SPEC §4 "with an active playback session") is of this
    courseware, so the key never decrypts video that no heartbeat is watching; the player page opens the playback
    before its first key request. The base's admin previewing its own course needs no playback.
    """
    if not may_view(user, courseware):
        return False
    if not is_tracked(user):
        return True
    try:
        return has_active_playback(user.id, courseware.id)
    except redis.RedisError as exc:
        log.warning("tracking store unavailable while checking a key request: %s", exc)
        raise MediaUnavailable("计时服务暂时不可用，请稍后再试。") from exc


def get_courseware(courseware_id: int) -> Courseware:
    """Load a courseware or raise NotFound."""
    courseware = db.session.get(Courseware, courseware_id)
    if courseware is None:
        raise NotFound("课件不存在。")
    return courseware


def playable_asset(courseware: Courseware) -> MediaAsset:
    """Return the courseware's published HLS media, or raise NotFound while it is not ready."""
    asset = courseware.media
    if asset is None or asset.status != MediaStatus.READY or asset.hls_version is None or not asset.renditions:
        raise NotFound("该课件的视频尚未就绪。")
    return asset


# ------------------------------------------------------------------------------------------------ the page


@dataclass(frozen=True)
class WatchSummary:
    """A learner's verified progress on a courseware as last written to the database (the page's first view)."""

    watch_s: float
    required_watch_s: float
    coverage_s: int
    required_coverage_s: int
    held_s: float
    completed: bool


def say_duration(seconds: float) -> str:
    """Say a number of seconds as the player does ("0 秒", "12 分 30 秒"); player.js words it the same way."""
    return format_duration(seconds * 1000) if seconds > 0 else "0 秒"


def pending_note() -> str:
    """Say, beside the pending figure, when pending time and coverage are confirmed (the current settings)."""
    return tracking_pending_note(tracking_settings())


def watch_summary(user: User, courseware: Courseware) -> WatchSummary:
    """Return the learner's verified watch time, coverage and completion of the courseware (zero before playing)."""
    facts = media_facts(courseware, tracking_settings())
    progress = db.session.scalar(sa.select(CoursewareProgress).where(
        CoursewareProgress.user_id == user.id, CoursewareProgress.courseware_id == courseware.id))
    if progress is None:
        return WatchSummary(watch_s=0.0, required_watch_s=facts.required_watch_ms / 1000, coverage_s=0,
                            required_coverage_s=facts.required_coverage_s, held_s=0.0, completed=False)
    return WatchSummary(watch_s=progress.verified_watch_seconds, required_watch_s=facts.required_watch_ms / 1000,
                        coverage_s=progress.coverage_seconds, required_coverage_s=facts.required_coverage_s,
                        held_s=progress.held_seconds, completed=progress.completed)


# ------------------------------------------------------------------------------------------------ playlists


def _store() -> ObjectStore:
    return current_app.extensions["lms.storage"]


def _presign_lifetime() -> dt.timedelta:
    return dt.timedelta(seconds=current_app.extensions["lms.config"].presign_seconds)


def _read_text(key: str, limit: int = MAX_PLAYLIST_BYTES) -> str:
    try:
        with _store().open(key) as stream:
            data = stream.read(limit + 1)
    except ObjectNotFound as exc:
        log.error("published HLS object missing: %s", key)
        raise NotFound("视频文件缺失，请联系课程所属基地重新上传。") from exc
    except StorageError as exc:
        log.warning("object storage failed reading %s: %s", key, exc)
        raise MediaUnavailable("视频存储暂时不可用，请稍后再试。") from exc
    if len(data) > limit:
        raise BrokenPlaylist("视频播放列表异常，请联系课程所属基地。")
    return data.decode("utf-8-sig")


def rendition_names(asset: MediaAsset) -> list[str]:
    """Return the names of the asset's renditions (e.g. 360p, 720p), the only ones that may be requested."""
    return [r["name"] for r in asset.renditions or [] if isinstance(r, dict) and r.get("name")]


def _rendition_playlists(asset: MediaAsset) -> dict[str, str]:
    """Map each rendition name to its playlist path relative to the version folder."""
    return {r["name"]: posixpath.normpath(r.get("playlist") or f"{r['name']}/index.m3u8")
            for r in asset.renditions or [] if isinstance(r, dict) and r.get("name")}


def master_playlist(asset: MediaAsset, rendition_url: Callable[[str], str]) -> str:
    """Return the stored master playlist with each rendition line replaced by ``rendition_url(name)``."""
    by_path = {path: name for name, path in _rendition_playlists(asset).items()}
    lines: list[str] = []

    def app_url(uri: str) -> str | None:
        name = by_path.get(posixpath.normpath(uri)) if "://" not in uri and not uri.startswith("/") else None
        return rendition_url(name) if name else None

    for line in _read_text(f"{asset.hls_prefix}master.m3u8").splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("#"):
            url = app_url(line)
            if url is None:
                # A variant not in asset.renditions is never offered; drop it with its #EXT-X-STREAM-INF.
                if lines and lines[-1].startswith("#EXT-X-STREAM-INF"):
                    lines.pop()
                continue
            lines.append(url)
        elif (match := _URI_ATTRIBUTE.search(line)) is not None:
            url = app_url(match.group(1))
            if url is not None:
                lines.append(line[:match.start(1)] + url + line[match.end(1):])
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _segment_url_maker(viewer_id: int) -> Callable[[str], str]:
    """Return how a segment's storage key becomes its URL under the configured delivery (LMS_MEDIA_DELIVERY)."""
    config = current_app.extensions["lms.config"]
    if config.media_delivery == "edge":
        return lambda key: edge.edge_url(config.media_edge_url, key, viewer_id, config.presign_seconds,
                                         config.media_edge_secret)
    store, lifetime = _store(), _presign_lifetime()
    return lambda key: store.presign_get(key, lifetime)


def media_playlist(asset: MediaAsset, rendition: str, key_url: str, viewer_id: int) -> str:
    """Return a rendition's playlist with short-lived segment URLs and the key line pointing at ``key_url``."""
    playlist_path = _rendition_playlists(asset).get(rendition)
    if playlist_path is None:
        raise NotFound("没有这个清晰度。")
    playlist_key = asset.hls_prefix + playlist_path
    folder = posixpath.dirname(playlist_key)
    segment_url = _segment_url_maker(viewer_id)

    def signed(uri: str) -> str:
        if "://" in uri or uri.startswith("/") or "?" in uri or "#" in uri:
            raise BrokenPlaylist("视频播放列表异常，请联系课程所属基地。")
        key = posixpath.normpath(posixpath.join(folder, uri))
        # Segments must lie inside this asset's published version; nothing else is ever signed.
        if not key.startswith(asset.hls_prefix):
            raise BrokenPlaylist("视频播放列表异常，请联系课程所属基地。")
        try:
            return segment_url(validate_key(key))
        except ValueError as exc:
            raise BrokenPlaylist("视频播放列表异常，请联系课程所属基地。") from exc
        except StorageError as exc:
            raise MediaUnavailable("视频存储暂时不可用，请稍后再试。") from exc

    lines: list[str] = []
    for line in _read_text(playlist_key).splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("#"):
            lines.append(signed(line))
        elif line.startswith("#EXT-X-KEY") or line.startswith("#EXT-X-SESSION-KEY"):
            method = _METHOD_ATTRIBUTE.search(line)
            if method is not None and method.group(1) == "NONE":
                lines.append(line)
            else:
                lines.append(_URI_ATTRIBUTE.sub(f'URI="{key_url}"', line))
        elif line.startswith("#EXT-X-MAP") and (match := _URI_ATTRIBUTE.search(line)):
            lines.append(line[:match.start(1)] + signed(match.group(1)) + line[match.end(1):])
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def key_object(asset: MediaAsset) -> str:
    """Return the storage key of the asset's AES-128 key (kept apart from the media, so never presigned)."""
    return f"keys/{asset.id}/v{asset.hls_version}/key.bin"


def key_bytes(asset: MediaAsset) -> bytes:
    """Return the asset's AES-128 key, or raise NotFound when its segments are not encrypted."""
    if not asset.encrypted:
        raise NotFound("该视频未加密，没有密钥。")
    try:
        with _store().open(key_object(asset)) as stream:
            return stream.read(MAX_KEY_BYTES)
    except ObjectNotFound as exc:
        log.error("AES key missing for media asset %s", asset.id)
        raise NotFound("视频密钥缺失，请联系课程所属基地。") from exc
    except StorageError as exc:
        raise MediaUnavailable("视频存储暂时不可用，请稍后再试。") from exc


def poster_url(asset: MediaAsset) -> str:
    """Return a presigned URL of the asset's poster image."""
    try:
        return _store().presign_get(f"{asset.hls_prefix}poster.jpg", _presign_lifetime())
    except StorageError as exc:
        raise MediaUnavailable("视频存储暂时不可用，请稍后再试。") from exc
