"""Helpers shared by the course, catalogue and delivery tests: courses, READY media whose (small, fake) HLS
files are really written to the app's object store in the media worker's layout, and the app served on a
loopback port with a browser-like logged-in session (for Socket.IO and for ffprobe).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import io
import itertools
import os
import re
import threading

import requests
from flask import current_app
from werkzeug.serving import make_server

from lms.accounts.models import User
from lms.core.db import utcnow
from lms.courses.events import register_socketio_namespaces
from lms.courses.models import Category, Course, CourseState, Courseware, Enrollment, MediaAsset, MediaStatus
from lms.courses.service import current_year
from lms.extensions import db, socketio
from lms.orgs.models import Org
from tests.conftest import PASSWORD

SEGMENT_SECONDS = 6
RENDITIONS = (("360p", 640, 360, 800_000), ("720p", 1280, 720, 2_800_000))
_serial = itertools.count(1)


def put_object(key: str, data: bytes) -> None:
    """Write bytes to the app's object store."""
    current_app.extensions["lms.storage"].put(key, io.BytesIO(data), len(data))


def segment_bytes(asset_id: int, rendition: str, index: int) -> bytes:
    """Return the recognisable fake content of one segment."""
    return f"segment {asset_id}/{rendition}/{index} ".encode() * 8


def make_media(base: Org, *, status: MediaStatus = MediaStatus.READY, duration_s: float | None = 3120.0,
               encrypted: bool = False, segments: int = 3, write_files: bool = True) -> MediaAsset:
    """Create a media asset of the base; when READY, write its HLS version 1 (playlists, segments, poster, key)."""
    asset = MediaAsset(base_id=base.id, original_key=f"originals/test/{next(_serial)}.mp4",
                       original_filename="讲座.mp4", size_bytes=1024, status=status, duration_s=duration_s,
                       progress_percent=100 if status == MediaStatus.READY else 40, encrypted=encrypted)
    db.session.add(asset)
    db.session.flush()
    if status == MediaStatus.READY:
        asset.hls_version, asset.processed_at = 1, utcnow()
        asset.renditions = [{"name": name, "width": w, "height": h, "bandwidth": bw, "playlist": f"{name}/index.m3u8"}
                            for name, w, h, bw in RENDITIONS]
        if write_files:
            _write_hls(asset, segments)
    db.session.commit()
    return asset


def _write_hls(asset: MediaAsset, segments: int) -> None:
    prefix = asset.hls_prefix
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for name, width, height, bandwidth in RENDITIONS:
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height}", f"{name}/index.m3u8"]
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
                 "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
        if asset.encrypted:
            lines.append('#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x000102030405060708090a0b0c0d0e0f')
        for index in range(segments):
            lines += [f"#EXTINF:{SEGMENT_SECONDS}.000000,", f"seg_{index:05d}.ts"]
            put_object(f"{prefix}{name}/seg_{index:05d}.ts", segment_bytes(asset.id, name, index))
        lines.append("#EXT-X-ENDLIST")
        put_object(f"{prefix}{name}/index.m3u8", ("\n".join(lines) + "\n").encode())
    put_object(f"{prefix}master.m3u8", ("\n".join(master) + "\n").encode())
    put_object(f"{prefix}poster.jpg", b"\xff\xd8\xff\xe0fake-jpeg-poster")
    if asset.encrypted:
        put_object(f"keys/{asset.id}/v{asset.hls_version}/key.bin", os.urandom(16))


def make_packaged_media(base: Org, folder) -> MediaAsset:
    """Create a READY encrypted media asset of the base from a folder made by ``package_encrypted_hls``."""
    rendition = folder / "240p"
    playlist = (rendition / "index.m3u8").read_text()
    duration = round(sum(float(x) for x in re.findall(r"#EXTINF:([\d.]+),", playlist)), 3)
    asset = MediaAsset(base_id=base.id, original_key="originals/browser.mp4", original_filename="讲座.mp4",
                       size_bytes=1, status=MediaStatus.READY, duration_s=duration, encrypted=True, hls_version=1,
                       processed_at=utcnow(), progress_percent=100,
                       renditions=[{"name": "240p", "width": 320, "height": 240, "bandwidth": 400_000,
                                    "playlist": "240p/index.m3u8"}])
    db.session.add(asset)
    db.session.commit()
    for path in sorted(rendition.iterdir()):
        put_object(f"{asset.hls_prefix}240p/{path.name}", path.read_bytes())
    put_object(f"{asset.hls_prefix}master.m3u8",
               b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x240\n240p/index.m3u8\n")
    put_object(f"{asset.hls_prefix}poster.jpg", b"\xff\xd8\xff\xe0poster")
    put_object(f"keys/{asset.id}/v1/key.bin", (folder / "key.bin").read_bytes())
    return asset


def make_course(base: Org, *, title: str | None = None, category: Category = Category.PUBLIC,
                year: int | None = None, description: str = "", state: CourseState = CourseState.DRAFT,
                hours=(), media: list[MediaAsset | None] | None = None,
                published_at: dt.datetime | None = None) -> Course:
    """Create a course of the base with one courseware per entry of ``hours`` (media attached in order)."""
    number = next(_serial)
    course = Course(base_id=base.id, category=category, year=year or current_year(),
                    title=title or f"测试课程{number}", description=description, state=state,
                    published_at=published_at or (utcnow() if state != CourseState.DRAFT else None))
    db.session.add(course)
    for position, value in enumerate(hours, start=1):
        asset = media[position - 1] if media else None
        course.coursewares.append(Courseware(position=position, title=f"第{position}讲",
                                             labelled_hours=decimal.Decimal(str(value)),
                                             media_id=asset.id if asset else None))
    db.session.commit()
    return course


def make_published_course(base: Org, hours=(1.0,), **kwargs) -> Course:
    """Create a published course whose coursewares each have ready media."""
    write_files = kwargs.pop("write_files", False)
    media = [make_media(base, write_files=write_files) for _ in hours]
    return make_course(base, state=CourseState.PUBLISHED, hours=hours, media=media, **kwargs)


def enroll(user: User, course: Course) -> None:
    """Enrol a learner directly in the database."""
    db.session.add(Enrollment(user_id=user.id, course_id=course.id))
    db.session.commit()


@contextlib.contextmanager
def live_server(app):
    """Serve the app (Socket.IO included) on a loopback port, as in production."""
    register_socketio_namespaces(socketio)  # until create_app does it
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def browser_session(url: str, user) -> requests.Session:
    """Log in through the real login form, as a browser would, and keep its session cookie."""
    session = requests.Session()
    html = session.get(f"{url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = session.post(f"{url}/login", data={"login": user.login, "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return session
