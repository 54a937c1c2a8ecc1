"""The reviewer's picture: a crafted trace gives the expected lines and markers, in well-formed inline SVG."""

from __future__ import annotations

import pytest

from lms.review.chart import ChartEvent, build_chart, nice_axis
from lms.review.evidence import describe_values, mmss
from tests.conftest import login
from tests.review import (
    SVG_NS,
    chart_svg,
    make_session,
    markers,
    polylines,
    speed_up_events,
    speed_up_trace,
)
from tests.tracking import make_ready_courseware


@pytest.fixture
def courseware(tree):
    return make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0, labelled_hours="0.1")


def ticks(svg, axis: str) -> dict[str, float]:
    """Return tick label → its position along the axis (x for the time axis, y for the media axis)."""
    attr = "x" if axis == "x" else "y"
    return {t.text: float(t.get(attr)) for t in svg.iter(f"{SVG_NS}text") if t.get("class") == f"{axis}-tick"}


def reference_y(svg, x: float) -> float:
    line = next(e for e in svg.iter(f"{SVG_NS}line") if e.get("class") == "reference")
    x1, y1, x2, y2 = (float(line.get(k)) for k in ("x1", "y1", "x2", "y2"))
    return y1 + (y2 - y1) * (x - x1) / (x2 - x1)


def test_a_speed_up_stretch_climbs_above_the_allowed_rate_line_with_its_events_marked(client, tree, courseware):
    session = make_session(tree.learner_a, courseware, trace=speed_up_trace(), events=speed_up_events())
    login(client, tree.reviewer)
    svg = chart_svg(client.get(f"/review/sessions/{session.id}").get_data(as_text=True))

    x_ticks, y_ticks = ticks(svg, "x"), ticks(svg, "y")
    assert list(x_ticks) == ["00:00", "00:15", "00:30", "00:45", "01:00", "01:15", "01:30", "01:45", "02:00"]
    assert list(y_ticks) == ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]
    px_per_s = (x_ticks["02:00"] - x_ticks["00:00"]) / 120
    at = lambda seconds: x_ticks["00:00"] + px_per_s * seconds  # noqa: E731
    media_px_per_s = (y_ticks["00:00"] - y_ticks["02:30"]) / 150

    # Credited playing before the speed-up lies on the allowed-rate line; the 2× stretch is drawn apart, dashed,
    # every point of it above the line, and twice as steep.
    credited, violation = polylines(svg, "credited"), polylines(svg, "violation")
    assert len(credited) == 2 and len(violation) == 1 and polylines(svg, "idle") == []
    assert all(abs(y - reference_y(svg, x)) < 0.6 for x, y in credited[0])
    (start, *rest) = violation[0]
    assert abs(start[0] - at(60)) < 0.6 and abs(rest[-1][0] - at(90)) < 0.6
    assert all(reference_y(svg, x) - y > 5 for x, y in rest)
    slope = (start[1] - rest[-1][1]) / media_px_per_s / ((rest[-1][0] - start[0]) / px_per_s)
    assert slope == pytest.approx(2.0, abs=0.02)
    dashed = [e for e in svg.iter(f"{SVG_NS}polyline") if "seg-violation" in e.get("class")]
    assert dashed[0].get("stroke-dasharray")

    # The three rate events at 65, 70 and 75 s, the hold at 75 s, on the time axis's scale.
    assert markers(svg, "rate") == pytest.approx([at(65), at(70), at(75)], abs=0.6)
    assert markers(svg, "held") == pytest.approx([at(75)], abs=0.6)
    held_line = next(e for e in svg.iter(f"{SVG_NS}line") if e.get("class") == "held-line")
    assert float(held_line.get("x1")) == pytest.approx(at(75), abs=0.6)
    texts = [t.text for t in svg.iter(f"{SVG_NS}text")]
    for label in ("倍速", "验证", "多端", "自动化", "倍速播放 ×3", "转入审核", "已计时（正常播放）",
                  "未计时：违规（倍速、拖动、超出进度、重叠）", "倍速 · 倍速播放（风险 35 分/次）"):
        assert label in texts, label
    assert any(t.startswith("允许速率参考线（1×") for t in texts)


