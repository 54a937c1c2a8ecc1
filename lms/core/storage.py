"""Object storage behind one small interface: an S3 server in production, a local folder when embedded.

Both backends stream: uploads and downloads never hold a whole object in memory, and browsers
download through short-lived presigned URLs rather than through application code.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import hmac
import io
import json
import math
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.error import InvalidResponseError, S3Error, ServerError

from lms.config import Config, S3Settings

MAX_KEY_BYTES = 512
# Both backends must accept the same keys, and most filesystems cap a path segment at 255 bytes.
MAX_SEGMENT_BYTES = 255
COPY_CHUNK_SIZE = 1024 * 1024
READ_BUFFER_SIZE = 64 * 1024
MULTIPART_PART_SIZE = 8 * 1024 * 1024
# Together with the part size this bounds one upload's memory to about three parts.
PARALLEL_PART_UPLOADS = 2

# Multipart uploads driven by a client, part by part (S3's rules, which the local folder enforces too).
MIB = 1024 * 1024
UPLOAD_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB  # every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
LIST_PARTS_PAGE_SIZE = 1000
# put_part signs a URL and sends the part at once; the server checks the signature when the request starts.
PUT_PART_URL_TTL = datetime.timedelta(minutes=15)

_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})
_INVALID_PART_CODES = frozenset({"EntityTooSmall", "InvalidPart", "InvalidPartOrder"})
_CREDENTIAL_ERROR_CODES = frozenset({
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthorizationHeaderMalformed",
    "InvalidToken",
    "ExpiredToken",
})


class StorageError(Exception):
    """An object-storage operation failed; the message says why."""


class ObjectNotFound(StorageError):
    """No object is stored under the requested key."""


class StorageUnavailable(StorageError):
    """The storage backend cannot be reached or refuses the configured credentials."""


class UploadNotFound(StorageError):
    """No multipart upload with this id is open for the key: never started, already completed or aborted."""


class InvalidParts(StorageError):
    """The uploaded parts cannot be joined: none at all, or one but the last is smaller than MIN_PART_SIZE."""


@dataclass(frozen=True)
class PartInfo:
    """One stored part of a multipart upload; ``etag`` is opaque and changes when the part is replaced."""

    number: int
    size: int
    etag: str


def part_size_for(total_size: int) -> int:
    """Return the part size for an upload of total_size bytes: 16 MiB, or larger so it fits in 10,000 parts."""
    if total_size < 0:
        raise ValueError(f"上传大小不能为负数：{total_size}")
    needed = -(-total_size // MAX_PARTS)
    size = max(UPLOAD_PART_SIZE, -(-needed // MIB) * MIB)
    if size > MAX_PART_SIZE:
        raise ValueError(f"文件过大：{total_size} 字节超过分片上传的上限 {MAX_PARTS} × 5 GiB。")
    return size


def validate_part_number(part_number: int) -> int:
    """Return the part number unchanged, or raise ValueError unless it is between 1 and 10,000."""
    if isinstance(part_number, bool) or not isinstance(part_number, int) or not 1 <= part_number <= MAX_PARTS:
        raise ValueError(f"分片序号应为 1 到 {MAX_PARTS} 之间的整数：{part_number!r}")
    return part_number


def _validate_upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not upload_id or len(upload_id) > 1024:
        raise ValueError(f"分片上传编号无效：{upload_id!r}")
    return upload_id


def validate_key(key: str) -> str:
    """Return the key unchanged, or raise ValueError if it could escape its folder or differ between backends."""
    if not isinstance(key, str) or not key:
        raise ValueError("对象键不能为空。")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"对象键包含无法编码的字符：{key!r}") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise ValueError(f"对象键过长：{len(encoded)} 字节，最多 {MAX_KEY_BYTES} 字节。")
    if key.startswith("/"):
        raise ValueError(f"对象键不能以 / 开头：{key!r}")
    if "\\" in key:
        raise ValueError(f"对象键不能包含反斜杠：{key!r}")
    if any(ord(char) < 32 or ord(char) == 127 for char in key):
        raise ValueError(f"对象键不能包含控制字符：{key!r}")
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ValueError(f"对象键不能包含空段、“.” 或 “..”：{key!r}")
    if any(len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES for segment in segments):
        raise ValueError(f"对象键中每一段最多 {MAX_SEGMENT_BYTES} 字节：{key!r}")
    return key


class _LengthCheckedStream:
    """Hand out exactly ``length`` bytes of a stream and fail loudly if it ends early."""

    def __init__(self, stream: BinaryIO, length: int):
        if length < 0:
            raise ValueError(f"上传长度不能为负数：{length}")
        self._stream = stream
        self._length = length
        self._remaining = length

    def read(self, size: int | None = -1) -> bytes:
        if self._remaining == 0:
            return b""
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data = self._stream.read(wanted)
        if not data:
            received = self._length - self._remaining
            raise StorageError(f"上传数据不完整：声明 {self._length} 字节，只收到 {received} 字节。")
        self._remaining -= len(data)
        return data


class ObjectStore(ABC):
    """Where uploaded files and media live, addressed by slash-separated keys."""

    @abstractmethod
    def put(
        self,
        key: str,
        stream: BinaryIO,
        length: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Store the stream's bytes under key, replacing any object there; with a length, store exactly that many."""

    @abstractmethod
    def open(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """Open the object for reading: ``with store.open(key) as f: f.read(n)``."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Tell whether an object is stored under key."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Return the object's size in bytes."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""

    @abstractmethod
    def presign_get(self, key: str, expires: datetime.timedelta) -> str:
        """Return a URL from which a browser downloads the object until ``expires`` has passed."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageUnavailable unless the backend can be used right now."""

    def close(self) -> None:  # noqa: B027 - only stores holding connections need to override it
        """Release network connections; the store must not be used afterwards."""

    # -- multipart uploads: a client sends a large object part by part, in any order, resuming at will --

    #: True when clients PUT parts straight to the storage server through ``presign_upload_part``'s URLs.
    direct_part_uploads: bool = False

    @abstractmethod
    def create_multipart(self, key: str, content_type: str = "application/octet-stream") -> str:
        """Open a multipart upload for key and return its upload id."""

    @abstractmethod
    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, expires: datetime.timedelta
    ) -> str | None:
        """Return a URL to PUT one part's bytes to, or None when the part must go through ``put_part``."""

    @abstractmethod
    def put_part(self, key: str, upload_id: str, part_number: int, stream: BinaryIO, length: int) -> PartInfo:
        """Store exactly ``length`` bytes of the stream as one part, replacing an earlier part of that number."""

    @abstractmethod
    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Return the parts stored so far by ascending number; raise UploadNotFound if the upload is not open.

        A part sent again replaces the earlier one, except that SeaweedFS keeps both and cannot always tell
        which came last: then both are listed, and the caller names the one to keep to complete_multipart.
        """

    @abstractmethod
    def complete_multipart(self, key: str, upload_id: str, parts: list[PartInfo] | None = None) -> None:
        """Join the given parts (by default every listed part), by ascending number, into the object under key."""

    @abstractmethod
    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Close the upload and discard its parts; aborting an upload that is not open is not an error."""


