"""Notice attachments: PDF, Word (.docx), Excel (.xlsx), PNG or JPEG, judged by content, size- and count-limited.

PDFs and images go through the declarations' evidence checks (``lms.declarations.evidence``); Office files are
ZIP packages that must open and hold the part their kind needs, so a renamed archive or executable is refused.
Every file of a request is checked before the first is stored, so a refusal stores nothing.
"""

from __future__ import annotations

import secrets
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from lms.core.errors import InvalidInput
from lms.declarations import evidence
from lms.declarations.evidence import MIB, CheckedFile, settings_from_config, size_text

Upload = tuple[BinaryIO, str | None]
# The part an Office package of each kind must contain, and what it is served as.
OFFICE_KINDS = {
    "word/document.xml": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xl/workbook.xml": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}
FIELD = "attachments"


@dataclass(frozen=True)
class AttachmentSettings:
    """Limits on a notice's attachments; overridden by ``app.config["LMS_NOTICES"]`` (a dict)."""

    attachment_max_bytes: int = 10 * MIB
    attachment_max_files: int = 5

    @classmethod
    def current(cls) -> AttachmentSettings:
        """Return the running app's settings."""
        return settings_from_config(cls, "LMS_NOTICES")


def _office(stream: BinaryIO, name: str, size: int) -> CheckedFile | None:
    try:
        with zipfile.ZipFile(stream) as package:
            parts = set(package.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidInput({FIELD: f"文件“{name}”不是有效的 Word 或 Excel 文件（可能已损坏）。"}) from None
    finally:
        stream.seek(0)
    if "[Content_Types].xml" in parts:
        for part, (content_type, extension) in OFFICE_KINDS.items():
            if part in parts:
                return CheckedFile(stream, name, content_type, extension, size)
    return None


def check_attachment(stream: BinaryIO, filename: str | None, settings: AttachmentSettings) -> CheckedFile:
    """Check one attachment's size and type by its content; raise InvalidInput naming the file."""
    name = evidence._clean_name(filename)
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    if size == 0:
        raise InvalidInput({FIELD: f"文件“{name}”是空文件。"})
    if size > settings.attachment_max_bytes:
        raise InvalidInput({FIELD: f"文件“{name}”大小为 {size_text(size)}，超过单个附件 "
                                   f"{size_text(settings.attachment_max_bytes)} 的上限。"})
    head = stream.read(8)
    stream.seek(0)
    refused = InvalidInput({FIELD: f"文件“{name}”不是 PDF、Word（.docx）、Excel（.xlsx）、PNG 或 JPEG 格式"
                                   "（按文件内容判断，与扩展名无关）。"})
    if head.startswith(b"PK\x03\x04"):
        checked = _office(stream, name, size)
        if checked is None:
            raise refused
        return checked
    limits = evidence.EvidenceSettings(evidence_max_bytes=settings.attachment_max_bytes)
    try:
        return evidence.check_file(stream, filename, limits)
    except InvalidInput as problem:
        if "不是 PDF、PNG 或 JPEG" in problem.message:
            raise refused from None
        raise InvalidInput({FIELD: problem.message}) from None


def check_attachments(uploads: list[Upload], already: int, settings: AttachmentSettings) -> list[CheckedFile]:
    """Check a request's attachments against the per-file and per-notice limits, all before storing any."""
    if already + len(uploads) > settings.attachment_max_files:
        raise InvalidInput({FIELD: f"每条通知最多 {settings.attachment_max_files} 个附件"
                                   f"（已有 {already} 个，本次 {len(uploads)} 个）。"})
    return [check_attachment(stream, filename, settings) for stream, filename in uploads]


def new_key(notice_id: int, extension: str) -> str:
    return f"notices/{notice_id}/{secrets.token_hex(12)}{extension}"


put = evidence.put
stream = evidence.stream
delete_quietly = evidence.delete_quietly
