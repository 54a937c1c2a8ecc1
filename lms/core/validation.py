"""Field checks shared by the services; each returns a Chinese reason or None."""

from __future__ import annotations

import re
import unicodedata

_PHONE = re.compile(r"^1[3-9]\d{9}$")


def clean_text(value) -> str:
    """Trim and normalise user text (full-width spaces, NFC) before it is checked or stored."""
    if value is None:
        return ""
    return unicodedata.normalize("NFC", str(value)).replace("\u3000", " ").strip()


def text_problem(value: str, label: str, max_length: int, required: bool = True) -> str | None:
    """Check a free-text field for presence, length and control characters."""
    if not value:
        return f"请填写{label}。" if required else None
    if len(value) > max_length:
        return f"{label}不能超过 {max_length} 个字符（当前 {len(value)} 个）。"
    if any(unicodedata.category(c) == "Cc" for c in value):
        return f"{label}含有不可见的控制字符。"
    return None


def phone_problem(phone: str) -> str | None:
    """Check a mainland mobile number (11 digits starting with 1)."""
    if not phone:
        return "请填写手机号码。"
    if not _PHONE.match(phone):
        return "手机号码应为 11 位数字，以 1 开头。"
    return None


def collect(problems: dict[str, str | None]) -> dict[str, str]:
    """Keep only the fields that have a problem."""
    return {field: message for field, message in problems.items() if message}
