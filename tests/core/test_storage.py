"""The object-storage contract, held alike by a real S3 server (SeaweedFS) and by the local folder."""

from __future__ import annotations

import datetime
import hashlib
import io
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
import requests
import urllib3
from flask import Flask
from minio import Minio

from lms.config import Config
from lms.core.storage import (
    LocalFolderObjectStore,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    StorageError,
    StorageUnavailable,
    create_object_store,
)
from lms.core.storage_views import storage_bp
from tests.support.services import SeaweedS3

MIB = 1024 * 1024
LARGE_OBJECT_SIZE = 20 * MIB
SECRET_KEY = "k" * 64
INVALID_KEYS = [
    "",
    "/absolute/path",
    "a/../b",
    "..",
    "../escape",
    "a/./b",
    "a//b",
    "trailing/",
    "back\\slash",
    "line\nbreak",
    "x" * 513,
    "长" * 200,  # 600 bytes in UTF-8
]


@dataclass
class Backend:
    name: str
    store: ObjectStore
    fetch: Callable[[str], tuple[int, bytes]]  # GET a presigned URL the way a browser would


class GeneratedStream:
    """Pseudo-random bytes made on demand, so a large upload never exists in memory as a whole."""

    def __init__(self, size: int, seed: int = 0):
        self._random = random.Random(seed)
        self._remaining = size
        self.digest = hashlib.sha256()
        self.largest_read = 0

    def read(self, size: int | None = -1) -> bytes:
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        self.largest_read = max(self.largest_read, wanted)
        data = self._random.randbytes(wanted)
        self._remaining -= wanted
        self.digest.update(data)
        return data


class FailingStream:
    """A client that disconnects after sending some bytes."""

    def __init__(self, good_bytes: int):
        self._remaining = good_bytes

    def read(self, size: int | None = -1) -> bytes:
        if self._remaining <= 0:
            raise ConnectionResetError("client went away")
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        self._remaining -= wanted
        return b"x" * wanted


def new_key(name: str) -> str:
    return f"tests/{uuid.uuid4().hex}/{name}"


