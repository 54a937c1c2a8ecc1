"""Resident ID-card numbers (GB 11643-1999) and the masking of personal numbers."""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Province-level codes of GB/T 2260 (first two digits).
_PROVINCE_CODES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
}
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_digit(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_id_number(raw: str) -> str:
    """Strip spaces and upper-case a trailing x, the way people type it."""
    return (raw or "").strip().replace(" ", "").upper()


def id_number_problem(raw: str, today: dt.date | None = None) -> str | None:
    """Return why an ID-card number is invalid (Chinese), or None when it is valid."""
    number = normalise_id_number(raw)
    if len(number) != 18:
        return f"身份证号码应为 18 位，当前为 {len(number)} 位。"
    if not _SHAPE.match(number):
        return "身份证号码只能由数字组成，最后一位可以是 X。"
    if number[:2] not in _PROVINCE_CODES:
        return "身份证号码前两位不是有效的省级行政区划代码。"
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "身份证号码中的出生日期无效。"
    today = today or dt.date.today()
    if birth > today or birth.year < 1900:
        return "身份证号码中的出生日期无效。"
    if check_digit(number[:17]) != number[17]:
        return "身份证号码校验位不正确，请核对后重新输入。"
    return None


def make_id_number(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid number from a 6-digit region code, a birth date and a 3-digit sequence (demo and tests)."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


def mask_id_number(number: str | None) -> str:
    """Show only the first 3 and last 4 characters: 420***********123X."""
    if not number:
        return ""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_phone(phone: str | None) -> str:
    """Show a mobile number as 138****5678."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
