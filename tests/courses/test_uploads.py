"""Resumable multipart uploads of courseware videos through the API, on the local folder and on real S3.

Processing is mocked at its one seam, ``media_worker.jobs.enqueue_processing``: these tests hold the upload,
not the transcoding. On S3 the parts go with ``requests`` straight to SeaweedFS through presigned URLs,
as a browser's would; on the local folder they go to the application's part route.
"""

from __future__ import annotations

import contextlib
import decimal
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa
import urllib3
from flask import Flask
from minio import Minio

from lms.accounts.models import Role, User
from lms.core.storage import MIB, LocalFolderObjectStore, ObjectStore
from lms.courses.models import Category, Course, CourseState, Courseware, MediaAsset, MediaStatus
from lms.extensions import db
from lms.orgs.models import OrgKind, ReviewStatus
from tests.conftest import PASSWORD, api_token, csrf_token, login, make_org, make_user
from tests.support import services

UPLOADS = "/api/v1/uploads"
PART = 16 * MIB
CHINESE = re.compile(r"[\u4e00-\u9fff]")


# -- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the media job seam with a recorder of the asset ids it is called with."""
    calls: list[int] = []
    import media_worker.jobs as jobs

    monkeypatch.setattr(jobs, "enqueue_processing", calls.append)
    return calls


@pytest.fixture(autouse=True)
def store(app: Flask) -> Iterator[ObjectStore]:
    """The app's object store, with no media left by earlier tests (ids start at 1 again in each test)."""
    store = app.extensions["lms.storage"]
    _remove_media(store)
    yield store
    _remove_media(store)


def _remove_media(store: ObjectStore) -> None:
    if isinstance(store, LocalFolderObjectStore):
        shutil.rmtree(store.root / "media", ignore_errors=True)
        return
    http = urllib3.PoolManager()
    settings = store.settings
    admin = Minio(settings.endpoint, settings.access_key, settings.secret_key, secure=settings.secure,
                  http_client=http)
    try:
        if admin.bucket_exists(settings.bucket):
            for item in admin.list_objects(settings.bucket, prefix="media/", recursive=True):
                admin.remove_object(settings.bucket, item.object_name)
    finally:
        http.clear()


@pytest.fixture
def admin(tree) -> User:
    return tree.admins["base_a"]


@pytest.fixture
def auth(client, admin) -> dict:
    return api_token(client, admin)


def make_courseware(base, state: CourseState = CourseState.DRAFT, media_id: int | None = None) -> Courseware:
    course = Course(base_id=base.id, category=Category.PUBLIC, year=2026, title="职业道德与法规", state=state)
    courseware = Courseware(course=course, position=1, title="第一讲", labelled_hours=decimal.Decimal("1.0"),
                            media_id=media_id)
    db.session.add_all([course, courseware])
    db.session.commit()
    return courseware


@pytest.fixture
def courseware(tree) -> Courseware:
    return make_courseware(tree.base_a)


