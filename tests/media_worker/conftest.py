"""Fixtures for the media worker tests: generated videos (made once per session), assets, and HLS read-back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from minio import Minio

from lms.config import Config
from lms.core.storage import LocalFolderObjectStore, ObjectStore
from lms.courses.models import MediaAsset, MediaStatus
from lms.extensions import db
from lms.orgs.models import Org, OrgKind
from media_worker.jobs import key_storage_key, process_media
from media_worker.packaging import parse_media_playlist
from tests.conftest import make_org
from tests.support import media, services

PRESIGN_TTL = dt.timedelta(minutes=5)
HLS_PROTOCOLS = "file,http,https,tcp,tls,crypto"


@pytest.fixture(scope="session", autouse=True)
def _ffmpeg_installed() -> None:
    if not services.ffmpeg_available():
        services.require(services.FFMPEG, FileNotFoundError("PATH 中没有 ffmpeg 或 ffprobe"))


class VideoLibrary:
    """Test files generated on first use and shared by every test of the session."""

    def __init__(self, root: Path):
        self.root = root
        self._made: dict[str, Path] = {}

    def video(self, name: str, **options) -> Path:
        """Return the test video called name, generating it with make_test_video(**options) the first time."""
        if name not in self._made:
            self._made[name] = media.make_test_video(self.root / name, **options)
        return self._made[name]

    def h264_480p(self) -> Path:
        return self.video("h264-480p.mp4", seconds=4, width=640, height=480)

    def h264_240p(self) -> Path:
        return self.video("h264-240p.mp4", seconds=4, width=320, height=240)

    def mpeg4_240p(self) -> Path:
        return self.video("mpeg4-240p.avi", seconds=4, vcodec="mpeg4", acodec="mp3", container="avi")

    def vp8_400p(self) -> Path:
        return self.video("vp8-400p.webm", seconds=4, width=400, height=400, vcodec="libvpx", acodec="libvorbis",
                          container="webm")

    def bad(self, kind: str) -> Path:
        """Return a broken upload: text, truncated, audio_only, empty or too_long (a valid 4 s video)."""
        path = self.root / f"bad-{kind}.mp4"
        if kind == "text":
            return media.make_text_file(path)
        if kind == "truncated":
            whole = self.video("faststart.mp4", seconds=4, faststart=True)
            return media.make_truncated_copy(whole, path, keep_fraction=0.6)
        if kind == "audio_only":
            return media.make_audio_only(path)
        if kind == "empty":
            return media.make_empty_file(path)
        if kind == "too_long":
            return self.h264_240p()
        raise ValueError(kind)


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> VideoLibrary:
    return VideoLibrary(tmp_path_factory.mktemp("videos"))


@pytest.fixture
def base(app, _published_media_removed) -> Org:
    return make_org(OrgKind.BASE, name="测试继续教育基地")


@pytest.fixture
def _published_media_removed(app):
    """Remove every media/ and keys/ object after the test: asset ids restart at 1 in each test."""
    yield
    store = app.extensions["lms.storage"]
    if isinstance(store, LocalFolderObjectStore):
        for folder in ("media", "keys"):
            shutil.rmtree(store.root / folder, ignore_errors=True)
        return
    settings = app.extensions["lms.config"].s3
    client = Minio(settings.endpoint, settings.access_key, settings.secret_key, secure=settings.secure)
    for folder in ("media/", "keys/"):
        for item in client.list_objects(settings.bucket, prefix=folder, recursive=True):
            client.remove_object(settings.bucket, item.object_name)


def create_asset(app, base: Org, source: Path, status: MediaStatus = MediaStatus.QUEUED) -> MediaAsset:
    """Store a file as an upload's original and create its QUEUED asset row."""
    store: ObjectStore = app.extensions["lms.storage"]
    key = f"originals/{base.id}/{uuid.uuid4().hex}/{source.name}"
    with source.open("rb") as stream:
        store.put(key, stream, length=source.stat().st_size)
    asset = MediaAsset(base_id=base.id, original_key=key, original_filename=source.name,
                       size_bytes=source.stat().st_size, content_type="video/mp4", status=status)
    db.session.add(asset)
    db.session.commit()
    return asset


def process_with_settings(app_factory, config: Config, asset_id: int, **changes) -> None:
    """Run the job in an app built with other settings.

    Takes the id, not the asset: touching the test's own objects inside the other app's context would make
    Flask-SQLAlchemy bind the test's session to that app's engine, and leak the connection.
    """
    with app_factory(dataclasses.replace(config, **changes)).app_context():
        process_media(asset_id)


def reload(asset: MediaAsset) -> MediaAsset:
    """Return the asset as the database now has it."""
    db.session.expire_all()
    return db.session.get(MediaAsset, asset.id)


def fetch_text(app, key: str) -> str:
    """Read a stored text object the way a browser would: through a presigned URL (S3) or from the folder."""
    store = app.extensions["lms.storage"]
    if isinstance(store, LocalFolderObjectStore):
        return store.path_for(key).read_text()
    response = requests.get(store.presign_get(key, PRESIGN_TTL), timeout=10)
    response.raise_for_status()
    return response.text


def playable_playlist(app, asset: MediaAsset, rendition: str, work: Path) -> Path:
    """Write a local copy of a rendition's playlist whose segment lines are presigned URLs (or stored files).

    For an encrypted version the key URI points at a local copy of the key, as the player's key URL would.
    """
    store = app.extensions["lms.storage"]
    prefix = asset.hls_prefix + f"{rendition}/"
    text = fetch_text(app, prefix + "index.m3u8")
    segments = {uri for _, uri in parse_media_playlist(text)}
    lines = []
    for line in text.splitlines():
        if line in segments:
            line = _segment_location(store, prefix + line)
        elif line.startswith("#EXT-X-KEY"):
            key_file = work / f"key-{asset.id}.bin"
            with store.open(key_storage_key(asset.id, asset.hls_version)) as stream:
                key_file.write_bytes(stream.read())
            line = re.sub(r'URI="[^"]*"', f'URI="{key_file}"', line)
        lines.append(line)
    playlist = work / f"{asset.id}-{rendition}.m3u8"
    playlist.write_text("\n".join(lines) + "\n")
    return playlist


def _segment_location(store: ObjectStore, key: str) -> str:
    if isinstance(store, LocalFolderObjectStore):
        return str(store.path_for(key))
    return store.presign_get(key, PRESIGN_TTL)


def ffprobe_hls(playlist: Path) -> dict:
    """Read every packet of an HLS rendition with ffprobe; return its streams and duration."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-protocol_whitelist", HLS_PROTOCOLS, "-allowed_extensions", "ALL",
         "-count_packets", "-show_entries", "format=duration:stream=codec_type,codec_name,width,height,nb_read_packets",
         "-of", "json", str(playlist)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    return json.loads(result.stdout)
