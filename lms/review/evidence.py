"""The evidence a playback session carries, said in Chinese: event types, their values, interval reasons, times.

The event types and value keys are those of ``docs/tracking-protocol.md`` §5 (written by ``lms/tracking/lua``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lms.tracking.service import RISK_POLICY, format_duration


@dataclass(frozen=True)
class EventKind:
    """How one event type is named and drawn: its Chinese label, its lane on the chart, its marker."""

    label: str
    lane: str
    shape: str  # circle, square, triangle, tri_down, diamond, cross, plus, bar
    colour: str


# The chart's lanes, top to bottom, with their labels.
LANES: dict[str, str] = {
    "session": "会话",
    "rate": "倍速",
    "seek": "拖动",
    "network": "网络",
    "check": "验证",
    "devices": "多端",
    "automation": "自动化",
}

_BLUE, _RED, _ORANGE, _GREEN, _GREY = "#1d4e89", "#c53030", "#b7791f", "#2f855a", "#52606d"

EVENT_KINDS: dict[str, EventKind] = {
    "opened": EventKind("开始播放", "session", "circle", _BLUE),
    "resumed": EventKind("重新连接", "session", "diamond", _BLUE),
    "closed": EventKind("结束播放", "session", "square", _BLUE),
    "held": EventKind("转入人工审核", "session", "bar", _RED),
    "daily_cap": EventKind("达到每日上限", "session", "plus", _GREY),
    "rate": EventKind("倍速播放", "rate", "triangle", _RED),
    "rate_setting": EventKind("播放速率被改动", "rate", "square", _ORANGE),
    "rate_attempt": EventKind("试图改变倍速（已拦截）", "rate", "plus", _ORANGE),
    "seek": EventKind("跳转进度", "seek", "circle", _GREY),
    "seek_ahead": EventKind("拖动到未观看位置", "seek", "triangle", _RED),
    "beyond_verified": EventKind("超出已验证进度", "seek", "square", _RED),
    "seek_attempt": EventKind("试图向前拖动（已拦截）", "seek", "plus", _ORANGE),
    "gap": EventKind("网络中断", "network", "circle", _GREY),
    "flood": EventKind("上报过于频繁", "network", "triangle", _ORANGE),
    "bad_token": EventKind("校验令牌错误", "network", "cross", _RED),
    "check_issued": EventKind("发出注意力验证", "check", "circle", _BLUE),
    "check_passed": EventKind("验证通过", "check", "diamond", _GREEN),
    "check_wrong": EventKind("验证回答错误", "check", "cross", _RED),
    "check_missed": EventKind("验证超时未答", "check", "square", _RED),
    "check_unanswered": EventKind("验证未作答（不作废）", "check", "tri_down", _GREY),
    "check_fast": EventKind("验证作答过快", "check", "triangle", _RED),
    "played_during_check": EventKind("验证期间仍在播放", "check", "plus", _ORANGE),
    "voided": EventKind("暂计时长作废", "check", "bar", _RED),
    "concurrent": EventKind("多端同时播放", "devices", "triangle", _RED),
    "superseded": EventKind("被其他播放接管", "devices", "tri_down", _ORANGE),
    "superseded_heartbeat": EventKind("被接管后仍在上报", "devices", "plus", _ORANGE),
    "overlap": EventKind("与其他播放重叠", "devices", "circle", _GREY),
    "shared_address": EventKind("同一地址多个账号", "devices", "square", _RED),
    "shared_device": EventKind("同一设备多个账号", "devices", "diamond", _RED),
    "address_mixed_orgs": EventKind("同一地址多个无关单位账号", "devices", "square", _RED),
    "device_relay": EventKind("同一设备多个账号接连播放同一课件", "devices", "diamond", _RED),
    "similar_device": EventKind("同一地址相同配置的浏览器", "devices", "circle", _ORANGE),
    "automation": EventKind("自动化迹象", "automation", "cross", _RED),
    "regular_cadence": EventKind("上报节奏机器般规律", "automation", "triangle", _RED),
    "hidden_playing": EventKind("页面隐藏时仍在播放", "automation", "plus", _ORANGE),
}


def event_kind(event_type: str) -> EventKind:
    """Return how an event type is named and drawn; a type this module does not know keeps its own name."""
    return EVENT_KINDS.get(event_type) or EventKind(event_type, "session", "circle", _GREY)


def risk_points(event_type: str) -> int:
    """Return the risk points one event of this type adds (before its type's cap), 0 for timeline marks."""
    return RISK_POLICY.get(event_type, (0, 0))[0]


# Why an interval earned nothing (the trace's reason), short, for the chart and its summary.
REASON_LABELS: dict[str, str] = {
    "gap": "网络中断",
    "rate": "倍速播放",
    "seek_ahead": "拖动到未观看位置",
    "seek": "跳转进度",
    "seek_back": "回退进度",
    "beyond_verified": "超出已验证进度",
    "paused": "暂停",
    "stalled": "缓冲",
    "check_pending": "等待注意力验证",
    "overlap": "与其他播放重叠",
    "daily_cap": "达到每日上限",
}

# Reasons that are a rule broken (drawn as "违规"), as opposed to a pause, a drop or a rewind.
VIOLATION_REASONS = frozenset({"rate", "seek_ahead", "beyond_verified", "overlap"})

_CHECK_KINDS = {"play": "播放中验证", "end": "播放结束验证", "close": "关闭页面验证"}
_SOURCES = {"webdriver": "navigator.webdriver 为真", "user_agent": "无头浏览器标识"}
_END_REASONS = {"closed": "页面关闭", "idle": "长时间无心跳", "takeover": "被其他播放接管"}
# value key → (label, how to show it)
_VALUE_FORMATS: dict[str, tuple[str, str]] = {
    "dt_ms": ("间隔", "duration"),
    "advance_ms": ("视频前进", "duration"),
    "drift_ms": ("累计超前", "duration"),
    "from_ms": ("从", "position"),
    "to_ms": ("到", "position"),
    "pos_ms": ("位置", "position"),
    "furthest_ms": ("已验证进度", "position"),
    "resume_ms": ("起播位置", "position"),
    "ms": ("时长", "duration"),
    "voided_ms": ("作废", "duration"),
    "confirmed_ms": ("确认", "duration"),
    "latency_ms": ("作答用时", "duration"),
    "cap_ms": ("每日上限", "duration"),
    "sd_ms": ("间隔标准差", "millis"),
    "n": ("心跳数", "plain"),
    "kind": ("验证类型", "check_kind"),
    "id": ("验证编号", "plain"),
    "reason": ("原因", "reason"),
    "by": ("接管的会话", "plain"),
    "other": ("另一会话", "plain"),
    "risk": ("风险分", "plain"),
    "rate": ("页面倍速", "rate"),
    "count": ("次数", "plain"),
    "accounts": ("账号数", "plain"),
    "ip": ("地址", "plain"),
    "device": ("设备", "plain"),
    "organisations": ("无关单位数", "plain"),
    "courseware_id": ("课件编号", "plain"),
    "source": ("来源", "source"),
}


def mmss(seconds: float, tenths: bool = False) -> str:
    """Say a time on the chart's axes: "mm:ss" with minutes beyond 59 ("75:00"), optionally tenths."""
    negative = seconds < 0
    seconds = abs(seconds)
    if tenths:
        whole, tenth = divmod(int(round(seconds * 10)), 10)
        text = f"{whole // 60:02d}:{whole % 60:02d}.{tenth}"
    else:
        whole = int(round(seconds))
        text = f"{whole // 60:02d}:{whole % 60:02d}"
    return f"-{text}" if negative else text


def describe_values(values: dict | None) -> str:
    """Say an event's values in Chinese: "间隔 5.0 秒，视频前进 10.0 秒，累计超前 7.5 秒"."""
    parts = []
    for key, value in (values or {}).items():
        if value in (None, "", {}, []):
            continue
        label, how = _VALUE_FORMATS.get(key, (key, "plain"))
        parts.append(f"{label} {_format_value(value, how)}")
    return "，".join(parts)


def _format_value(value, how: str) -> str:
    if how in ("duration", "position", "millis") and not isinstance(value, int | float):
        return str(value)
    if how == "duration":
        return f"{value / 1000:.1f} 秒" if abs(value) < 60_000 else format_duration(value)
    if how == "position":
        return mmss(value / 1000, tenths=True)
    if how == "millis":
        return f"{value:g} 毫秒"
    if how == "rate" and isinstance(value, int | float):
        return f"{value:g}×"
    if how == "check_kind":
        return _CHECK_KINDS.get(str(value), str(value))
    if how == "reason":
        return _END_REASONS.get(str(value)) or REASON_LABELS.get(str(value)) or EVENT_KINDS.get(
            str(value), EventKind(str(value), "", "", "")).label
    if how == "source":
        return _SOURCES.get(str(value), str(value))
    return str(value)