class PatternFile:
    """A virtual video file: 1 MiB blocks of one random pattern, each starting with its block number.

    ``reader(offset, length)`` streams any range of it, so a 2 GiB upload never exists in memory, and
    ``mismatches`` checks stored bytes block by block without holding them either.
    """

    def __init__(self, size: int, seed: int = 1):
        self.size = size
        self._pattern = random.Random(seed).randbytes(MIB)

    def block(self, index: int) -> bytes:
        data = index.to_bytes(8, "big") + self._pattern[8:]
        return data[: max(0, min(MIB, self.size - index * MIB))]

    def reader(self, offset: int, length: int) -> RangeReader:
        return RangeReader(self, offset, length)

    def part(self, number: int, part_size: int) -> bytes:
        start = (number - 1) * part_size
        return self.reader(start, min(part_size, self.size - start)).read()

    def mismatches(self, store: ObjectStore, key: str) -> int:
        bad = 0
        with store.open(key) as stored:
            for index in range(-(-self.size // MIB)):
                if stored.read(MIB) != self.block(index):
                    bad += 1
            if stored.read(1):
                bad += 1
        return bad


class VirtualStream(io.RawIOBase):
    """A seekable request body of a declared length whose bytes are made as they are read.

    Werkzeug's test client and requests both measure a body by seeking to its end and back.
    """

    def __init__(self, length: int):
        self.length = length
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self.length - self.position)
        done = 0
        while done < count:
            filled = self.fill(view[done:count])
            done += filled
            self.position += filled
        return done

    def fill(self, view: memoryview) -> int:
        """Write the bytes at the current position into view; return how many."""
        raise NotImplementedError


class RangeReader(VirtualStream):
    """One byte range of a PatternFile."""

    def __init__(self, source: PatternFile, offset: int, length: int):
        super().__init__(length)
        self._source = source
        self._offset = offset
        self._block_index = -1
        self._block = b""

    def fill(self, view: memoryview) -> int:
        index, within = divmod(self._offset + self.position, MIB)
        if index != self._block_index:
            self._block_index, self._block = index, self._source.block(index)
        count = min(len(view), len(self._block) - within)
        view[:count] = self._block[within: within + count]
        if self.position + count == self.length:
            self._block_index, self._block = -1, b""  # the test client keeps finished bodies around
        return count


class Dropping(VirtualStream):
    """A body that declares a length, sends some of it, then fails: a client whose connection dropped."""

    def __init__(self, data: bytes, declared: int):
        super().__init__(declared)
        self._data = data

    def fill(self, view: memoryview) -> int:
        if self.position >= len(self._data):
            raise ConnectionResetError("connection dropped")
        count = min(len(view), len(self._data) - self.position)
        view[:count] = self._data[self.position: self.position + count]
        return count


class Endless(VirtualStream):
    """A body of a huge declared length that counts what is read of it."""

    bytes_read = 0

    def fill(self, view: memoryview) -> int:
        view[:] = b"\0" * len(view)
        self.bytes_read += len(view)
        return len(view)


def start(client, headers: dict, courseware_id: int, size: int, filename: str = "第1讲 职业道德.mp4",
          content_type: str = "video/mp4"):
    return client.post(UPLOADS, json={"courseware_id": courseware_id, "filename": filename, "size": size,
                                      "content_type": content_type}, headers=headers)


def put_part(client, headers: dict, asset_id: int, number: int, body) -> int:
    """PUT one part where the API says to (S3 or the app) and return the HTTP status."""
    target = client.get(f"{UPLOADS}/{asset_id}/parts/{number}", headers=headers)
    assert target.status_code == 200, target.get_json()
    target = target.get_json()
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    if target["same_origin"]:
        response = client.put(target["url"], input_stream=stream, content_type="application/octet-stream",
                              headers=headers)
        return response.status_code
    try:
        return requests.put(target["url"], data=stream, timeout=120).status_code
    except requests.ConnectionError:
        return 0  # no answer: the connection dropped


def status_of(client, headers: dict, asset_id: int) -> dict:
    response = client.get(f"{UPLOADS}/{asset_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def error_of(response) -> str:
    message = response.get_json()["error"]["message"]
    assert CHINESE.search(message), message
    return message


def assets() -> list[MediaAsset]:
    db.session.expire_all()
    return db.session.scalars(sa.select(MediaAsset)).all()


def uploaded(client, headers: dict, courseware: Courseware, file: PatternFile) -> dict:
    """Start an upload and send every part; return the start response."""
    started = start(client, headers, courseware.id, file.size).get_json()
    for number in range(1, started["part_count"] + 1):
        assert put_part(client, headers, started["asset_id"], number, file.part(number, started["part_size"])) == 200
    return started


# -- the whole upload -------------------------------------------------------------------------------


def test_a_video_uploaded_in_parts_is_stored_whole_linked_and_queued_once(client, auth, courseware, store, enqueued):
    file = PatternFile(2 * PART + 12345)

    started = start(client, auth, courseware.id, file.size)
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert (body["part_size"], body["part_count"], body["status"]) == (PART, 3, "uploading")
    asset_id = body["asset_id"]
    for number in (2, 3, 1):
        assert put_part(client, auth, asset_id, number, file.part(number, PART)) == 200
    assert db.session.get(Courseware, courseware.id).media_id is None  # the old video plays until completion

    done = client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth)

    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "queued"
    asset = db.session.get(MediaAsset, asset_id)
    assert asset.status == MediaStatus.QUEUED and asset.upload_id is None
    assert asset.original_key == f"media/{asset_id}/original/第1讲_职业道德.mp4"
    assert asset.original_filename == "第1讲 职业道德.mp4" and asset.content_type == "video/mp4"
    assert db.session.get(Courseware, courseware.id).media_id == asset_id
    assert store.size(asset.original_key) == file.size
    assert file.mismatches(store, asset.original_key) == 0
    assert enqueued == [asset_id]


def test_a_file_smaller_than_one_part_is_one_part(client, auth, courseware, store, enqueued):
    started = start(client, auth, courseware.id, 10, filename="clip.webm", content_type="").get_json()
    assert started["part_count"] == 1

    assert put_part(client, auth, started["asset_id"], 1, b"0123456789") == 200
    assert client.post(f"{UPLOADS}/{started['asset_id']}/complete", headers=auth).status_code == 200

    asset = db.session.get(MediaAsset, started["asset_id"])
    assert asset.content_type == "video/webm"
    with store.open(asset.original_key) as stored:
        assert stored.read() == b"0123456789"


def test_upload_resumes_after_a_dropped_connection_sending_only_the_missing_part(
    client, auth, courseware, store, enqueued
):
    file = PatternFile(2 * PART + 7)
    asset_id = start(client, auth, courseware.id, file.size).get_json()["asset_id"]
    assert put_part(client, auth, asset_id, 1, file.part(1, PART)) == 200
    assert put_part(client, auth, asset_id, 3, file.part(3, PART)) == 200
    # The connection drops in the middle of part 2: half of it arrives, then nothing.
    dropped = put_part(client, auth, asset_id, 2, Dropping(file.part(2, PART)[: PART // 2], PART))
    assert dropped != 200

    status = status_of(client, auth, asset_id)
    assert status["parts"] == [1, 3]
    assert status["received_bytes"] == PART + 7
    assert (status["size"], status["part_size"], status["part_count"]) == (file.size, PART, 3)

    assert put_part(client, auth, asset_id, 2, file.part(2, PART)) == 200
    assert status_of(client, auth, asset_id)["parts"] == [1, 2, 3]
    assert client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth).status_code == 200
    assert file.mismatches(store, db.session.get(MediaAsset, asset_id).original_key) == 0
    assert enqueued == [asset_id]


def test_a_replaced_courseware_video_stays_linked_until_the_new_upload_completes(
    client, auth, tree, store, enqueued
):
    old = MediaAsset(base_id=tree.base_a.id, original_key="media/old/original/a.mp4", original_filename="a.mp4",
                     size_bytes=1, status=MediaStatus.READY)
    db.session.add(old)
    db.session.commit()
    courseware = make_courseware(tree.base_a, CourseState.DRAFT, media_id=old.id)
    asset_id = start(client, auth, courseware.id, 5).get_json()["asset_id"]
    assert put_part(client, auth, asset_id, 1, b"video") == 200

    assert db.session.get(Courseware, courseware.id).media_id == old.id
    assert client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth).status_code == 200
    assert db.session.get(Courseware, courseware.id).media_id == asset_id


def test_abort_discards_the_parts_and_the_asset(client, auth, courseware, store, enqueued):
    asset_id = start(client, auth, courseware.id, PART + 1).get_json()["asset_id"]
    assert put_part(client, auth, asset_id, 1, PatternFile(PART + 1).part(1, PART)) == 200
    key = db.session.get(MediaAsset, asset_id).original_key

    response = client.delete(f"{UPLOADS}/{asset_id}", headers=auth)

    assert response.status_code == 204
    assert assets() == []
    assert not store.exists(key)
    assert client.get(f"{UPLOADS}/{asset_id}", headers=auth).status_code == 404
    assert enqueued == []


def test_a_completion_whose_transaction_was_lost_can_be_repeated(client, auth, courseware, store, enqueued):
    file = PatternFile(PART + 3)
    started = uploaded(client, auth, courseware, file)
    asset = db.session.get(MediaAsset, started["asset_id"])
    # The storage joined the parts, then the web process died before its commit.
    store.complete_multipart(asset.original_key, asset.upload_id)

    response = client.post(f"{UPLOADS}/{asset.id}/complete", headers=auth)

    assert response.status_code == 200, response.get_json()
    assert file.mismatches(store, asset.original_key) == 0
    assert enqueued == [asset.id]


# -- the browser's way in: session cookie plus CSRF header ------------------------------------------


def test_a_logged_in_page_uploads_with_its_csrf_token(client, admin, courseware, enqueued):
    login(client, admin)
    token = csrf_token(client, "/login")
    headers = {"X-CSRFToken": token}

    started = start(client, headers, courseware.id, 4)
    assert started.status_code == 201, started.get_json()
    assert started.headers["X-CSRFToken"]  # a fresh token for long uploads
    asset_id = started.get_json()["asset_id"]
    assert put_part(client, headers, asset_id, 1, b"abcd") == 200
    assert client.post(f"{UPLOADS}/{asset_id}/complete", headers=headers).status_code == 200
    assert enqueued == [asset_id]


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_session_without_a_valid_csrf_header_is_refused(client, admin, courseware, token):
    login(client, admin)
    headers = {"X-CSRFToken": token} if token else {}

    response = start(client, headers, courseware.id, 4)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert assets() == []


# -- who may ----------------------------------------------------------------------------------------

OUTSIDERS = ["other_base", "learner", "dept_admin", "hr_admin", "pending_base_admin", "anonymous"]


@pytest.fixture
def outsider(request, client, tree) -> dict:
    other_base = make_org(OrgKind.BASE, tree.dept_a)
    people = {
        "other_base": lambda: make_user(other_base),
        "learner": lambda: tree.learner_a,
        "dept_admin": lambda: tree.admins["dept_a"],
        "hr_admin": lambda: tree.admins["province"],
        "pending_base_admin": lambda: make_user(tree.base_a, Role.BASE_ADMIN, status=ReviewStatus.PENDING),
    }
    if request.param == "anonymous":
        return {}
    return api_token(client, people[request.param]())


@pytest.mark.parametrize("outsider", OUTSIDERS, indirect=True)
def test_outsiders_can_neither_start_nor_touch_an_upload(client, auth, courseware, outsider, store, enqueued):
    started = start(client, auth, courseware.id, PART + 1).get_json()
    asset_id = started["asset_id"]
    assert put_part(client, auth, asset_id, 1, PatternFile(PART + 1).part(1, PART)) == 200
    expected = 401 if not outsider else 403

    attempts = [
        start(client, outsider, courseware.id, 10),
        client.get(f"{UPLOADS}/{asset_id}", headers=outsider),
        client.get(f"{UPLOADS}/{asset_id}/parts/2", headers=outsider),
        client.put(f"{UPLOADS}/{asset_id}/parts/2", data=b"x", headers=outsider),
        client.post(f"{UPLOADS}/{asset_id}/complete", headers=outsider),
        client.delete(f"{UPLOADS}/{asset_id}", headers=outsider),
    ]

    assert [r.status_code for r in attempts] == [expected] * len(attempts)
    for response in attempts:
        error_of(response)
    assert [(a.id, a.status) for a in assets()] == [(asset_id, MediaStatus.UPLOADING)]
    assert status_of(client, auth, asset_id)["parts"] == [1]
    assert db.session.get(Courseware, courseware.id).media_id is None
    assert enqueued == []


def test_a_base_admin_cannot_upload_to_another_bases_course(client, tree, courseware):
    other_base = make_org(OrgKind.BASE, tree.dept_a)
    their_courseware = make_courseware(other_base)

    response = start(client, api_token(client, tree.admins["base_a"]), their_courseware.id, 10)

    assert response.status_code == 403
    assert "本基地" in error_of(response)
    assert assets() == []


@pytest.mark.parametrize("state", [CourseState.PUBLISHED, CourseState.WITHDRAWN])
def test_only_draft_courses_take_uploads_and_none_completes_after_publication(client, auth, tree, enqueued, state):
    not_draft = make_courseware(tree.base_a, state)
    response = start(client, auth, not_draft.id, 10)
    assert response.status_code == 409 and "只有草稿状态的课程可以上传视频" in error_of(response)

    courseware = make_courseware(tree.base_a, CourseState.DRAFT)
    asset_id = start(client, auth, courseware.id, 4).get_json()["asset_id"]
    assert put_part(client, auth, asset_id, 1, b"abcd") == 200
    courseware.course.state = state
    db.session.commit()

    response = client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth)

    assert response.status_code == 409 and "只有草稿状态的课程可以上传视频" in error_of(response)
    assert db.session.get(MediaAsset, asset_id).status == MediaStatus.UPLOADING
    assert db.session.get(Courseware, courseware.id).media_id is None
    assert enqueued == []


# -- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "status", "field"), [
    ({"size": -1}, 422, "size"),
    ({"size": 0}, 422, "size"),
    ({"size": 20 * 1024**3 + 1}, 422, "size"),
    ({"size": "12"}, 422, "size"),
    ({"size": 1.5}, 422, "size"),
    ({"filename": "notes.txt"}, 422, "filename"),
    ({"filename": "   "}, 422, "filename"),
    ({"filename": "a" * 256 + ".mp4"}, 422, "filename"),
    ({"filename": "lecture.mp4", "content_type": "text/plain"}, 422, "content_type"),
    ({"filename": "lecture.mp4", "content_type": "image/png"}, 422, "content_type"),
    ({"courseware_id": 999_999}, 404, None),
    ({"courseware_id": 2**40}, 404, None),
    ({"courseware_id": None}, 422, "courseware_id"),
    ({"unexpected": 1}, 422, "unexpected"),
])
def test_bad_start_requests_get_a_clear_error_and_create_nothing(client, auth, courseware, store, changes, status,
                                                                  field):
    body = {"courseware_id": courseware.id, "filename": "lecture.mp4", "size": 100, "content_type": "video/mp4"}
    body.update(changes)

    response = client.post(UPLOADS, json=body, headers=auth)

    assert response.status_code == status, response.get_json()
    error_of(response)
    if field:
        assert field in response.get_json()["error"]["fields"]
    assert assets() == []