def test_pauses_gaps_and_seeks_are_drawn_as_uncredited_stretches():
    trace = [[5000, 5000, 5000, None], [10000, 5000, 0, "paused"], [50000, 5000, 0, "gap"],
             [55000, 200000, 0, "seek_ahead"], [60000, 205000, 0, "beyond_verified"], [65000, 10000, 0, "seek_back"],
             [70000, 15000, 5000, None]]
    events = [ChartEvent(0.0, "opened", {"resume_ms": 0}), ChartEvent(50.0, "gap", {"dt_ms": 40000}),
              ChartEvent(55.0, "seek_ahead", {"from_ms": 5000, "to_ms": 200000, "dt_ms": 5000})]
    chart = build_chart(trace, events)
    assert [run.kind for run in chart.runs] == ["credited", "idle", "violation", "idle", "credited"]
    # The pause and the gap are flat: the media stayed at 00:05.
    idle = chart.runs[1].points.split()
    assert len({point.split(",")[1] for point in idle}) == 1
    assert chart.y_max_s == 240.0 and chart.x_max_s == 70.0
    marker = next(m for m in chart.markers if m.type == "seek_ahead")
    assert marker.x == pytest.approx(chart.x(55.0), abs=0.1) and marker.risky and "风险 +15" in marker.title
    assert chart.risk_lines == [marker.x]
    assert any("网络中断：1 段，共 40 秒未计时" in s for s in chart.summary)


def test_an_empty_session_still_renders_an_explained_chart(client, tree, courseware):
    session = make_session(tree.learner_a, courseware, trace=[], events=[(0.0, "opened", {"resume_ms": 0})])
    login(client, tree.reviewer)
    html = client.get(f"/review/sessions/{session.id}").get_data(as_text=True)
    svg = chart_svg(html)
    assert polylines(svg, "credited") == [] and "没有被接受的心跳" in html


def test_hostile_values_keep_the_svg_well_formed(client, tree, courseware):
    nasty = '<script>alert("x")</script>&'
    session = make_session(tree.learner_a, courseware, device_id="dev-<b>&amp;",
                           events=[(0.0, "opened", {"resume_ms": 0}),
                                   (10.0, "shared_device", {"accounts": 2, "device": nasty}),
                                   (12.0, "from-a-newer-server<>", {"x": nasty})])
    login(client, tree.reviewer)
    html = client.get(f"/review/sessions/{session.id}").get_data(as_text=True)
    assert "<script>" not in html
    svg = chart_svg(html)
    titles = [t.text for t in svg.iter(f"{SVG_NS}title")]
    assert any(nasty in (t or "") for t in titles)
    assert markers(svg, "from-a-newer-server<>")


def test_axis_steps_and_labels_for_long_sessions():
    assert nice_axis(120) == (15.0, 120)
    assert nice_axis(121) == (20.0, 140)
    assert nice_axis(2 * 3600 + 5) == (1200.0, 8400)
    assert mmss(0) == "00:00" and mmss(75 * 60) == "75:00" and mmss(61.27, tenths=True) == "01:01.3"
    chart = build_chart([[t * 1000, t * 1000, 5000, None] for t in range(5, 3 * 3600, 5)], [])
    assert chart.x_ticks[-1][1] == "180:00" and len(chart.x_ticks) <= 9


