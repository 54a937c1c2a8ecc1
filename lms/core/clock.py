"""China Standard Time: the day and year hours are earned in, and how stored (naive UTC) times are shown."""

from __future__ import annotations

import datetime as dt

CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def china_time(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Show a stored (naive UTC) time in China Standard Time; '' for None."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=dt.UTC).astimezone(CHINA_TIME).strftime(fmt)


def china_date(moment: dt.datetime) -> dt.date:
    """The China Standard Time date of a stored (naive UTC) time."""
    return moment.replace(tzinfo=dt.UTC).astimezone(CHINA_TIME).date()
