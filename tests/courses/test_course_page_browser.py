"""The base admin's course page in headless Chromium against the served app: a real upload through the page's
uploader, then the media worker's job rejecting the file, as a new base admin meets it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import media_worker.jobs as jobs
from lms.courses.models import MediaAsset, MediaStatus
from lms.extensions import db
from tests.player import live_server, make_course
from tests.support.browser import chromium, log_in


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Hold the media job at its one seam; the test runs the real job itself, once the page has uploaded."""
    calls: list[int] = []
    monkeypatch.setattr(jobs, "enqueue_processing", calls.append)
    return calls


def test_after_a_rejected_file_the_uploader_follows_the_status_instead_of_still_saying_queued(app, tree, queued):
    course = make_course(tree.base_a, hours=(0.1,))
    courseware = course.coursewares[0]
    with chromium() as browser, live_server(app) as url:
        page = browser.new_page()
        page.set_default_timeout(20_000)
        log_in(page, url, tree.admins["base_a"])
        page.goto(f"{url}/base/courses/{course.id}")
        form = page.locator(f"form.upload[data-courseware-id='{courseware.id}']")
        form.locator("input[type=file]").set_input_files(
            files=[{"name": "讲座.mp4", "mimeType": "video/mp4", "buffer": b"this is not a video " * 500}])
        form.locator("button[type=submit]").click()
        line = form.locator(".upload-status")
        page.wait_for_function("el => el.textContent.startsWith('上传完成')", arg=line.element_handle())
        assert queued  # the upload was completed and its processing asked for

        jobs.process_media(queued[0])  # the worker's job: ffprobe refuses the file
        db.session.expire_all()
        assert db.session.scalar(sa.select(MediaAsset.status).where(MediaAsset.id == queued[0])) == MediaStatus.FAILED

        status = page.locator(f"#courseware-{courseware.id} [data-role=status]")
        page.wait_for_function("el => el.textContent.includes('处理失败')", arg=status.element_handle())
        page.wait_for_function("el => el.dataset.mediaStatus === 'failed'", arg=line.element_handle())
        assert "排队转码" not in line.inner_text() and "未能处理" in line.inner_text()
        assert page.locator(f"#courseware-{courseware.id} [data-role=problem]").is_visible()