def test_event_values_are_said_in_chinese():
    assert describe_values({"dt_ms": 5000, "advance_ms": 10000, "drift_ms": 7500}) == (
        "间隔 5.0 秒，视频前进 10.0 秒，累计超前 7.5 秒")
    assert describe_values({"from_ms": 5000, "to_ms": 200000}) == "从 00:05.0，到 03:20.0"
    assert describe_values({"source": "webdriver"}) == "来源 navigator.webdriver 为真"
    assert describe_values({"id": "k1", "kind": "play", "latency_ms": 400}) == (
        "验证编号 k1，验证类型 播放中验证，作答用时 0.4 秒")
    assert describe_values({"voided_ms": 725000, "reason": "check_missed"}) == "作废 12 分 5 秒，原因 验证超时未答"


def test_a_session_closed_long_after_its_last_heartbeat_is_scaled_to_its_activity_with_the_idle_tail_as_a_break(
        client, tree, courseware):
    # 1 min 22 s of playing, then the tab went away: closed for "长时间无心跳" 31 minutes after it opened.
    trace = [[t * 1000, t * 1000, 5000, None] for t in range(5, 85, 5)] + [[82_000, 82_000, 2000, None]]
    events = [(0.0, "opened", {"resume_ms": 0}), (1860.0, "closed", {"reason": "idle"})]
    session = make_session(tree.learner_a, courseware, trace=trace, events=events)
    login(client, tree.reviewer)
    html = client.get(f"/review/sessions/{session.id}").get_data(as_text=True)
    svg = chart_svg(html)

    x_ticks = ticks(svg, "x")
    assert "01:30" in x_ticks and "31:00" in x_ticks and "15:00" not in x_ticks  # scaled to the activity
    plot = next(e for e in svg.iter(f"{SVG_NS}rect") if e.get("fill") == "none")
    plot_left, plot_width = float(plot.get("x")), float(plot.get("width"))
    [played] = polylines(svg, "credited")
    assert played[-1][0] - played[0][0] > 0.7 * plot_width  # no longer a sliver at the left
    brk = next(e for e in svg.iter(f"{SVG_NS}g") if e.get("class") == "idle-break")
    assert "无心跳" in "".join(brk.itertext()) and "29 分 38 秒" in "".join(brk.itertext())
    [closed_x] = markers(svg, "closed")
    assert closed_x > played[-1][0] + 60 and closed_x <= plot_left + plot_width  # inside the break, at its end
    assert "最后一次心跳后 29 分 38 秒没有心跳" in html


def test_a_short_pause_at_the_end_is_drawn_to_scale_without_a_break():
    trace = [[t * 1000, t * 1000, 5000, None] for t in range(5, 305, 5)]
    chart = build_chart(trace, [ChartEvent(0.0, "opened", {"resume_ms": 0}), ChartEvent(400.0, "closed", {})])
    assert chart.tail is None and chart.x_max_s >= 400


def test_a_split_run_of_one_event_type_says_the_whole_count_like_the_summary():
    # Seven rate events close together, then one far later: the summary counts 8, so the label must too.
    trace = [[t * 1000, t * 1000, 1000, None] for t in range(1, 300)]
    events = [ChartEvent(10.0 + i, "rate", {"rate": 2.0}) for i in range(7)] + [ChartEvent(250.0, "rate",
                                                                                       {"rate": 2.0})]
    chart = build_chart(trace, events)
    labels = [text for _x, _y, text in chart.marker_labels if text.startswith("倍速播放")]
    assert labels and all("共 8 次" in text for text in labels), labels


def test_two_events_at_one_moment_in_one_lane_are_both_visible():
    # A rate change and the rate attempt it caused, at the same second, in the rate lane.
    trace = [[t * 1000, t * 1000, 1000, None] for t in range(1, 100)]
    events = [ChartEvent(50.0, "rate", {"rate": 2.0}), ChartEvent(50.0, "rate_attempt", {"rate": 4.0})]
    chart = build_chart(trace, events)
    placed = {m.type: m for m in chart.markers}
    rate, attempt = placed["rate"], placed["rate_attempt"]
    assert rate.lane_y == attempt.lane_y and rate.x == attempt.x
    assert abs(rate.y - attempt.y) >= 5.5
