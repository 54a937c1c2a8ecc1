"""The reviewer's picture of a session: media position against real time, with the evidence marked.

x is real time since the session opened (the server's clock), y the media position. Each stretch between two
accepted heartbeats is drawn from the trace (``PlaybackSession.trace``): solid where it was credited, dashed where
a rule refused it (rate, seeking ahead, overlap), dotted where nothing was played or the page was away. A diagonal
from the starting position climbs at the allowed playback rate: honest playing runs parallel to it, a raised
rate climbs visibly steeper. Events sit in labelled lanes above the plot at the time they happened, and those that
carry risk points drop a faint line through the plot. Everything is geometry computed here; the template
(``review/_chart.html``) only writes it out as SVG.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field

from lms.review.evidence import (
    LANES,
    REASON_LABELS,
    VIOLATION_REASONS,
    describe_values,
    event_kind,
    mmss,
    risk_points,
)
from lms.tracking.service import format_duration

WIDTH = 960
PLOT_LEFT, PLOT_RIGHT = 76, WIDTH - 24
LANE_TOP, LANE_HEIGHT = 10, 22
PLOT_HEIGHT = 320
MARKER_R = 5.5
LEGEND_ROW = 20
# A tail without heartbeats (a tab gone away until the idle close) longer than the activity before it and than
# IDLE_BREAK_MIN_S is drawn as a break of BREAK_WIDTH at the right, so the axis scales to what was played.
IDLE_BREAK_MIN_S = 120.0
BREAK_WIDTH = 110.0
_NICE_STEPS_S = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600)

# How a stretch of the trace is drawn, by class: (legend text, colour, stroke width, dash pattern).
SEGMENT_STYLES: dict[str, tuple[str, str, float, str]] = {
    "credited": ("已计时（正常播放）", "#2f855a", 3.5, ""),
    "violation": ("未计时：违规（倍速、拖动、超出进度、重叠）", "#c53030", 2.5, "9 5"),
    "idle": ("未计时：暂停、缓冲、中断、回退", "#7b8794", 2.0, "2 4"),
}


@dataclass(frozen=True)
class TracePoint:
    """One accepted heartbeat: when (s since the session opened), where the media was, and what it earned."""

    t_s: float
    position_s: float
    credited_s: float
    reason: str | None

    @classmethod
    def from_raw(cls, raw: list) -> TracePoint:
        t_ms, position_ms, credited_ms, reason = (list(raw) + [None] * 4)[:4]
        return cls(float(t_ms or 0) / 1000, float(position_ms or 0) / 1000, float(credited_ms or 0) / 1000,
                   reason or None)


@dataclass(frozen=True)
class ChartEvent:
    t_s: float
    type: str
    values: dict


@dataclass(frozen=True)
class Segment:
    """The stretch between two heartbeats, judged by the later one."""

    t0: float
    p0: float
    t1: float
    p1: float
    credited_s: float
    reason: str | None

    @property
    def kind(self) -> str:
        if self.credited_s > 0:
            return "credited"
        return "violation" if self.reason in VIOLATION_REASONS else "idle"

    @property
    def seconds(self) -> float:
        return max(self.t1 - self.t0, 0.0)

    @property
    def speed(self) -> float:
        """Media seconds per real second over the stretch."""
        return (self.p1 - self.p0) / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Run:
    """Consecutive stretches of one kind, drawn as one polyline."""

    kind: str
    points: str  # "x,y x,y …" in SVG units
    title: str

    @property
    def style(self) -> tuple[str, str, float, str]:
        """(legend text, colour, stroke width, dash pattern)."""
        return SEGMENT_STYLES[self.kind]


@dataclass(frozen=True)
class Marker:
    type: str
    label: str
    x: float
    y: float
    path: str
    colour: str
    title: str
    risky: bool
    outline: bool  # crosses and pluses are drawn as strokes, the other shapes filled
    lane_y: float = 0.0  # the lane's middle; ``y`` is moved off it when another marker stands at the same time


@dataclass
class Chart:
    """Everything the template draws, in SVG units."""

    width: int
    height: int
    plot_top: float
    plot_bottom: float
    plot_left: float
    plot_right: float
    x_max_s: float
    y_max_s: float
    allowed_rate: float
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    reference: tuple[float, float, float, float] = (0, 0, 0, 0)
    rate_guides: list[tuple[float, float, float, float]] = field(default_factory=list)
    lanes: list[tuple[str, float]] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    marker_labels: list[tuple[float, float, str]] = field(default_factory=list)
    risk_lines: list[float] = field(default_factory=list)
    held_x: float | None = None
    tail_end_s: float | None = None  # set when the idle tail is drawn as a break (x_max_s ends the scaled part)
    tail: dict | None = None  # the break's geometry and label for the template
    legend_lines: list[tuple[str, str, float, str, float, float]] = field(default_factory=list)
    legend_markers: list[tuple[str, str, str, float, float, bool]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    empty: bool = False

    @property
    def scaled_right(self) -> float:
        """Where the scaled part of the time axis ends: the plot's right edge, or the start of the idle break."""
        return self.plot_right if self.tail_end_s is None else self.plot_right - BREAK_WIDTH

    def x(self, t_s: float) -> float:
        t_s = max(t_s, 0.0)
        if self.tail_end_s is None or t_s <= self.x_max_s:
            return self.plot_left + (self.scaled_right - self.plot_left) * min(t_s, self.x_max_s) / self.x_max_s
        # Inside the break: the idle tail, squeezed, its events in order up to the right edge.
        span = self.tail_end_s - self.x_max_s
        inner_left = self.scaled_right + 24
        return inner_left + (self.plot_right - 8 - inner_left) * min(t_s - self.x_max_s, span) / span

    def y(self, position_s: float) -> float:
        span = self.plot_bottom - self.plot_top
        return self.plot_bottom - span * min(max(position_s, 0.0), self.y_max_s) / self.y_max_s