@pytest.mark.parametrize(("filename", "content_type", "key_name", "stored_type"), [
    ("C:\\Users\\讲师\\Desktop\\第2讲.MOV", "video/quicktime", "第2讲.mov", "video/quicktime"),
    ("../../etc/passwd.mkv", "", "passwd.mkv", "video/x-matroska"),
    ("record.ts", "text/vnd.trolltech.linguist", "record.ts", "video/mp2t"),
    ("a\u202egnp.mp4", "application/octet-stream", "agnp.mp4", "video/mp4"),
    ("$$$.flv", "video/x-flv", "video.flv", "video/x-flv"),
    ("x" * 200 + ".wmv", "video/x-ms-wmv", "x" * 100 + ".wmv", "video/x-ms-wmv"),
])
def test_file_names_are_made_safe_keeping_the_extension(client, auth, courseware, filename, content_type,
                                                         key_name, stored_type):
    response = start(client, auth, courseware.id, 10, filename=filename, content_type=content_type)

    assert response.status_code == 201, response.get_json()
    asset = db.session.get(MediaAsset, response.get_json()["asset_id"])
    assert asset.original_key == f"media/{asset.id}/original/{key_name}"
    assert asset.content_type == stored_type


@pytest.mark.parametrize("number", [0, 3, 10_001])
def test_part_numbers_outside_the_upload_are_refused(client, auth, courseware, number):
    asset_id = start(client, auth, courseware.id, PART + 1).get_json()["asset_id"]

    for response in (
        client.get(f"{UPLOADS}/{asset_id}/parts/{number}", headers=auth),
        client.put(f"{UPLOADS}/{asset_id}/parts/{number}", data=b"x", headers=auth),
    ):
        if response.status_code == 409:  # S3: parts never go through the application
            continue
        assert response.status_code == 422
        assert "分片序号" in error_of(response)