@contextlib.contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StorageError(f"写入本地存储失败：{path}（{exc.strerror or exc}）") from exc


def _fill_and_replace(descriptor: int, temp_name: str, source, path: Path) -> None:
    """Stream source into an open temporary file, sync it, and rename it over path; remove it on any failure."""
    try:
        with os.fdopen(descriptor, "wb") as file:
            # Only our own writes are storage errors; a failing source stream keeps its own exception.
            while chunk := source.read(COPY_CHUNK_SIZE):
                with _write_errors(path):
                    file.write(chunk)
            with _write_errors(path):
                file.flush()
                os.fsync(file.fileno())
        with _write_errors(path):
            os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


class LocalFolderObjectStore(ObjectStore):
    """Objects as files under one folder, served to browsers by ``storage_bp`` through signed URLs."""

    def __init__(self, root: Path, secret_key: str, url_prefix: str = "/storage", uploads_dir: Path | None = None):
        if not secret_key:
            raise ValueError("本地存储需要密钥来签发下载链接。")
        # send_file would resolve a relative path against the app's package folder, not the working directory.
        self.root = Path(root).absolute()
        # Beside the root, not in it: every valid key names a file under the root, so no folder there is safe.
        self.uploads_dir = Path(uploads_dir).absolute() if uploads_dir else self.root.with_name(
            f"{self.root.name}.uploads"
        )
        self.url_prefix = url_prefix.rstrip("/")
        # A key of its own, so a presigned-URL signature can never double as a session or CSRF token.
        self._signing_key = hmac.new(secret_key.encode(), b"lms.storage.presign", hashlib.sha256).digest()

    def path_for(self, key: str) -> Path:
        """Return the file that holds key's object, whether or not it exists."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def put(
        self,
        key: str,
        stream: BinaryIO,
        length: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Write to a temporary file beside the target, then rename it into place; the content type is not kept."""
        path = self.path_for(key)
        source = stream if length is None else _LengthCheckedStream(stream, length)
        with _write_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".partial")
        _fill_and_replace(descriptor, temp_name, source, path)

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Open the object's file for reading."""
        path = self.path_for(key)
        try:
            file = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(f"对象不存在：{key}") from exc
        except OSError as exc:
            raise StorageError(f"读取本地存储失败：{path}（{exc.strerror or exc}）") from exc
        with file:
            yield file

    def exists(self, key: str) -> bool:
        """Tell whether the object's file exists."""
        return self.path_for(key).is_file()

    def size(self, key: str) -> int:
        """Return the size of the object's file."""
        try:
            status = self.path_for(key).stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"对象不存在：{key}") from exc
        if not stat.S_ISREG(status.st_mode):
            raise ObjectNotFound(f"对象不存在：{key}")
        return status.st_size

    def delete(self, key: str) -> None:
        """Remove the object's file if there is one."""
        path = self.path_for(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass
        except OSError as exc:
            raise StorageError(f"删除本地存储对象失败：{path}（{exc.strerror or exc}）") from exc

    def presign_get(self, key: str, expires: datetime.timedelta) -> str:
        """Return a relative URL to ``storage_bp`` signed with the secret key, valid for at least ``expires``."""
        validate_key(key)
        if expires.total_seconds() <= 0:
            raise ValueError(f"下载链接的有效期必须为正数：{expires}")
        expires_at = math.ceil(time.time() + expires.total_seconds())
        query = urlencode({"expires": expires_at, "signature": self._signature(key, expires_at)})
        return f"{self.url_prefix}/{quote(key, safe='/')}?{query}"

    def verify_presigned(self, key: str, expires: int | str, signature: str) -> bool:
        """Tell whether a presigned URL's parameters were issued by this store and have not expired."""
        try:
            validate_key(key)
            expires_at = int(expires)
        except (TypeError, ValueError):
            return False
        if time.time() > expires_at:
            return False
        expected = self._signature(key, expires_at).encode()
        return hmac.compare_digest(expected, str(signature).encode("utf-8", "replace"))

    def check(self) -> None:
        """Raise StorageUnavailable unless the folder exists (or can be created) and is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"本地存储目录不可用：{self.root}（{exc.strerror or exc}）") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"本地存储目录不可写：{self.root}")

    def _signature(self, key: str, expires_at: int) -> str:
        return hmac.new(self._signing_key, f"{key}\n{expires_at}".encode(), hashlib.sha256).hexdigest()

    # -- multipart uploads: one folder per upload holding upload.json and one file per part --

    def create_multipart(self, key: str, content_type: str = "application/octet-stream") -> str:
        """Create the upload's folder; it becomes visible only once its upload.json is in place."""
        validate_key(key)
        upload_id = secrets.token_hex(16)
        folder = self._upload_folder(upload_id)
        with _write_errors(folder):
            folder.mkdir(parents=True)
            _write_file_atomically(folder / _UPLOAD_META, json.dumps({"key": key, "content_type": content_type}))
        return upload_id

    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, expires: datetime.timedelta
    ) -> str | None:
        """Return None: browsers send local-folder parts to the application, which calls ``put_part``."""
        validate_key(key)
        _validate_upload_id(upload_id)
        validate_part_number(part_number)
        return None

    def put_part(self, key: str, upload_id: str, part_number: int, stream: BinaryIO, length: int) -> PartInfo:
        """Stream the part into a temporary file of the upload's folder, then rename it into place."""
        validate_part_number(part_number)
        folder = self._open_upload(key, upload_id)
        source = _LengthCheckedStream(stream, length)
        target = folder / _part_name(part_number)
        try:
            descriptor, temp_name = tempfile.mkstemp(dir=folder, prefix=".", suffix=".partial")
        except FileNotFoundError:
            raise UploadNotFound(f"分片上传不存在或已结束：{key}") from None
        except OSError as exc:
            raise StorageError(f"写入本地存储失败：{folder}（{exc.strerror or exc}）") from exc
        _fill_and_replace(descriptor, temp_name, source, target)
        return _part_info(part_number, target.stat())

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Return the part files of the upload's folder by ascending number."""
        folder = self._open_upload(key, upload_id)
        parts = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            raise UploadNotFound(f"分片上传不存在或已结束：{key}") from None
        for entry in entries:
            match = _PART_FILE.fullmatch(entry.name)
            if match:
                with contextlib.suppress(FileNotFoundError):  # replaced or cleaned up while we looked
                    parts.append(_part_info(int(match.group(1)), entry.stat()))
        return sorted(parts, key=lambda part: part.number)

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartInfo] | None = None) -> None:
        """Concatenate the parts into a temporary file beside the object, rename it into place, drop the upload."""
        stored = self.list_parts(key, upload_id)
        if parts is None:
            parts = stored
        elif not set(parts) <= set(stored):
            raise InvalidParts("要合并的分片已被替换或不存在，请重新查询已上传的分片。")
        parts = _check_joinable(parts)
        folder = self._upload_folder(upload_id)
        path = self.path_for(key)
        with _write_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".partial")
        try:
            with os.fdopen(descriptor, "wb", buffering=0) as target:
                for part in parts:
                    self._append_part(folder / _part_name(part.number), target, key)
                with _write_errors(path):
                    os.fsync(target.fileno())
            with _write_errors(path):
                os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        self._discard_upload(folder)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Delete the upload's folder and its parts."""
        try:
            folder = self._open_upload(key, upload_id)
        except UploadNotFound:
            return
        self._discard_upload(folder)

    def _upload_folder(self, upload_id: str) -> Path:
        # Our own ids are 32 hex digits; anything else must never become a path.
        if not isinstance(upload_id, str) or not _LOCAL_UPLOAD_ID.fullmatch(upload_id):
            raise UploadNotFound(f"分片上传编号无效：{upload_id!r}")
        return self.uploads_dir / upload_id

    def _open_upload(self, key: str, upload_id: str) -> Path:
        validate_key(key)
        _validate_upload_id(upload_id)
        folder = self._upload_folder(upload_id)
        try:
            meta = json.loads((folder / _UPLOAD_META).read_text())
        except (FileNotFoundError, NotADirectoryError):
            raise UploadNotFound(f"分片上传不存在或已结束：{key}") from None
        except (OSError, ValueError) as exc:
            raise StorageError(f"读取本地分片上传信息失败：{folder}（{exc}）") from exc
        if meta.get("key") != key:
            raise UploadNotFound(f"分片上传不存在或已结束：{key}")
        return folder

    @staticmethod
    def _append_part(part_path: Path, target: BinaryIO, key: str) -> None:
        try:
            source = part_path.open("rb")
        except FileNotFoundError:
            # Another complete or an abort got there first.
            raise UploadNotFound(f"分片上传不存在或已结束：{key}") from None
        with source:
            size = os.fstat(source.fileno()).st_size
            copied = 0
            with _write_errors(part_path):
                while copied < size:
                    # copy_file_range lets the kernel move the bytes (or share extents) without passing them here.
                    sent = _copy_range(source.fileno(), target.fileno(), size - copied)
                    if sent == 0:
                        raise StorageError(f"分片文件在合并时变短了：{part_path}")
                    copied += sent

    @staticmethod
    def _discard_upload(folder: Path) -> None:
        # Removing upload.json first closes the upload at once; a put_part racing with us fails cleanly.
        with contextlib.suppress(FileNotFoundError):
            (folder / _UPLOAD_META).unlink()
        shutil.rmtree(folder, ignore_errors=True)