def nice_axis(span_s: float, max_ticks: int = 8) -> tuple[float, float]:
    """Return (step, axis end) for an axis covering ``span_s`` seconds with at most ``max_ticks`` steps."""
    span_s = max(span_s, 1.0)
    for step in _NICE_STEPS_S:
        if span_s / step <= max_ticks:
            return float(step), step * math.ceil(span_s / step - 1e-9)
    step = _NICE_STEPS_S[-1] * math.ceil(span_s / (_NICE_STEPS_S[-1] * max_ticks))
    return float(step), step * math.ceil(span_s / step - 1e-9)


def segments_of(points: list[TracePoint], start_position_s: float) -> list[Segment]:
    """Turn trace points into stretches; the first runs from the session's opening (t = 0, start position)."""
    segments, t0, p0 = [], 0.0, start_position_s
    for point in points:
        segments.append(Segment(t0, p0, point.t_s, point.position_s, point.credited_s, point.reason))
        t0, p0 = point.t_s, point.position_s
    return segments


def build_chart(trace: list[list], events: list[ChartEvent], allowed_rate: float = 1.0) -> Chart:
    """Lay out the picture of one session from its trace points and its events (times in s since it opened)."""
    points = [TracePoint.from_raw(raw) for raw in trace]
    events = sorted(events, key=lambda e: e.t_s)
    opened = next((e for e in events if e.type == "opened"), None)
    if opened is not None and isinstance(opened.values.get("resume_ms"), int | float):
        start_position = opened.values["resume_ms"] / 1000
    else:
        start_position = points[0].position_s if points else 0.0
    segments = segments_of(points, start_position)

    last_t = max([p.t_s for p in points] + [e.t_s for e in events] + [10.0])
    activity_end = max([p.t_s for p in points] + [10.0])
    idle_tail_s = last_t - activity_end
    breaks = bool(points) and idle_tail_s >= IDLE_BREAK_MIN_S and idle_tail_s > activity_end
    top_position = max([p.position_s for p in points] + [start_position, 10.0])
    x_step, x_max = nice_axis(activity_end if breaks else last_t)
    y_step, y_max = nice_axis(top_position, max_ticks=6)
    lanes_bottom = LANE_TOP + LANE_HEIGHT * len(LANES)
    plot_top = lanes_bottom + 14
    plot_bottom = plot_top + PLOT_HEIGHT
    chart = Chart(width=WIDTH, height=0, plot_top=plot_top, plot_bottom=plot_bottom, plot_left=PLOT_LEFT,
                  plot_right=PLOT_RIGHT, x_max_s=x_max, y_max_s=y_max, allowed_rate=allowed_rate,
                  empty=not points, tail_end_s=last_t if breaks and last_t > x_max else None)
    chart.x_ticks = [(chart.x(i * x_step), mmss(i * x_step)) for i in range(int(round(x_max / x_step)) + 1)]
    if chart.tail_end_s is not None:
        chart.x_ticks.append((chart.x(last_t), mmss(last_t)))
        chart.tail = _tail(chart, points[-1], last_t)
    chart.y_ticks = [(chart.y(i * y_step), mmss(i * y_step)) for i in range(int(round(y_max / y_step)) + 1)]
    chart.runs = _runs(chart, segments)
    chart.reference = _reference(chart, start_position)
    chart.rate_guides = _rate_guides(chart, segments)
    chart.lanes = [(label, LANE_TOP + LANE_HEIGHT * (i + 0.5)) for i, label in enumerate(LANES.values())]
    _place_markers(chart, events)
    _legend(chart, events)
    chart.summary = summarise(segments, events, allowed_rate)
    if chart.tail is not None:
        chart.summary.append(f"最后一次心跳后 {chart.tail['idle']}没有心跳，图右侧以折断线压缩表示这段时间。")
    return chart