def test_a_part_of_the_wrong_length_is_not_counted(client, auth, courseware, store):
    asset_id = start(client, auth, courseware.id, PART + 10).get_json()["asset_id"]

    too_short = put_part(client, auth, asset_id, 2, b"x" * 9)
    too_long = put_part(client, auth, asset_id, 2, b"x" * 11)

    if not store.direct_part_uploads:  # the application refuses it before reading a byte
        assert (too_short, too_long) == (422, 422)
    assert status_of(client, auth, asset_id)["parts"] == []
    assert put_part(client, auth, asset_id, 2, b"y" * 10) == 200
    assert status_of(client, auth, asset_id)["parts"] == [2]


def test_a_part_sent_without_content_length_is_refused(client, auth, courseware, store):
    if store.direct_part_uploads:
        pytest.skip("S3: parts go to the storage server, which requires Content-Length itself")
    asset_id = start(client, auth, courseware.id, 4).get_json()["asset_id"]

    # A chunked body, as the development server or gunicorn hands it over: no length known in advance.
    response = client.put(f"{UPLOADS}/{asset_id}/parts/1", input_stream=io.BytesIO(b"abcd"),
                          headers={**auth, "Transfer-Encoding": "chunked"},
                          environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 411
    assert "Content-Length" in error_of(response)


def test_a_part_larger_than_any_part_can_be_is_refused_unread(client, auth, courseware, store):
    if store.direct_part_uploads:
        pytest.skip("S3: parts go to the storage server")
    asset_id = start(client, auth, courseware.id, PART).get_json()["asset_id"]
    endless = Endless(10 * 1024**3)

    response = client.put(f"{UPLOADS}/{asset_id}/parts/1", input_stream=endless, headers=auth)

    assert response.status_code == 413
    assert endless.bytes_read == 0


def test_on_s3_the_application_refuses_parts_and_points_to_the_presigned_url(client, auth, courseware, store):
    if not store.direct_part_uploads:
        pytest.skip("local folder: parts do go through the application")
    asset_id = start(client, auth, courseware.id, 4).get_json()["asset_id"]

    response = client.put(f"{UPLOADS}/{asset_id}/parts/1", data=b"abcd", headers=auth)

    assert response.status_code == 409
    assert "预签名地址" in error_of(response)


def test_completing_with_missing_parts_names_them_and_changes_nothing(client, auth, courseware, store, enqueued):
    file = PatternFile(3 * PART)
    asset_id = start(client, auth, courseware.id, file.size).get_json()["asset_id"]
    assert put_part(client, auth, asset_id, 2, file.part(2, PART)) == 200

    response = client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth)

    assert response.status_code == 409
    assert "第 1、3 个" in error_of(response)
    assert response.get_json()["error"]["fields"]["missing_parts"] == "1,3"
    asset = db.session.get(MediaAsset, asset_id)
    assert asset.status == MediaStatus.UPLOADING and not store.exists(asset.original_key)
    assert status_of(client, auth, asset_id)["parts"] == [2]
    assert db.session.get(Courseware, courseware.id).media_id is None
    assert enqueued == []


