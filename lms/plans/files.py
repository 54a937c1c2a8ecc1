"""Files of plans and annual materials: checked by content with the notices' attachment checks, stored, streamed.

The checks themselves are ``lms.notices.attachments.check_attachment`` (PDF, Word, Excel, PNG, JPEG judged by
content); only the limits are this package's (``app.config["LMS_PLANS"]``). Every file of a request is checked
before the first is stored, so a refusal stores nothing; a failed commit removes what was stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from lms.core.errors import InvalidInput
from lms.declarations import evidence
from lms.declarations.evidence import CheckedFile, settings_from_config, size_text
from lms.extensions import csrf, db
from lms.notices.attachments import FIELD, AttachmentSettings, Upload, check_attachment

__all__ = ["FIELD", "PlanFileSettings", "Upload", "check_uploads", "commit_or_unstore", "download", "request_uploads",
           "store_checked", "size_text"]


@dataclass(frozen=True)
class PlanFileSettings(AttachmentSettings):
    """Limits on the files of one plan version or one annual material; overridden by ``app.config["LMS_PLANS"]``."""

    @classmethod
    def current(cls) -> PlanFileSettings:
        """Return the running app's settings."""
        return settings_from_config(cls, "LMS_PLANS")


def check_uploads(uploads: list[Upload], already: int, what: str) -> list[CheckedFile]:
    """Check a request's files against the per-file limit and the count limit of ``what``, before storing any."""
    settings = PlanFileSettings.current()
    if already + len(uploads) > settings.attachment_max_files:
        raise InvalidInput({FIELD: f"每份{what}最多 {settings.attachment_max_files} 个附件"
                                   f"（已有 {already} 个，本次 {len(uploads)} 个）。"})
    return [check_attachment(stream, filename, settings) for stream, filename in uploads]


def store_checked(prefix: str, checked: list[CheckedFile]) -> list[tuple[str, CheckedFile]]:
    """Store checked files under ``prefix``; return (key, file) pairs; on a failure remove what was stored."""
    stored: list[tuple[str, CheckedFile]] = []
    try:
        for file in checked:
            key = f"{prefix}/{secrets.token_hex(12)}{file.extension}"
            evidence.put(key, file)
            stored.append((key, file))
    except BaseException:
        evidence.delete_quietly([key for key, _ in stored])
        raise
    return stored


def request_uploads() -> list[Upload]:
    """Read the request's ``attachments`` files, refusing a body larger than every allowed file together."""
    settings = PlanFileSettings.current()
    request.max_content_length = settings.attachment_max_files * settings.attachment_max_bytes + 256 * 1024
    try:
        files = request.files.getlist(FIELD)
        csrf.protect()
    except RequestEntityTooLarge:
        raise InvalidInput({FIELD: f"上传内容超过上限：最多 {settings.attachment_max_files} 个附件，"
                                   f"每个不超过 {size_text(settings.attachment_max_bytes)}。"}) from None
    return [(file.stream, file.filename) for file in files if file and file.filename]


def commit_or_unstore(keys: list[str]) -> None:
    """Commit; when the commit fails, remove the objects this request stored, so nothing is left half-written."""
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        evidence.delete_quietly(keys)
        raise


def download(key: str, filename: str, content_type: str, size: int) -> Response:
    """Send a stored file as a download that the browser never runs."""
    chunks = evidence.stream(key)
    first = next(chunks, b"")  # open it now, so that a storage failure is an error page, not a cut download

    def body():
        if first:
            yield first
        yield from chunks

    response = Response(body(), mimetype=content_type)
    response.content_length = size
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