def _tail(chart: Chart, last: TracePoint, end_s: float) -> dict:
    """The break that stands for the idle tail: a dotted line at the last position across it, and its length."""
    left = chart.scaled_right
    y = round(chart.y(last.position_s), 1)
    middle = (chart.plot_top + chart.plot_bottom) / 2
    label_y = chart.plot_bottom - 36 if y < middle else chart.plot_top + 34  # away from the dotted line
    return {"left": round(left, 1), "right": chart.plot_right, "y": y, "label_y": label_y,
            "from_x": round(chart.x(last.t_s), 1), "to_x": round(chart.x(end_s), 1),
            "idle": format_duration((end_s - last.t_s) * 1000),
            "title": f"{mmss(last.t_s)}–{mmss(end_s)} 无心跳（页面离开或关闭），压缩显示"}


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _runs(chart: Chart, segments: list[Segment]) -> list[Run]:
    runs: list[Run] = []
    current: list[Segment] = []

    def close():
        if not current:
            return
        kind = current[0].kind
        coords = [(current[0].t0, current[0].p0)] + [(s.t1, s.p1) for s in current]
        text = " ".join(f"{_fmt(chart.x(t))},{_fmt(chart.y(p))}" for t, p in coords)
        reasons = Counter(REASON_LABELS.get(s.reason or "", "") for s in current if s.reason)
        why = "、".join(r for r, _ in reasons.most_common() if r)
        title = (f"{mmss(current[0].t0)}–{mmss(current[-1].t1)} {SEGMENT_STYLES[kind][0]}"
                 + (f"（{why}）" if why and kind != "credited" else ""))
        runs.append(Run(kind, text, title))

    for segment in segments:
        if current and segment.kind != current[0].kind:
            close()
            current = []
        current.append(segment)
    close()
    return runs


def _clip_diagonal(chart: Chart, t0: float, p0: float, duration: float) -> tuple[float, float, float, float]:
    """A line from (t0, p0) at the allowed rate for ``duration`` seconds, stopped at the plot's edges."""
    rate = chart.allowed_rate
    t1 = min(t0 + duration, chart.x_max_s, t0 + (chart.y_max_s - p0) / rate if rate > 0 else chart.x_max_s)
    t1 = max(t1, t0)
    return (float(_fmt(chart.x(t0))), float(_fmt(chart.y(p0))), float(_fmt(chart.x(t1))),
            float(_fmt(chart.y(p0 + (t1 - t0) * rate))))


def _reference(chart: Chart, start_position: float) -> tuple[float, float, float, float]:
    return _clip_diagonal(chart, 0.0, start_position, chart.x_max_s)


def _rate_guides(chart: Chart, segments: list[Segment]) -> list[tuple[float, float, float, float]]:
    """For each run of stretches refused for their rate, the allowed-rate line from where the run began."""
    guides, run_start, run_end = [], None, None
    for segment in [*segments, None]:
        if segment is not None and segment.reason == "rate":
            if run_start is None:
                run_start = segment
            run_end = segment
            continue
        if run_start is not None:
            guides.append(_clip_diagonal(chart, run_start.t0, run_start.p0, run_end.t1 - run_start.t0))
            run_start = run_end = None
    return guides