def test_completing_twice_is_refused_and_queues_once(client, auth, courseware, enqueued):
    asset_id = start(client, auth, courseware.id, 4).get_json()["asset_id"]
    assert put_part(client, auth, asset_id, 1, b"abcd") == 200
    assert client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth).status_code == 200

    again = client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth)

    assert again.status_code == 409
    assert "重复" in error_of(again)
    assert client.get(f"{UPLOADS}/{asset_id}/parts/1", headers=auth).status_code == 409
    assert client.delete(f"{UPLOADS}/{asset_id}", headers=auth).status_code == 409
    assert enqueued == [asset_id]


@pytest.mark.parametrize("asset_id", [999_999, 2**40])
def test_unknown_uploads_are_not_found(client, auth, asset_id):
    for response in (
        client.get(f"{UPLOADS}/{asset_id}", headers=auth),
        client.get(f"{UPLOADS}/{asset_id}/parts/1", headers=auth),
        client.put(f"{UPLOADS}/{asset_id}/parts/1", data=b"x", headers=auth),
        client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth),
        client.delete(f"{UPLOADS}/{asset_id}", headers=auth),
    ):
        assert response.status_code == 404
        error_of(response)


def test_an_upload_whose_parts_storage_forgot_asks_to_start_again(client, auth, courseware, store, enqueued):
    asset_id = start(client, auth, courseware.id, 4).get_json()["asset_id"]
    asset = db.session.get(MediaAsset, asset_id)
    store.abort_multipart(asset.original_key, asset.upload_id)  # e.g. a lifecycle rule cleaned it up

    for response in (client.get(f"{UPLOADS}/{asset_id}", headers=auth),
                     client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth)):
        assert response.status_code == 409
        assert "重新选择文件" in error_of(response)
    assert enqueued == []
    assert client.delete(f"{UPLOADS}/{asset_id}", headers=auth).status_code == 204


