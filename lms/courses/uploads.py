"""Resumable multipart uploads of courseware videos: who may upload what, and how the parts become one file.

The bytes never pass through memory whole: with S3 the browser PUTs each part straight to the storage
server through a presigned URL; with the local folder each part is streamed to disk by ``receive_part``.
A base can leave and come back: ``upload_status`` lists the parts already stored, so only the missing ones
are sent again. Services only flush; the caller commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from lms.accounts.models import User
from lms.config import Config
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound, ServiceError
from lms.core.storage import (
    InvalidParts,
    ObjectNotFound,
    ObjectStore,
    PartInfo,
    StorageError,
    StorageUnavailable,
    UploadNotFound,
    part_size_for,
)
from lms.courses.models import Course, CourseState, Courseware, MediaAsset, MediaStatus
from lms.courses.service import managed_base
from lms.extensions import db
from lms.orgs.models import Org

log = logging.getLogger(__name__)

# What a base may upload; ffprobe in the media job is the real check of the content.
VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".flv": "video/x-flv",
    ".ts": "video/mp2t",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".wmv": "video/x-ms-wmv",
}
# Browsers send what the operating system maps the extension to: often nothing or a generic type,
# and on Linux desktops a Qt translation file for .ts and an application/ type for Matroska.
_UNSPECIFIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_KNOWN_MISLABELS = {
    ".ts": frozenset({"text/vnd.trolltech.linguist"}),
    ".mkv": frozenset({"application/x-matroska"}),
    ".flv": frozenset({"application/x-flash-video"}),
}
ALLOWED_EXTENSIONS_TEXT = "、".join(ext[1:] for ext in VIDEO_TYPES)
MAX_FILENAME_CHARS = 255
MAX_SAFE_STEM_BYTES = 100
# Videos change only while a course is a draft: on a published course a new video would be switched in
# before it is transcoded and before its length is checked against the labelled hours (第四条).
UPLOADABLE_COURSE_STATES = (CourseState.DRAFT,)
_MAX_DB_ID = 2**31 - 1
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\-]+")


class StorageBusy(ServiceError):
    status = 503
    code = "storage_unavailable"


class LengthRequired(ServiceError):
    status = 411
    code = "length_required"


class UploadExpired(Conflict):
    """The storage no longer knows the upload: completed by an earlier attempt, aborted, or cleaned up."""


# -- starting an upload -----------------------------------------------------------------------------


def start_upload(actor: User, courseware_id: int, filename: str, size: int, content_type: str) -> MediaAsset:
    """Open a multipart upload of a video for a courseware of the actor's base and return its media asset."""
    _require_base_admin(actor)
    courseware = _uploadable_courseware(actor, courseware_id)
    display_name, safe_name, extension = _clean_filename(filename)
    stored_type = _video_content_type(extension, content_type)
    _check_size(size)
    asset = MediaAsset(
        base_id=_require_base_admin(actor).id,
        uploaded_by_id=actor.id,
        original_key="",
        original_filename=display_name,
        size_bytes=size,
        content_type=stored_type,
        part_size=part_size_for(size),
        status=MediaStatus.UPLOADING,
        courseware_id=courseware.id,
    )
    db.session.add(asset)
    db.session.flush()
    asset.original_key = f"media/{asset.id}/original/{safe_name}"
    store = _store()
    with _storage_errors():
        asset.upload_id = store.create_multipart(asset.original_key, stored_type)
    try:
        db.session.flush()
    except BaseException:
        _abandon(store, asset)
        raise
    return asset