def marker_path(shape: str, x: float, y: float, r: float = MARKER_R) -> str:
    """Return the SVG path of a marker shape centred on (x, y)."""
    f = _fmt
    if shape == "square":
        s = r * 0.85
        return f"M{f(x - s)},{f(y - s)}h{f(2 * s)}v{f(2 * s)}h{f(-2 * s)}Z"
    if shape == "triangle":
        return f"M{f(x)},{f(y - r)}L{f(x + r)},{f(y + r * 0.8)}L{f(x - r)},{f(y + r * 0.8)}Z"
    if shape == "tri_down":
        return f"M{f(x)},{f(y + r)}L{f(x + r)},{f(y - r * 0.8)}L{f(x - r)},{f(y - r * 0.8)}Z"
    if shape == "diamond":
        return f"M{f(x)},{f(y - r)}L{f(x + r)},{f(y)}L{f(x)},{f(y + r)}L{f(x - r)},{f(y)}Z"
    if shape == "cross":
        s = r * 0.8
        return f"M{f(x - s)},{f(y - s)}L{f(x + s)},{f(y + s)}M{f(x + s)},{f(y - s)}L{f(x - s)},{f(y + s)}"
    if shape == "plus":
        return f"M{f(x - r)},{f(y)}H{f(x + r)}M{f(x)},{f(y - r)}V{f(y + r)}"
    if shape == "bar":
        return f"M{f(x - 1.5)},{f(y - r)}h3v{f(2 * r)}h-3Z"
    # circle, as a path so that every marker is one element type
    return (f"M{f(x - r)},{f(y)}a{f(r)},{f(r)} 0 1,0 {f(2 * r)},0a{f(r)},{f(r)} 0 1,0 {f(-2 * r)},0Z")


STROKE_ONLY_SHAPES = frozenset({"cross", "plus"})


def _place_markers(chart: Chart, events: list[ChartEvent]) -> None:
    lane_y = dict(zip(LANES, (y for _, y in chart.lanes), strict=True))
    risk_xs: set[float] = set()
    for event in events:
        kind = event_kind(event.type)
        x, lane = round(chart.x(event.t_s), 1), lane_y.get(kind.lane, lane_y["session"])
        y = _free_y(chart.markers, event.type, x, lane)
        details = describe_values(event.values)
        points = risk_points(event.type)
        title = f"{mmss(event.t_s, tenths=True)} {kind.label}" + (f"：{details}" if details else "") + (
            f"（风险 +{points}）" if points else "")
        chart.markers.append(Marker(event.type, kind.label, x, y, marker_path(kind.shape, x, y), kind.colour,
                                    title, points > 0, kind.shape in STROKE_ONLY_SHAPES, lane))
        if points:
            risk_xs.add(x)
        if event.type == "held" and chart.held_x is None:
            chart.held_x = x
    chart.risk_lines = sorted(risk_xs)
    _label_markers(chart)


# Where a marker goes when another of a different type already stands at its time in its lane: just above or
# below the lane's middle (the lane is 22 units high, a marker 11), so that neither hides the other.
NUDGES = (0.0, -5.5, 5.5)


def _free_y(placed: list[Marker], event_type: str, x: float, lane: float) -> float:
    for nudge in NUDGES:
        y = lane + nudge
        if not any(m.lane_y == lane and m.type != event_type and abs(m.x - x) < MARKER_R * 1.6
                   and abs(m.y - y) < MARKER_R for m in placed):
            return y
    return lane


def _label_width(text: str) -> float:
    return 11.0 * sum(1 if ord(c) > 0x2E80 else 0.6 for c in text) + 4


def _label_markers(chart: Chart) -> None:
    """Label markers beside them where the lane has room: a close run of one type gets one label ("倍速播放 ×3")
    after its last marker. Markers left unlabelled are named by the legend and their tooltips."""
    lanes: dict[float, list[Marker]] = {}
    for marker in chart.markers:
        lanes.setdefault(marker.lane_y, []).append(marker)
    for y, lane in lanes.items():
        clusters: list[list[Marker]] = []
        for marker in lane:
            last = clusters[-1][-1] if clusters else None
            if last is not None and last.type == marker.type and marker.x - last.x < _label_width(marker.label) + 8:
                clusters[-1].append(marker)
            else:
                clusters.append([marker])
        label_end = chart.plot_left - 100.0
        per_type: dict[str, int] = {}
        for marker in lane:
            per_type[marker.type] = per_type.get(marker.type, 0) + 1
        for cluster in clusters:
            text = cluster[0].label + (f" ×{len(cluster)}" if len(cluster) > 1 else "")
            if per_type[cluster[0].type] > len(cluster):
                # The type recurs elsewhere on the lane: say the whole count, as the summary does.
                text += f"（共 {per_type[cluster[0].type]} 次）"
            start = cluster[-1].x + MARKER_R + 3
            end = start + _label_width(text)
            covered = any(start - MARKER_R < m.x < end + MARKER_R for m in lane if m not in cluster)
            if start >= label_end and end <= chart.width - 2 and not covered:
                chart.marker_labels.append((round(start, 1), y + 4, text))
                label_end = end + 6