def stored_digest(store: ObjectStore, key: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    total = 0
    with store.open(key) as stored:
        while chunk := stored.read(MIB):
            digest.update(chunk)
            total += len(chunk)
    return total, digest.hexdigest()


def with_signature_changed(url: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    changed = [
        (name, value[:-1] + ("0" if value[-1] != "0" else "1"))
        if name.lower() in ("signature", "x-amz-signature")
        else (name, value)
        for name, value in query
    ]
    assert changed != query, f"no signature parameter in {url}"
    return urlunsplit(parts._replace(query=urlencode(changed)))


def with_key_changed(url: str, old_key: str, new_key: str) -> str:
    parts = urlsplit(url)
    old_path, new_path = quote(old_key, safe="/"), quote(new_key, safe="/")
    assert parts.path.endswith(old_path)
    return urlunsplit(parts._replace(path=parts.path[: -len(old_path)] + new_path))


def local_app(store: object) -> Flask:
    app = Flask(__name__)
    app.extensions["lms.storage"] = store
    app.register_blueprint(storage_bp)
    return app


def closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["s3", "local"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "s3":
        server: SeaweedS3 = request.getfixturevalue("s3_server")
        store = S3ObjectStore(server.settings(bucket="lms-storage-tests"))

        def fetch_over_http(url: str) -> tuple[int, bytes]:
            response = requests.get(url, timeout=10)
            return response.status_code, response.content

        yield Backend("s3", store, fetch_over_http)
        store.close()
    else:
        store = LocalFolderObjectStore(tmp_path / "storage", SECRET_KEY)
        client = local_app(store).test_client()

        def fetch_from_route(url: str) -> tuple[int, bytes]:
            with client.get(url) as response:
                return response.status_code, response.get_data()

        yield Backend("local", store, fetch_from_route)


@pytest.fixture
def s3_store(s3_server: SeaweedS3) -> Iterator[S3ObjectStore]:
    store = S3ObjectStore(s3_server.settings(bucket="lms-storage-tests"))
    yield store
    store.close()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalFolderObjectStore:
    return LocalFolderObjectStore(tmp_path / "storage", SECRET_KEY)


# -- the shared contract ------------------------------------------------------------------------


@pytest.mark.parametrize("declare_length", [False, True], ids=["unknown-length", "declared-length"])
def test_large_stream_round_trips_without_being_read_whole(backend: Backend, declare_length: bool):
    key = new_key("lecture.mp4")
    source = GeneratedStream(LARGE_OBJECT_SIZE, seed=7)

    backend.store.put(key, source, length=LARGE_OBJECT_SIZE if declare_length else None, content_type="video/mp4")

    assert source.largest_read < LARGE_OBJECT_SIZE
    assert stored_digest(backend.store, key) == (LARGE_OBJECT_SIZE, source.digest.hexdigest())


def test_stream_shorter_than_declared_length_is_refused_and_stores_nothing(backend: Backend):
    key = new_key("short.bin")

    with pytest.raises(StorageError, match="上传数据不完整"):
        backend.store.put(key, io.BytesIO(b"abc"), length=10)

    assert not backend.store.exists(key)


def test_exists_and_size_follow_the_object_until_it_is_deleted(backend: Backend):
    key = new_key("notes.txt")
    assert not backend.store.exists(key)

    backend.store.put(key, io.BytesIO(b"hello world"), length=11, content_type="text/plain")
    assert backend.store.exists(key)
    assert backend.store.size(key) == 11

    backend.store.delete(key)
    assert not backend.store.exists(key)


def test_deleting_a_missing_object_is_not_an_error(backend: Backend):
    backend.store.delete(new_key("never-stored.txt"))


def test_put_replaces_the_previous_object(backend: Backend):
    key = new_key("replaced.txt")
    backend.store.put(key, io.BytesIO(b"first version"))
    backend.store.put(key, io.BytesIO(b"second"))

    with backend.store.open(key) as stored:
        assert stored.read() == b"second"


def test_missing_object_raises_object_not_found(backend: Backend):
    key = new_key("missing.txt")

    with pytest.raises(ObjectNotFound):
        with backend.store.open(key):
            pass
    with pytest.raises(ObjectNotFound):
        backend.store.size(key)


@pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
def test_invalid_keys_are_refused_before_touching_storage(backend: Backend, key: str):
    for operation in (
        lambda: backend.store.put(key, io.BytesIO(b"x")),
        lambda: backend.store.open(key).__enter__(),
        lambda: backend.store.exists(key),
        lambda: backend.store.size(key),
        lambda: backend.store.delete(key),
        lambda: backend.store.presign_get(key, datetime.timedelta(minutes=1)),
    ):
        with pytest.raises(ValueError, match="对象键"):
            operation()


@pytest.mark.parametrize("name", ["handout.pdf", "课程 资料/第 1 讲.txt"])
def test_presigned_url_downloads_the_object(backend: Backend, name: str):
    key = new_key(name)
    backend.store.put(key, io.BytesIO(b"presigned bytes"))

    status, body = backend.fetch(backend.store.presign_get(key, datetime.timedelta(minutes=5)))

    assert (status, body) == (200, b"presigned bytes")


def test_tampered_presigned_url_signature_is_refused_by_the_server(backend: Backend):
    key = new_key("private.pdf")
    backend.store.put(key, io.BytesIO(b"secret"))
    url = backend.store.presign_get(key, datetime.timedelta(minutes=5))

    status, body = backend.fetch(with_signature_changed(url))

    assert status == 403
    assert b"secret" not in body


def test_presigned_url_moved_to_another_key_is_refused_by_the_server(backend: Backend):
    signed_key, other_key = new_key("allowed.txt"), new_key("forbidden.txt")
    backend.store.put(signed_key, io.BytesIO(b"bytes anyone with the link may read"))
    backend.store.put(other_key, io.BytesIO(b"bytes nobody was given a link to"))
    url = backend.store.presign_get(signed_key, datetime.timedelta(minutes=5))

    status, body = backend.fetch(with_key_changed(url, signed_key, other_key))

    assert status == 403
    assert b"nobody was given" not in body


def test_expired_presigned_url_is_refused_by_the_server(backend: Backend):
    key = new_key("expiring.txt")
    backend.store.put(key, io.BytesIO(b"too late"))
    url = backend.store.presign_get(key, datetime.timedelta(seconds=1))

    time.sleep(2)
    status, body = backend.fetch(url)

    assert status == 403
    assert b"too late" not in body


def test_check_passes_when_the_backend_is_usable(backend: Backend):
    backend.store.check()


# -- S3 only ------------------------------------------------------------------------------------


def test_bucket_is_created_on_first_use(s3_server: SeaweedS3):
    settings = s3_server.settings(bucket=f"lms-new-{uuid.uuid4().hex[:12]}")
    store = S3ObjectStore(settings)
    http = urllib3.PoolManager()
    admin = Minio(settings.endpoint, settings.access_key, settings.secret_key, secure=False, http_client=http)
    try:
        assert not admin.bucket_exists(settings.bucket)
        store.put("first.txt", io.BytesIO(b"1"))
        assert admin.bucket_exists(settings.bucket)
    finally:
        store.close()
        http.clear()


def test_wrong_credentials_make_check_and_uploads_raise_storage_unavailable(s3_server: SeaweedS3):
    settings = replace(s3_server.settings(), secret_key="not-the-secret-key")
    store = S3ObjectStore(settings)
    try:
        with pytest.raises(StorageUnavailable, match="LMS_S3_SECRET_KEY"):
            store.check()
        with pytest.raises(StorageUnavailable):
            store.put(new_key("refused.txt"), io.BytesIO(b"x"))
    finally:
        store.close()


def test_unreachable_endpoint_raises_storage_unavailable_within_seconds(s3_server: SeaweedS3):
    settings = replace(s3_server.settings(), endpoint=f"127.0.0.1:{closed_loopback_port()}")
    store = S3ObjectStore(settings)
    try:
        for operation in (store.check, lambda: store.put(new_key("lost.txt"), io.BytesIO(b"x"))):
            started = time.monotonic()
            with pytest.raises(StorageUnavailable, match="对象存储不可达"):
                operation()
            assert time.monotonic() - started < 5
    finally:
        store.close()


# -- local folder only --------------------------------------------------------------------------


def test_interrupted_local_upload_leaves_neither_object_nor_partial_file(local_store: LocalFolderObjectStore):
    key = new_key("interrupted.bin")

    with pytest.raises(ConnectionResetError):
        local_store.put(key, FailingStream(good_bytes=3 * MIB))

    assert not local_store.exists(key)
    assert list(local_store.path_for(key).parent.iterdir()) == []


def test_local_route_serves_byte_ranges_for_video_seeking(local_store: LocalFolderObjectStore):
    key = new_key("segment.ts")
    local_store.put(key, io.BytesIO(b"0123456789"))
    url = local_store.presign_get(key, datetime.timedelta(minutes=5))

    with local_app(local_store).test_client().get(url, headers={"Range": "bytes=2-5"}) as response:
        assert response.status_code == 206
        assert response.get_data() == b"2345"
        assert response.mimetype == "video/mp2t"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "public" not in response.headers["Cache-Control"]


def test_local_route_answers_404_for_a_valid_link_to_a_deleted_object(local_store: LocalFolderObjectStore):
    key = new_key("deleted.txt")
    url = local_store.presign_get(key, datetime.timedelta(minutes=5))

    response = local_app(local_store).test_client().get(url)

    assert response.status_code == 404


def test_local_route_refuses_a_link_without_signature(local_store: LocalFolderObjectStore):
    key = new_key("unsigned.txt")
    local_store.put(key, io.BytesIO(b"unsigned"))

    response = local_app(local_store).test_client().get(f"/storage/{key}")

    assert response.status_code == 403
    assert "下载链接无效或已过期" in response.get_data(as_text=True)


def test_local_route_is_not_found_when_the_app_stores_objects_in_s3(local_store: LocalFolderObjectStore):
    key = new_key("elsewhere.txt")
    local_store.put(key, io.BytesIO(b"x"))
    url = local_store.presign_get(key, datetime.timedelta(minutes=5))

    response = local_app(object()).test_client().get(url)

    assert response.status_code == 404


def test_links_signed_with_another_secret_key_are_refused(local_store: LocalFolderObjectStore, tmp_path: Path):
    key = new_key("other-secret.txt")
    local_store.put(key, io.BytesIO(b"x"))
    impostor = LocalFolderObjectStore(tmp_path / "storage", "z" * 64)
    url = urlsplit(impostor.presign_get(key, datetime.timedelta(minutes=5)))
    query = dict(parse_qsl(url.query))

    assert not local_store.verify_presigned(key, query["expires"], query["signature"])


def test_local_check_fails_when_the_folder_cannot_be_created(tmp_path: Path):
    blocking_file = tmp_path / "not-a-folder"
    blocking_file.write_text("")
    store = LocalFolderObjectStore(blocking_file / "storage", SECRET_KEY)

    with pytest.raises(StorageUnavailable, match="本地存储目录不可用"):
        store.check()


# -- choosing the backend -----------------------------------------------------------------------


def test_configuration_chooses_local_folder_by_default_and_s3_when_configured(tmp_path: Path):
    embedded = Config.from_env({"LMS_DATA_DIR": str(tmp_path)})
    local = create_object_store(embedded)
    assert isinstance(local, LocalFolderObjectStore)
    assert local.root == tmp_path.resolve() / "storage"

    with_s3 = Config.from_env({
        "LMS_DATA_DIR": str(tmp_path),
        "LMS_S3_ENDPOINT": "minio:9000",
        "LMS_S3_ACCESS_KEY": "access",
        "LMS_S3_SECRET_KEY": "secret",
        "LMS_S3_BUCKET": "lms-media",
    })
    s3 = create_object_store(with_s3)
    assert isinstance(s3, S3ObjectStore)
    assert s3.bucket == "lms-media"
    s3.close()
