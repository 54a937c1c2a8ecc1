"""The multipart-upload contract, held alike by a real S3 server (SeaweedFS) and by the local folder."""

from __future__ import annotations

import datetime
import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lms.core import storage
from lms.core.storage import (
    MIB,
    InvalidParts,
    LocalFolderObjectStore,
    ObjectStore,
    PartInfo,
    S3ObjectStore,
    StorageError,
    UploadNotFound,
    part_size_for,
)
from tests.core.test_storage import FailingStream, GeneratedStream, stored_digest
from tests.support.services import SeaweedS3

PART = storage.MIN_PART_SIZE
SECRET_KEY = "m" * 64


def new_key(name: str = "lecture.mp4") -> str:
    return f"tests/multipart/{uuid.uuid4().hex}/{name}"


@pytest.fixture
def local_store(tmp_path: Path) -> LocalFolderObjectStore:
    return LocalFolderObjectStore(tmp_path / "storage", SECRET_KEY)


@pytest.fixture(params=["s3", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "s3":
        server: SeaweedS3 = request.getfixturevalue("s3_server")
        s3 = S3ObjectStore(server.settings(bucket="lms-multipart-tests"))
        yield s3
        s3.close()
    else:
        yield LocalFolderObjectStore(tmp_path / "storage", SECRET_KEY)


def put_part(store: ObjectStore, key: str, upload_id: str, number: int, data: bytes) -> PartInfo:
    return store.put_part(key, upload_id, number, io.BytesIO(data), len(data))


def sha256(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


# -- the shared contract ------------------------------------------------------------------------


def test_parts_sent_out_of_order_are_joined_in_number_order(store: ObjectStore):
    key = new_key("第 1 讲.mp4")
    chunks = {1: b"a" * PART, 2: b"b" * PART, 3: b"tail"}
    upload_id = store.create_multipart(key, "video/mp4")

    for number in (3, 1, 2):
        info = put_part(store, key, upload_id, number, chunks[number])
        assert (info.number, info.size) == (number, len(chunks[number]))
    store.complete_multipart(key, upload_id)

    assert stored_digest(store, key) == (2 * PART + 4, sha256(chunks[1], chunks[2], chunks[3]))


def test_a_part_sent_again_replaces_the_earlier_one(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)
    assert store.list_parts(key, upload_id) == []

    put_part(store, key, upload_id, 2, b"x" * 100)
    first = put_part(store, key, upload_id, 1, b"y" * PART)
    replaced = put_part(store, key, upload_id, 2, b"z" * 50)

    parts = store.list_parts(key, upload_id)
    # SeaweedFS may also list the older version when both arrived within one second.
    assert first in parts and replaced in parts
    assert {part.number for part in parts} == {1, 2}
    store.complete_multipart(key, upload_id, [first, replaced])
    assert stored_digest(store, key) == (PART + 50, sha256(b"y" * PART, b"z" * 50))


def test_local_listing_holds_only_the_last_version_of_a_part(local_store: LocalFolderObjectStore):
    key = new_key()
    upload_id = local_store.create_multipart(key)
    old = put_part(local_store, key, upload_id, 1, b"x" * 100)
    new = put_part(local_store, key, upload_id, 1, b"z" * 50)

    assert local_store.list_parts(key, upload_id) == [new]
    assert new.etag != old.etag
    with pytest.raises(InvalidParts):
        local_store.complete_multipart(key, upload_id, [old])


def test_completing_with_two_versions_of_one_part_is_refused(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)
    one = put_part(store, key, upload_id, 1, b"a" * 10)

    with pytest.raises(InvalidParts):
        store.complete_multipart(key, upload_id, [one, PartInfo(1, 10, "another-version")])
    assert not store.exists(key)
    store.abort_multipart(key, upload_id)


def test_a_part_is_streamed_and_never_read_whole(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)
    source = GeneratedStream(2 * PART, seed=3)

    store.put_part(key, upload_id, 1, source, 2 * PART)
    store.complete_multipart(key, upload_id)

    assert source.largest_read <= storage.COPY_CHUNK_SIZE
    assert stored_digest(store, key) == (2 * PART, source.digest.hexdigest())


def test_a_part_shorter_than_declared_is_refused_and_not_listed(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)

    with pytest.raises(StorageError, match="上传数据不完整"):
        store.put_part(key, upload_id, 1, io.BytesIO(b"abc"), 10)

    assert store.list_parts(key, upload_id) == []
    store.abort_multipart(key, upload_id)


def test_a_client_that_disconnects_mid_part_leaves_no_part(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)

    with pytest.raises(ConnectionResetError):
        store.put_part(key, upload_id, 1, FailingStream(good_bytes=2 * MIB), 6 * MIB)

    assert store.list_parts(key, upload_id) == []
    store.abort_multipart(key, upload_id)


def test_completing_without_parts_is_refused(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)

    with pytest.raises(StorageError):
        store.complete_multipart(key, upload_id)

    assert not store.exists(key)
    store.abort_multipart(key, upload_id)


def test_a_small_part_before_the_last_is_refused_and_the_upload_stays_open(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)
    put_part(store, key, upload_id, 1, b"too small")
    last = put_part(store, key, upload_id, 2, b"last")

    with pytest.raises(InvalidParts):
        store.complete_multipart(key, upload_id)

    assert not store.exists(key)
    first = put_part(store, key, upload_id, 1, b"1" * PART)
    store.complete_multipart(key, upload_id, [first, last])
    assert store.size(key) == PART + 4


def test_aborted_upload_is_gone_and_aborting_again_is_not_an_error(store: ObjectStore):
    key = new_key()
    upload_id = store.create_multipart(key)
    put_part(store, key, upload_id, 1, b"x" * 10)

    store.abort_multipart(key, upload_id)
    store.abort_multipart(key, upload_id)

    with pytest.raises(UploadNotFound):
        store.list_parts(key, upload_id)
    with pytest.raises(UploadNotFound):
        put_part(store, key, upload_id, 2, b"late")
    with pytest.raises(UploadNotFound):
        store.complete_multipart(key, upload_id)
    assert not store.exists(key)


def test_an_upload_id_only_works_with_its_own_key(store: ObjectStore):
    key, other = new_key(), new_key("other.mp4")
    upload_id = store.create_multipart(key)

    with pytest.raises(UploadNotFound):
        put_part(store, other, upload_id, 1, b"x")
    with pytest.raises(UploadNotFound):
        store.list_parts(other, upload_id)
    store.abort_multipart(key, upload_id)


def test_unknown_upload_id_is_upload_not_found(store: ObjectStore):
    unknown = "0" * 32

    with pytest.raises(UploadNotFound):
        store.list_parts(new_key(), unknown)


@pytest.mark.parametrize("number", [0, -1, 10_001, True, "1"])
def test_part_numbers_outside_1_to_10000_are_refused_before_touching_storage(store: ObjectStore, number):
    with pytest.raises(ValueError, match="分片序号"):
        store.put_part(new_key(), "0" * 32, number, io.BytesIO(b"x"), 1)
    with pytest.raises(ValueError, match="分片序号"):
        store.presign_upload_part(new_key(), "0" * 32, number, datetime.timedelta(minutes=1))


def test_invalid_keys_are_refused_for_multipart_uploads(store: ObjectStore):
    with pytest.raises(ValueError, match="对象键"):
        store.create_multipart("../escape.mp4")
    with pytest.raises(ValueError, match="对象键"):
        store.list_parts("a//b", "0" * 32)


# -- part size --------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "expected"), [
    (0, 16 * MIB),
    (1, 16 * MIB),
    (2 * 1024**3, 16 * MIB),
    (10_000 * 16 * MIB, 16 * MIB),
    (10_000 * 16 * MIB + 1, 17 * MIB),
    (100 * 1024**3, 16 * MIB),
    (200 * 1024**3, 21 * MIB),
])
def test_part_size_is_16_mib_or_large_enough_for_10000_parts(total: int, expected: int):
    assert part_size_for(total) == expected
    assert -(-total // expected) <= storage.MAX_PARTS


def test_part_size_refuses_objects_beyond_s3_limits():
    with pytest.raises(ValueError):
        part_size_for(10_000 * 5 * 1024**3 + 1)


# -- S3 only ------------------------------------------------------------------------------------


def test_s3_presigned_part_urls_take_bytes_straight_from_the_client(s3_server: SeaweedS3):
    store = S3ObjectStore(s3_server.settings(bucket="lms-multipart-tests"))
    key = new_key()
    try:
        upload_id = store.create_multipart(key, "video/mp4")
        for number, data in ((1, b"p" * PART), (2, b"end")):
            url = store.presign_upload_part(key, upload_id, number, datetime.timedelta(minutes=5))
            assert requests.put(url, data=data, timeout=30).status_code == 200
        store.complete_multipart(key, upload_id)
        assert stored_digest(store, key) == (PART + 3, sha256(b"p" * PART, b"end"))
    finally:
        store.close()


def test_s3_presigned_part_url_for_another_part_number_is_refused_by_the_server(s3_server: SeaweedS3):
    store = S3ObjectStore(s3_server.settings(bucket="lms-multipart-tests"))
    key = new_key()
    try:
        upload_id = store.create_multipart(key)
        url = store.presign_upload_part(key, upload_id, 1, datetime.timedelta(minutes=5))
        tampered = url.replace("partNumber=1", "partNumber=2")
        assert requests.put(tampered, data=b"x", timeout=30).status_code == 403
        assert store.list_parts(key, upload_id) == []
        store.abort_multipart(key, upload_id)
    finally:
        store.close()


def test_s3_list_parts_follows_the_servers_pages(s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(storage, "LIST_PARTS_PAGE_SIZE", 2)
    store = S3ObjectStore(s3_server.settings(bucket="lms-multipart-tests"))
    key = new_key()
    try:
        upload_id = store.create_multipart(key)
        for number in range(1, 6):
            put_part(store, key, upload_id, number, bytes([number]) * 3)
        assert [p.number for p in store.list_parts(key, upload_id)] == [1, 2, 3, 4, 5]
        store.abort_multipart(key, upload_id)
    finally:
        store.close()


# -- local folder only --------------------------------------------------------------------------


def test_local_parts_live_outside_the_object_folder_and_are_cleaned_up(tmp_path: Path):
    store = LocalFolderObjectStore(tmp_path / "storage", SECRET_KEY)
    key = new_key()
    upload_id = store.create_multipart(key)
    put_part(store, key, upload_id, 1, b"x" * 10)

    assert not (tmp_path / "storage").exists() or not any((tmp_path / "storage").rglob("*part*"))
    assert store.presign_upload_part(key, upload_id, 1, datetime.timedelta(minutes=1)) is None
    store.complete_multipart(key, upload_id)

    assert list(store.uploads_dir.iterdir()) == []
    assert store.size(key) == 10
    assert [p.name for p in store.path_for(key).parent.iterdir()] == ["lecture.mp4"]


@pytest.mark.parametrize("upload_id", ["../../etc", "0" * 31, "G" * 32, ".."])
def test_local_upload_ids_that_could_name_other_folders_are_unknown(tmp_path: Path, upload_id: str):
    store = LocalFolderObjectStore(tmp_path / "storage", SECRET_KEY)

    with pytest.raises(UploadNotFound):
        store.list_parts(new_key(), upload_id)
    with pytest.raises(UploadNotFound):
        put_part(store, new_key(), upload_id, 1, b"x")
