"""Object storage behind one small interface: an S3 server in production, a local folder when embedded.

Both backends stream: uploads and downloads never hold a whole object in memory, and browsers
download through short-lived presigned URLs rather than through application code.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import io
import math
import os
import stat
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

import urllib3
from minio import Minio
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

_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})
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


@contextlib.contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StorageError(f"写入本地存储失败：{path}（{exc.strerror or exc}）") from exc


class LocalFolderObjectStore(ObjectStore):
    """Objects as files under one folder, served to browsers by ``storage_bp`` through signed URLs."""

    def __init__(self, root: Path, secret_key: str, url_prefix: str = "/storage"):
        if not secret_key:
            raise ValueError("本地存储需要密钥来签发下载链接。")
        # send_file would resolve a relative path against the app's package folder, not the working directory.
        self.root = Path(root).absolute()
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
        try:
            with os.fdopen(descriptor, "wb") as target:
                # Only our own writes are storage errors; a failing source stream keeps its own exception.
                while chunk := source.read(COPY_CHUNK_SIZE):
                    with _write_errors(path):
                        target.write(chunk)
                with _write_errors(path):
                    target.flush()
                    os.fsync(target.fileno())
            with _write_errors(path):
                os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise

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


def create_object_store(config: Config) -> ObjectStore:
    """Return the S3 store when ``LMS_S3_*`` is configured, else the local folder in the data directory."""
    if config.s3 is not None:
        return S3ObjectStore(config.s3)
    return LocalFolderObjectStore(config.storage_dir, config.secret_key)