_UPLOAD_META = "upload.json"
_PART_FILE = re.compile(r"part-(\d{5})")
_LOCAL_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def _part_name(part_number: int) -> str:
    return f"part-{part_number:05d}"


def _part_info(part_number: int, status: os.stat_result) -> PartInfo:
    # Size and modification time change whenever a part is replaced, which is all an ETag has to say here.
    return PartInfo(part_number, status.st_size, f"{status.st_size:x}-{status.st_mtime_ns:x}")


def _check_joinable(parts: list[PartInfo]) -> list[PartInfo]:
    parts = sorted(parts, key=lambda part: part.number)
    if not parts:
        raise InvalidParts("没有已上传的分片，无法合并。")
    numbers = [part.number for part in parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidParts("同一序号的分片有多个版本，请指明要合并的版本。")
    for part in parts[:-1]:
        if part.size < MIN_PART_SIZE:
            raise InvalidParts(
                f"第 {part.number} 个分片只有 {part.size} 字节：除最后一个分片外，每个分片至少 {MIN_PART_SIZE} 字节。"
            )
    return parts


def _write_file_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    temp.write_text(text)
    os.replace(temp, path)


def _copy_range(source_fd: int, target_fd: int, count: int) -> int:
    if hasattr(os, "copy_file_range"):
        try:
            return os.copy_file_range(source_fd, target_fd, count)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    chunk = memoryview(os.read(source_fd, min(count, COPY_CHUNK_SIZE)))
    written = 0
    while written < len(chunk):
        written += os.write(target_fd, chunk[written:])
    return written


class _ResponseReader(io.RawIOBase):
    """An S3 download body whose network failures surface as StorageUnavailable."""

    def __init__(self, response: urllib3.BaseHTTPResponse, endpoint: str):
        self._response = response
        self._endpoint = endpoint

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self._response.readinto(buffer)
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"对象存储不可达：{self._endpoint}（读取中断：{exc}）") from exc