def part_count(asset: MediaAsset) -> int:
    """Return how many parts the asset's upload is cut into."""
    return max(1, -(-asset.size_bytes // _part_size(asset)))


def part_length(asset: MediaAsset, part_number: int) -> int:
    """Return the exact length of one part: the part size, or what is left for the last part."""
    if part_number < part_count(asset):
        return _part_size(asset)
    return asset.size_bytes - (part_count(asset) - 1) * _part_size(asset)


def _part_size(asset: MediaAsset) -> int:
    # Media stored by other means (the demo data, say) has no part size: it counts as one part.
    return asset.part_size or max(asset.size_bytes, 1)


def max_part_length(config: Config) -> int:
    """Return the largest part any upload accepted under this configuration can have."""
    return part_size_for(config.upload_max_bytes)


# -- sending parts ----------------------------------------------------------------------------------


def part_target(actor: User, asset_id: int, part_number: int) -> dict:
    """Return where to PUT one part: a presigned storage URL, or None for the application's own part route."""
    asset = _open_upload(actor, asset_id)
    _check_part_number(asset, part_number)
    seconds = _config().presign_seconds
    with _storage_errors():
        url = _store().presign_upload_part(
            asset.original_key, asset.upload_id, part_number, dt.timedelta(seconds=seconds)
        )
    return {"url": url, "method": "PUT", "part_number": part_number, "size": part_length(asset, part_number),
            "expires_in": seconds}


def receive_part(actor: User, asset_id: int, part_number: int, stream: BinaryIO, length: int | None) -> PartInfo:
    """Stream one part sent to the application (local-folder storage) into storage."""
    asset = _open_upload(actor, asset_id)
    store = _store()
    if store.direct_part_uploads:
        raise Conflict("视频分片应直接上传到对象存储：请先获取该分片的预签名地址（GET …/parts/<序号>），"
                       "再向该地址 PUT。")
    _check_part_number(asset, part_number)
    expected = part_length(asset, part_number)
    if length is None:
        raise LengthRequired("请求缺少 Content-Length：每个分片都要声明其字节数。")
    if length != expected:
        raise InvalidInput({"part": f"第 {part_number} 个分片应为 {expected} 字节，本次请求为 {length} 字节。"})
    key, upload_id = asset.original_key, asset.upload_id
    # Nothing was written: end the read-only transaction so that a slow client does not keep a pooled
    # database connection while its part streams in.
    db.session.rollback()
    with _storage_errors():
        return store.put_part(key, upload_id, part_number, stream, length)


def upload_status(actor: User, asset_id: int) -> dict:
    """Return the upload's progress: which parts are stored with the right length, and how many bytes that is."""
    asset = _owned_asset(actor, asset_id)
    count = part_count(asset)
    if asset.status != MediaStatus.UPLOADING:
        received = dict.fromkeys(range(1, count + 1))
    else:
        received = _received_parts(_store(), asset)
    return {
        "asset_id": asset.id,
        "status": asset.status.value,
        "status_label": asset.status.label,
        "filename": asset.original_filename,
        "size": asset.size_bytes,
        "part_size": _part_size(asset),
        "part_count": count,
        "parts": sorted(received),
        "received_bytes": sum(part_length(asset, number) for number in received),
    }


# -- finishing ----------------------------------------------------------------------------------------


def complete_upload(actor: User, asset_id: int) -> MediaAsset:
    """Join the parts into the original, link it to its courseware and queue it for processing after commit."""
    asset = _owned_asset(actor, asset_id, for_update=True)
    if asset.status != MediaStatus.UPLOADING:
        raise Conflict("该视频已上传完成，不能重复提交。")
    store = _store()
    courseware = _upload_courseware(asset)
    try:
        received = _received_parts(store, asset)
    except UploadExpired:
        received = None
    if received is None:
        _adopt_completed_original(store, asset)
    else:
        _check_all_received(asset, received)
        with _storage_errors():
            store.complete_multipart(asset.original_key, asset.upload_id, [received[n] for n in sorted(received)])
    asset.status = MediaStatus.QUEUED
    asset.upload_id = None
    courseware.media_id = asset.id
    db.session.flush()
    _after_commit(lambda: _hand_over(store, asset.id))
    return asset


def abort_upload(actor: User, asset_id: int) -> None:
    """Cancel an unfinished upload: its parts are discarded and the media asset removed."""
    asset = _owned_asset(actor, asset_id, for_update=True)
    if asset.status != MediaStatus.UPLOADING:
        raise Conflict("该视频已上传完成，不能取消上传。")
    store = _store()
    with _storage_errors():
        store.abort_multipart(asset.original_key, asset.upload_id)
    db.session.delete(asset)
    db.session.flush()


# -- rules --------------------------------------------------------------------------------------------


def _require_base_admin(actor: User) -> Org:
    return managed_base(actor, "只有已通过审核的继续教育基地管理员可以上传课件视频。")


def _uploadable_courseware(actor: User, courseware_id: int) -> Courseware:
    courseware = db.session.get(Courseware, courseware_id) if _is_db_id(courseware_id) else None
    if courseware is None:
        raise NotFound("课件不存在。")
    _check_course_accepts_uploads(_require_base_admin(actor).id, courseware.course)
    return courseware


def _check_course_accepts_uploads(base_id: int, course: Course) -> None:
    if course.base_id != base_id:
        raise NotAllowed("只能为本基地的课程上传视频。")
    if course.state not in UPLOADABLE_COURSE_STATES:
        raise Conflict(f"课程“{course.title}”{course.state.label}，只有草稿状态的课程可以上传视频。")


def _owned_asset(actor: User, asset_id: int, for_update: bool = False) -> MediaAsset:
    _require_base_admin(actor)
    asset = None
    if _is_db_id(asset_id):
        query = sa.select(MediaAsset).where(MediaAsset.id == asset_id)
        # Completing and aborting change storage first; the row lock keeps two of them from overlapping.
        asset = db.session.scalars(query.with_for_update() if for_update else query).first()
    if asset is None:
        raise NotFound("上传任务不存在或已取消。")
    if asset.base_id != _require_base_admin(actor).id:
        raise NotAllowed("只能查看和操作本基地的上传任务。")
    return asset


def _open_upload(actor: User, asset_id: int) -> MediaAsset:
    asset = _owned_asset(actor, asset_id)
    if asset.status != MediaStatus.UPLOADING:
        raise Conflict("该视频已上传完成，不能再上传分片。")
    return asset


def _check_part_number(asset: MediaAsset, part_number: int) -> None:
    count = part_count(asset)
    if not 1 <= part_number <= count:
        raise InvalidInput({"part": f"分片序号应在 1 到 {count} 之间，收到 {part_number}。"})


def _check_size(size: int) -> None:
    limit = _config().upload_max_bytes
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= limit:
        raise InvalidInput({"size": f"文件大小应在 1 字节到 {_human_size(limit)} 之间，收到 {size!r}。"})


def _clean_filename(filename: str) -> tuple[str, str, str]:
    """Return the name to show, the name to use in storage keys, and the lower-case extension."""
    name = unicodedata.normalize("NFC", filename or "")
    # Browsers on Windows used to send the whole path; only the last segment is the file's name.
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip()
    if not name:
        raise InvalidInput({"filename": "请选择要上传的视频文件。"})
    if len(name) > MAX_FILENAME_CHARS:
        raise InvalidInput({"filename": f"文件名过长：最多 {MAX_FILENAME_CHARS} 个字符。"})
    extension = PurePosixPath(name).suffix.lower()
    if extension not in VIDEO_TYPES:
        raise InvalidInput({"filename": f"只能上传视频文件（{ALLOWED_EXTENSIONS_TEXT}），“{name}”不是。"})
    stem = _UNSAFE_NAME_CHARS.sub("_", name[: -len(extension)]).strip("._-") or "video"
    stem = stem.encode("utf-8")[:MAX_SAFE_STEM_BYTES].decode("utf-8", "ignore")
    return name, f"{stem}{extension}", extension


def _video_content_type(extension: str, declared: str) -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    if declared in _UNSPECIFIC_TYPES or declared.startswith("video/") or declared in _KNOWN_MISLABELS.get(
        extension, ()
    ):
        return VIDEO_TYPES[extension]
    raise InvalidInput({"content_type": f"文件类型“{declared}”不是视频："
                                        f"只能上传 {ALLOWED_EXTENSIONS_TEXT} 格式的视频。"})


def _received_parts(store: ObjectStore, asset: MediaAsset) -> dict[int, PartInfo]:
    """Return, by number, the stored parts that have exactly the length they must have."""
    with _storage_errors():
        listed = store.list_parts(asset.original_key, asset.upload_id)
    received = {}
    for part in listed:
        if 1 <= part.number <= part_count(asset) and part.size == part_length(asset, part.number):
            received.setdefault(part.number, part)
    return received


def _check_all_received(asset: MediaAsset, received: dict[int, PartInfo]) -> None:
    missing = [n for n in range(1, part_count(asset) + 1) if n not in received]
    if missing:
        shown = "、".join(str(n) for n in missing[:20]) + ("……" if len(missing) > 20 else "")
        raise Conflict(f"还有 {len(missing)} 个分片没有上传或长度不对（第 {shown} 个），请补传这些分片后再完成上传。",
                       {"missing_parts": ",".join(str(n) for n in missing)})
    total = sum(part.size for part in received.values())
    if total != asset.size_bytes:
        raise Conflict(f"已上传 {total} 字节，与声明的文件大小 {asset.size_bytes} 字节不符，请重新上传。")


def _adopt_completed_original(store: ObjectStore, asset: MediaAsset) -> None:
    """Accept an original that an earlier completion put in storage before its transaction was lost."""
    with _storage_errors():
        try:
            size = store.size(asset.original_key)
        except ObjectNotFound:
            size = None
    if size != asset.size_bytes:
        raise UploadExpired("这次上传已失效（存储中的分片已被清理），请重新选择文件上传。")


def _upload_courseware(asset: MediaAsset) -> Courseware:
    courseware = db.session.get(Courseware, asset.courseware_id) if asset.courseware_id else None
    if courseware is None:
        raise Conflict("这次上传对应的课件已不存在，请取消上传。")
    _check_course_accepts_uploads(asset.base_id, courseware.course)
    return courseware


# -- after the transaction ----------------------------------------------------------------------------


def _hand_over(store: ObjectStore, asset_id: int) -> None:
    """Queue the media job, then drop the courseware link; both only once the row says QUEUED for everyone."""
    try:
        _enqueue_processing(asset_id)
    except Exception:
        # The upload itself succeeded and is committed; a stuck QUEUED asset can be queued again.
        log.exception("media asset %s uploaded but could not be queued for processing", asset_id)


def _enqueue_processing(asset_id: int) -> None:
    from media_worker.jobs import enqueue_processing  # the worker package imports the app, never the reverse

    enqueue_processing(asset_id)


def _after_commit(callback: Callable[[], None]) -> None:
    """Run callback once the current transaction commits; never, if it rolls back first."""
    session = db.session()
    rolled_back = False

    def on_commit(_session) -> None:
        if not rolled_back:
            callback()

    def on_rollback(_session) -> None:
        nonlocal rolled_back
        rolled_back = True

    # Listeners cannot be removed while the session runs them; ``once`` and the flag do that job.
    sa.event.listen(session, "after_commit", on_commit, once=True)
    sa.event.listen(session, "after_rollback", on_rollback, once=True)


# -- helpers ------------------------------------------------------------------------------------------


def _abandon(store: ObjectStore, asset: MediaAsset) -> None:
    with contextlib.suppress(StorageError):
        store.abort_multipart(asset.original_key, asset.upload_id)


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except StorageUnavailable as exc:
        log.warning("object storage unavailable: %s", exc)
        raise StorageBusy("视频存储暂时不可用，请稍后重试（已上传的分片不会丢失）。") from exc
    except InvalidParts as exc:
        raise Conflict(f"分片无法合并：{exc}") from exc
    except UploadNotFound as exc:
        raise UploadExpired("这次上传已失效（存储中的分片已被清理），请重新选择文件上传。") from exc
    except ObjectNotFound:
        raise
    except StorageError as exc:
        log.error("object storage error: %s", exc)
        raise StorageBusy("视频存储出错，请稍后重试。") from exc


def _store() -> ObjectStore:
    return current_app.extensions["lms.storage"]


def _config() -> Config:
    return current_app.extensions["lms.config"]


def _is_db_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_DB_ID


def _human_size(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} 字节"