def _legend(chart: Chart, events: list[ChartEvent]) -> None:
    top = chart.plot_bottom + 56
    used = [kind for kind in SEGMENT_STYLES if any(run.kind == kind for run in chart.runs)] or ["credited"]
    lines = [(SEGMENT_STYLES[k][0], SEGMENT_STYLES[k][1], SEGMENT_STYLES[k][2], SEGMENT_STYLES[k][3]) for k in used]
    lines.append((f"允许速率参考线（{chart.allowed_rate:g}×：视频每秒前进 {chart.allowed_rate:g} 秒）", "#1d4e89", 1.5,
                  "12 4 2 4"))
    chart.legend_lines = []
    for i, (text, colour, width, dash) in enumerate(lines):
        chart.legend_lines.append((text, colour, width, dash, chart.plot_left, top + LEGEND_ROW * i))
    seen: list[str] = []
    for event in events:
        if event.type not in seen:
            seen.append(event.type)
    seen.sort(key=lambda t: (list(LANES).index(event_kind(t).lane), t))
    marker_top = top + LEGEND_ROW * len(lines) + 8
    columns = 3
    column_width = (chart.plot_right - chart.plot_left) / columns
    chart.legend_markers = []
    for i, event_type in enumerate(seen):
        kind = event_kind(event_type)
        x = chart.plot_left + column_width * (i % columns) + MARKER_R
        y = marker_top + LEGEND_ROW * (i // columns)
        points = risk_points(event_type)
        text = f"{LANES[kind.lane]} · {kind.label}" + (f"（风险 {points} 分/次）" if points else "")
        chart.legend_markers.append((marker_path(kind.shape, x, y), kind.colour, text, x + 12, y + 4,
                                     kind.shape in STROKE_ONLY_SHAPES))
    rows = math.ceil(len(seen) / columns)
    chart.height = int(marker_top + LEGEND_ROW * rows + 10)


def summarise(segments: list[Segment], events: list[ChartEvent], allowed_rate: float) -> list[str]:
    """Say in a few Chinese sentences what the picture shows."""
    if not segments:
        return ["本次播放没有被接受的心跳，没有可画的轨迹。"]
    real = segments[-1].t1
    credited = sum(s.credited_s for s in segments)
    sentences = [f"共 {len(segments)} 次心跳，历时 {format_duration(real * 1000)}，"
                 f"其中计时 {format_duration(credited * 1000)}（含尚待注意力验证确认的部分）。"]
    refused: dict[str, list[Segment]] = {}
    runs: Counter[str] = Counter()  # consecutive refused heartbeats of one reason are one stretch
    previous = None
    for segment in segments:
        reason = segment.reason if segment.credited_s <= 0 else None
        if reason:
            refused.setdefault(reason, []).append(segment)
            if reason != previous:
                runs[reason] += 1
        previous = reason
    for reason, stretches in sorted(refused.items(), key=lambda item: -sum(s.seconds for s in item[1])):
        label = REASON_LABELS.get(reason, reason)
        sentence = f"{label}：{runs[reason]} 段，共 {format_duration(sum(s.seconds for s in stretches) * 1000)}未计时"
        if reason == "rate":
            advance = sum(s.p1 - s.p0 for s in stretches)
            seconds = sum(s.seconds for s in stretches) or 1.0
            sentence += f"，这些段视频平均以 {advance / seconds:.1f} 倍速前进（允许 {allowed_rate:g} 倍）"
        sentences.append(sentence + "。")
    risky = Counter(e.type for e in events if risk_points(e.type))
    if risky:
        signs = "、".join(f"{event_kind(t).label} {n} 次" for t, n in risky.most_common())
        sentences.append(f"可疑迹象：{signs}。")
    return sentences


def events_of(session) -> list[ChartEvent]:
    """Return a session's events with their times in seconds since it opened."""
    return [ChartEvent(seconds_between(session.started_at, e.at), e.type, e.values or {}) for e in session.events]


def seconds_between(start: dt.datetime, moment: dt.datetime) -> float:
    return (moment - start).total_seconds()


def chart_for(session, allowed_rate: float) -> Chart:
    """Lay out the picture of a stored playback session."""
    return build_chart(session.trace, events_of(session), allowed_rate)