def _http_client(connect_timeout: float, read_timeout: float, retries: urllib3.Retry) -> urllib3.PoolManager:
    ca_file = os.environ.get("SSL_CERT_FILE") or None
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        retries=retries,
        maxsize=32,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_file,
    )


class S3ObjectStore(ObjectStore):
    """Objects in one bucket of an S3 server (MinIO in production, SeaweedFS in tests)."""

    def __init__(self, settings: S3Settings, connect_timeout: float = 3.0, read_timeout: float = 60.0):
        self.settings = settings
        self.bucket = settings.bucket
        data_retries = urllib3.Retry(
            total=2, connect=1, read=0, status=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
        )
        self._data_http = _http_client(connect_timeout, read_timeout, data_retries)
        self._client = self._make_client(self._data_http)
        # The health probe gets no retries and short timeouts so a dead server is reported at once.
        self._probe_http = _http_client(2.0, 3.0, urllib3.Retry(total=0))
        self._probe_client = self._make_client(self._probe_http)
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    def _make_client(self, http_client: urllib3.PoolManager) -> Minio:
        return Minio(
            self.settings.endpoint,
            access_key=self.settings.access_key,
            secret_key=self.settings.secret_key,
            secure=self.settings.secure,
            region=self.settings.region,
            http_client=http_client,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet; after the first success this costs nothing."""
        if self._bucket_ready:
            return
        with self._bucket_lock, self._translated():
            if self._bucket_ready:
                return
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket, location=self.settings.region)
                except S3Error as exc:
                    if exc.code != "BucketAlreadyOwnedByYou":
                        raise
            self._bucket_ready = True

    def put(
        self,
        key: str,
        stream: BinaryIO,
        length: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Upload the stream; an unknown length goes up as a multipart upload in fixed-size parts."""
        validate_key(key)
        self.ensure_bucket()
        with self._translated():
            if length is None:
                self._client.put_object(
                    self.bucket,
                    key,
                    stream,
                    length=-1,
                    part_size=MULTIPART_PART_SIZE,
                    content_type=content_type,
                    num_parallel_uploads=PARALLEL_PART_UPLOADS,
                )
            else:
                self._client.put_object(
                    self.bucket,
                    key,
                    _LengthCheckedStream(stream, length),
                    length=length,
                    content_type=content_type,
                    num_parallel_uploads=PARALLEL_PART_UPLOADS,
                )

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Stream the object's body from the server."""
        validate_key(key)
        self.ensure_bucket()
        with self._translated(key):
            response = self._client.get_object(self.bucket, key)
        try:
            yield io.BufferedReader(_ResponseReader(response, self.settings.endpoint), READ_BUFFER_SIZE)
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        """Tell whether the bucket holds an object under key."""
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def size(self, key: str) -> int:
        """Return the object's size as the server reports it."""
        validate_key(key)
        self.ensure_bucket()
        with self._translated(key):
            return self._client.stat_object(self.bucket, key).size

    def delete(self, key: str) -> None:
        """Remove the object; S3 treats a missing object as already removed."""
        validate_key(key)
        self.ensure_bucket()
        with self._translated(key):
            self._client.remove_object(self.bucket, key)

    def presign_get(self, key: str, expires: datetime.timedelta) -> str:
        """Return a URL signed with the S3 credentials that the server itself checks."""
        validate_key(key)
        self.ensure_bucket()
        with self._translated(key):
            return self._client.presigned_get_object(self.bucket, key, expires=expires)

    # -- multipart uploads, through S3's own API (minio wraps it only privately, so each call is kept here) --

    direct_part_uploads = True

    def create_multipart(self, key: str, content_type: str = "application/octet-stream") -> str:
        """Start an S3 multipart upload (CreateMultipartUpload) and return its upload id."""
        validate_key(key)
        self.ensure_bucket()
        with self._translated(key):
            return self._client._create_multipart_upload(self.bucket, key, {"Content-Type": content_type})

    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, expires: datetime.timedelta
    ) -> str:
        """Return a presigned UploadPart URL: the client PUTs the part's bytes straight to the S3 server."""
        validate_key(key)
        _validate_upload_id(upload_id)
        validate_part_number(part_number)
        if expires.total_seconds() <= 0:
            raise ValueError(f"上传链接的有效期必须为正数：{expires}")
        self.ensure_bucket()
        with self._translated(key):
            return self._client.get_presigned_url(
                "PUT", self.bucket, key, expires=expires,
                extra_query_params={"uploadId": upload_id, "partNumber": str(part_number)},
            )

    def put_part(self, key: str, upload_id: str, part_number: int, stream: BinaryIO, length: int) -> PartInfo:
        """Stream the part to its presigned URL, as a browser would; minio's own UploadPart needs it in memory."""
        url = self.presign_upload_part(key, upload_id, part_number, PUT_PART_URL_TTL)
        source = _GuardedSource(_LengthCheckedStream(stream, length))
        try:
            with self._translated(key):
                response = self._data_http.urlopen(
                    "PUT", url, body=source, headers={"Content-Length": str(length)},
                    retries=urllib3.Retry(total=0), preload_content=True,
                )
                _raise_for_s3_status(response)
        except Exception:
            source.reraise_own_error()
            raise
        return PartInfo(part_number, length, response.headers.get("ETag", "").strip('"'))

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Return the uploaded parts (ListParts), following the server's pages."""
        validate_key(key)
        _validate_upload_id(upload_id)
        self.ensure_bucket()
        listed: list[Part] = []
        marker = None
        with self._translated(key):
            while True:
                page = self._client._list_parts(
                    self.bucket, key, upload_id, max_parts=LIST_PARTS_PAGE_SIZE, part_number_marker=marker
                )
                listed.extend(page.parts)
                next_marker = page.next_part_number_marker
                if not page.is_truncated or not next_marker or next_marker == marker:
                    break
                marker = next_marker
        return _latest_parts(listed)

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartInfo] | None = None) -> None:
        """Join the parts (CompleteMultipartUpload); the server does the copying."""
        parts = _check_joinable(self.list_parts(key, upload_id) if parts is None else parts)
        with self._translated(key):
            result = self._client._complete_multipart_upload(
                self.bucket, key, upload_id, [Part(part.number, part.etag) for part in parts]
            )
        # S3 may answer CompleteMultipartUpload with 200 and an <Error> body, which has no ETag.
        if not result.etag:
            raise StorageError(f"对象存储未能合并分片：{key}")

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the upload's parts (AbortMultipartUpload)."""
        validate_key(key)
        _validate_upload_id(upload_id)
        self.ensure_bucket()
        with contextlib.suppress(UploadNotFound), self._translated(key):
            self._client._abort_multipart_upload(self.bucket, key, upload_id)

    def check(self) -> None:
        """Ask the server about the bucket with short timeouts; raise StorageUnavailable if it cannot answer."""
        with self._translated():
            self._probe_client.bucket_exists(self.bucket)

    def close(self) -> None:
        """Close the pooled connections to the server."""
        self._data_http.clear()
        self._probe_http.clear()

    @contextlib.contextmanager
    def _translated(self, key: str | None = None) -> Iterator[None]:
        endpoint = self.settings.endpoint
        try:
            yield
        except S3Error as exc:
            if exc.code == "NoSuchUpload":
                raise UploadNotFound(f"分片上传不存在或已结束：{key}") from exc
            if exc.code in _INVALID_PART_CODES:
                raise InvalidParts(f"分片无法合并（{exc.code}）：{exc.message}") from exc
            if key is not None and exc.code in _MISSING_OBJECT_CODES:
                raise ObjectNotFound(f"对象不存在：{key}") from exc
            if exc.code in _CREDENTIAL_ERROR_CODES:
                raise StorageUnavailable(
                    f"对象存储 {endpoint} 拒绝访问（{exc.code}）：请检查 LMS_S3_ACCESS_KEY 和 LMS_S3_SECRET_KEY。"
                ) from exc
            if exc.code == "NoSuchBucket":
                self._bucket_ready = False
            raise StorageError(f"对象存储操作失败（{exc.code}）：{exc.message}") from exc
        except (ServerError, InvalidResponseError) as exc:
            raise StorageUnavailable(f"对象存储不可达：{endpoint} 的响应异常（{exc}）") from exc
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StorageUnavailable(f"对象存储不可达：{endpoint}（{reason}）") from exc