def test_the_job_is_queued_only_after_the_commit(client, auth, courseware, monkeypatch, enqueued):
    seen: list[MediaStatus] = []

    def enqueue_processing(asset_id: int) -> None:
        # Another connection, as a worker's would be: it must already see the committed row.
        with db.engine.connect() as connection:
            seen.append(connection.scalar(sa.select(MediaAsset.status).where(MediaAsset.id == asset_id)))

    monkeypatch.setattr(sys.modules["media_worker.jobs"], "enqueue_processing", enqueue_processing)
    asset_id = start(client, auth, courseware.id, 4).get_json()["asset_id"]
    assert put_part(client, auth, asset_id, 1, b"abcd") == 200

    assert client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth).status_code == 200

    assert seen == [MediaStatus.QUEUED]


# -- 2 GiB, never in memory ---------------------------------------------------------------------------


@dataclass
class MemoryReport:
    python_peak: int = 0
    rss_growth: int = 0


@contextlib.contextmanager
def watching_memory() -> Iterator[MemoryReport]:
    """Measure this process meanwhile: Python's peak allocation and the growth of its resident memory."""
    report = MemoryReport()
    baseline = _rss()
    stop = threading.Event()

    def sample():
        while not stop.wait(0.02):
            report.rss_growth = max(report.rss_growth, _rss() - baseline)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    sampler.start()
    try:
        yield report
    finally:
        stop.set()
        sampler.join()
        report.python_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_2_gib_upload_streams_through_without_being_held_in_memory(client, auth, courseware, store, enqueued):
    file = PatternFile(2 * 1024**3 + 5)
    started_at = time.monotonic()
    with watching_memory() as memory:
        started = start(client, auth, courseware.id, file.size).get_json()
        asset_id, part_size, count = started["asset_id"], started["part_size"], started["part_count"]
        for number in range(1, count + 1):
            offset = (number - 1) * part_size
            length = min(part_size, file.size - offset)
            assert put_part(client, auth, asset_id, number, file.reader(offset, length)) == 200
        assert client.post(f"{UPLOADS}/{asset_id}/complete", headers=auth).status_code == 200
    elapsed = time.monotonic() - started_at
    key = db.session.get(MediaAsset, asset_id).original_key
    print(f"\n2 GiB upload ({type(store).__name__}): {count} parts of {part_size // MIB} MiB in {elapsed:.1f} s; "
          f"Python peak {memory.python_peak / MIB:.1f} MiB; RSS growth {memory.rss_growth / MIB:.1f} MiB")

    assert count == 129
    # Not the file, not even one part: the bytes pass through in 1 MiB chunks.
    assert memory.python_peak < part_size
    assert memory.rss_growth < 4 * part_size
    assert store.size(key) == file.size
    assert file.mismatches(store, key) == 0
    assert enqueued == [asset_id]
    store.delete(key)


