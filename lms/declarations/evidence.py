"""Evidence files of a declaration: PDF, PNG or JPEG judged by their content, size-limited, in object storage.

The name a browser sends and the type it claims are ignored: the first bytes decide (an .exe renamed .pdf is
refused), and images must also open in Pillow, PDFs end with an ``%%EOF`` marker. Every file of a request is
checked before the first is stored, so a refusal stores nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from flask import current_app
from PIL import Image, UnidentifiedImageError

from lms.core.errors import InvalidInput, ServiceError
from lms.core.storage import ObjectStore, StorageError

MIB = 1024 * 1024
PDF_TAIL_BYTES = 2048  # "%%EOF" sits at the very end, perhaps followed by a line break or some padding
READ_CHUNK = 64 * 1024


class StorageBusy(ServiceError):
    status = 503
    code = "storage_unavailable"


def settings_from_config(cls, key: str):
    """Build a settings dataclass from the dict ``app.config[key]``, refusing names it does not have."""
    values = dict(current_app.config.get(key) or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{key} 中有未知设置：{', '.join(unknown)}（可用：{', '.join(sorted(known))}）")
    return cls(**values)


@dataclass(frozen=True)
class EvidenceSettings:
    """Limits on evidence files; overridden by ``app.config["LMS_DECLARATIONS"]`` (a dict)."""

    evidence_max_bytes: int = 10 * MIB
    evidence_max_files: int = 5

    @classmethod
    def current(cls) -> EvidenceSettings:
        """Return the running app's settings."""
        return settings_from_config(cls, "LMS_DECLARATIONS")

    @property
    def max_size_text(self) -> str:
        return size_text(self.evidence_max_bytes)


def size_text(size: int) -> str:
    """Write a file size as a person reads it: 10 MB, 39.1 KB."""
    value, unit = (size / MIB, "MB") if size >= MIB else (size / 1024, "KB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


@dataclass(frozen=True)
class CheckedFile:
    """An uploaded file that passed the checks, ready to store."""

    stream: BinaryIO
    filename: str
    content_type: str
    extension: str
    size: int


def _sniff(head: bytes) -> tuple[str, str] | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf", ".pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", ".jpg"
    return None


def _size(stream: BinaryIO) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def _clean_name(filename: str | None) -> str:
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    name = "".join(char for char in name if char.isprintable())
    return name[:200] or "材料"


def check_file(stream: BinaryIO, filename: str | None, settings: EvidenceSettings) -> CheckedFile:
    """Check one upload's size and type by content; raise InvalidInput with a Chinese message naming the file."""
    name = _clean_name(filename)
    size = _size(stream)
    if size == 0:
        raise InvalidInput({"evidence": f"文件“{name}”是空文件。"})
    if size > settings.evidence_max_bytes:
        raise InvalidInput({"evidence": f"文件“{name}”大小为 {size_text(size)}，超过单个文件 "
                                        f"{settings.max_size_text} 的上限。"})
    head = stream.read(16)
    stream.seek(0)
    sniffed = _sniff(head)
    refused = (f"文件“{name}”不是 PDF、PNG 或 JPEG 格式（按文件内容判断，与扩展名无关），"
               "请上传证书、通知等材料的 PDF 或图片。")
    if sniffed is None:
        raise InvalidInput({"evidence": refused})
    content_type, extension = sniffed
    if content_type == "application/pdf":
        stream.seek(max(0, size - PDF_TAIL_BYTES))
        tail = stream.read()
        stream.seek(0)
        if b"%%EOF" not in tail:
            raise InvalidInput({"evidence": f"文件“{name}”不是完整的 PDF 文件（可能已损坏或未下载完整）。"})
    else:
        try:
            with Image.open(stream, formats=["PNG" if extension == ".png" else "JPEG"]) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise InvalidInput({"evidence": f"文件“{name}”不是有效的图片（可能已损坏）。"}) from None
        finally:
            stream.seek(0)
    return CheckedFile(stream, name, content_type, extension, size)


def check_files(uploads: list[tuple[BinaryIO, str | None]], already: int, settings: EvidenceSettings,
                required: bool) -> list[CheckedFile]:
    """Check a request's files against the per-file and per-declaration limits, all before storing any."""
    if required and not uploads:
        raise InvalidInput({"evidence": "请上传证明材料（PDF、PNG 或 JPEG）。"})
    if already + len(uploads) > settings.evidence_max_files:
        raise InvalidInput({"evidence": f"每份申报最多 {settings.evidence_max_files} 个证明材料文件"
                                        f"（已有 {already} 个，本次 {len(uploads)} 个）。"})
    return [check_file(stream, filename, settings) for stream, filename in uploads]


def store() -> ObjectStore:
    return current_app.extensions["lms.storage"]


def new_key(declaration_id: int, extension: str) -> str:
    return f"declarations/{declaration_id}/{secrets.token_hex(12)}{extension}"


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except StorageError as exc:
        raise StorageBusy(f"证明材料暂时无法保存或读取，请稍后重试（{exc}）。") from exc


def put(key: str, checked: CheckedFile) -> None:
    """Store one checked file under key."""
    checked.stream.seek(0)
    with storage_errors():
        store().put(key, checked.stream, length=checked.size, content_type=checked.content_type)


def delete_quietly(keys: list[str]) -> None:
    """Remove objects stored for a request that then failed, so that nothing is left half-written."""
    for key in keys:
        with contextlib.suppress(StorageError):
            store().delete(key)


def stream(key: str) -> Iterator[bytes]:
    """Yield an object's bytes in chunks, never holding the whole file."""
    with storage_errors(), store().open(key) as file:
        while chunk := file.read(READ_CHUNK):
            yield chunk