class _SourceFailed(Exception):
    """Reading the caller's stream failed; kept apart so urllib3 does not mistake it for a network error."""


class _GuardedSource:
    """Hand a stream to urllib3, remembering any error of the stream itself so that it can be raised as it was."""

    def __init__(self, stream: _LengthCheckedStream):
        self._stream = stream
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except Exception as exc:
            self.error = exc
            raise _SourceFailed() from exc

    def reraise_own_error(self) -> None:
        if self.error is not None:
            raise self.error


def _latest_parts(listed: list[Part]) -> list[PartInfo]:
    # S3 keeps only the last version of a part sent twice. SeaweedFS lists every version, with times to the
    # second: the older ones are dropped here, versions it cannot order are all returned (see list_parts).
    newest: dict[int, datetime.datetime | None] = {}
    for part in listed:
        stamp = newest.get(part.part_number, part.last_modified)
        if part.last_modified and (stamp is None or part.last_modified > stamp):
            stamp = part.last_modified
        newest[part.part_number] = stamp
    kept: dict[tuple[int, str], PartInfo] = {}
    for part in listed:
        if part.last_modified == newest[part.part_number]:
            kept.setdefault((part.part_number, part.etag), PartInfo(part.part_number, part.size or 0, part.etag))
    return sorted(kept.values(), key=lambda part: part.number)


def _raise_for_s3_status(response: urllib3.BaseHTTPResponse) -> None:
    if response.status == 200:
        return
    if response.data and "xml" in response.headers.get("Content-Type", ""):
        raise S3Error.fromxml(response)
    raise InvalidResponseError(response.status, response.headers.get("Content-Type"), response.data.decode())


def create_object_store(config: Config) -> ObjectStore:
    """Return the S3 store when ``LMS_S3_*`` is configured, else the local folder in the data directory."""
    if config.s3 is not None:
        return S3ObjectStore(config.s3)
    return LocalFolderObjectStore(config.storage_dir, config.secret_key)