# -- the browser's uploader, in a real Chromium ------------------------------------------------------

UPLOAD_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="csrf-token" content="{{ csrf_token() }}"></head><body>
<form data-courseware-id="{{ courseware_id }}"><input type="file" accept="video/*"><button type="submit">上传</button>
<progress value="0" max="1"></progress><p data-upload-status></p></form>
<script>
  window.partPuts = [];
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    window.partPuts.push(url);
    return open.apply(this, arguments);
  };
</script>
<script src="/static/uploader.js"></script>
<script>LmsUploader.attach(document.querySelector("form"));</script>
</body></html>"""


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app on a loopback port, with a bare page that hosts the uploader the way a course page does."""
    from flask import render_template_string
    from werkzeug.serving import make_server

    app.add_url_rule("/test/upload/<int:courseware_id>", "test_upload_page",
                     lambda courseware_id: render_template_string(UPLOAD_PAGE, courseware_id=courseware_id))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


class Chromium:
    """Headless Debian Chromium driven over the DevTools protocol (no Playwright needed)."""

    ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--remote-debugging-port=0"]

    def __init__(self, profile: str):
        import simple_websocket

        binary = shutil.which("chromium")
        if binary is None:
            services.require("Chromium", FileNotFoundError("找不到 chromium：运行 bash scripts/bootstrap.sh --browser"))
        self.process = subprocess.Popen([binary, *self.ARGS, f"--user-data-dir={profile}", "about:blank"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = self._devtools_port()
        pages = [t for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json() if t["type"] == "page"]
        self.socket = simple_websocket.Client.connect(pages[0]["webSocketDebuggerUrl"])
        self._next_id = 0

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + 20
        line = b""
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            match = re.search(rb"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                return int(match.group(1))
        raise RuntimeError(f"chromium did not start: {line!r}")

    def call(self, method: str, **params) -> dict:
        self._next_id += 1
        self.socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.receive(timeout=30))
            if message.get("id") == self._next_id:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}: {self.evaluate('document.body.innerText')!r}")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def choose_file(self, selector: str, path: str) -> None:
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", nodeId=node, files=[path])

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stderr.close()


@pytest.fixture
def chromium(tmp_path) -> Iterator[Chromium]:
    browser = Chromium(str(tmp_path / "chromium-profile"))
    yield browser
    browser.close()


def test_the_browser_uploader_resumes_with_the_missing_parts_and_reports_completion(
    live_server, chromium, admin, courseware, store, enqueued, tmp_path
):
    file = PatternFile(2 * PART + 4321, seed=5)
    path = tmp_path / "第3讲.mp4"
    with path.open("wb") as out:
        out.write(file.reader(0, file.size).read())
    # An earlier visit sent part 1, then the page was closed.
    with requests.Session() as script:
        token = script.post(f"{live_server}/api/v1/auth/token", json={"login": admin.login, "password": PASSWORD},
                            timeout=10).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        started = script.post(f"{live_server}{UPLOADS}", json={"courseware_id": courseware.id, "filename": path.name,
                                                              "size": file.size, "content_type": "video/mp4"},
                              headers=bearer, timeout=10).json()
        target = script.get(f"{live_server}{UPLOADS}/{started['asset_id']}/parts/1", headers=bearer, timeout=10).json()
        url = target["url"] if not target["same_origin"] else live_server + target["url"]
        assert script.put(url, data=file.part(1, PART), headers=bearer if target["same_origin"] else {},
                          timeout=60).status_code == 200

    chromium.open(f"{live_server}/login")
    chromium.evaluate(f"""document.querySelector('[name=login]').value = {json.dumps(admin.login)};
        document.querySelector('[name=password]').value = {json.dumps(PASSWORD)};
        document.querySelector('form').submit();""")
    chromium.wait_for("location.pathname !== '/login' && document.readyState === 'complete'")
    chromium.open(f"{live_server}/test/upload/{courseware.id}")
    chromium.choose_file("input[type=file]", str(path))
    chromium.evaluate(f"""const f = document.querySelector('input[type=file]').files[0];
        localStorage.setItem(['lms-upload:{courseware.id}', f.name, f.size, f.lastModified].join(':'),
                             JSON.stringify({{assetId: {started['asset_id']}}}));
        document.querySelector('form').requestSubmit();""")

    status = chromium.wait_for("""(() => { const p = document.querySelector('[data-upload-status]');
        return p.dataset.state === 'done' || p.dataset.state === 'error' ? p.dataset.state + ':' + p.textContent : '';
        })()""", timeout=120)

    assert status == "done:上传完成，正在排队转码…"
    assert chromium.evaluate("document.querySelector('progress').value") == file.size
    sent = chromium.evaluate("window.partPuts")
    assert sorted(re.search(r"(?:partNumber=|/parts/)(\d+)", u).group(1) for u in sent) == ["2", "3"], sent
    assert chromium.evaluate("Object.keys(localStorage).filter(k => k.startsWith('lms-upload:')).length") == 0
    asset = db.session.get(MediaAsset, started["asset_id"])
    assert asset.status == MediaStatus.QUEUED
    assert file.mismatches(store, asset.original_key) == 0
    assert enqueued == [asset.id]
