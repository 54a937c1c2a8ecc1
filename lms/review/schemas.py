"""JSON shapes of the review API (types only; the rules, and their messages, are in the service)."""

from __future__ import annotations

from marshmallow import Schema, fields

from lms.core.api import page_schema


class OrgRef(Schema):
    id = fields.Integer()
    name = fields.String()


class PersonOut(Schema):
    id = fields.Integer()
    name = fields.String()
    id_number = fields.String(attribute="masked_id_number", metadata={"description": "身份证号（中间已遮盖）"})
    org = fields.String(attribute="org.name")


class CoursewareRef(Schema):
    id = fields.Integer()
    title = fields.String()
    course_id = fields.Integer()
    course = fields.String(attribute="course.title")


class SessionSummary(Schema):
    id = fields.Integer()
    learner = fields.Nested(PersonOut, attribute="user")
    courseware = fields.Nested(CoursewareRef)
    state = fields.String(attribute="state.value", metadata={"description": "open / closed / superseded"})
    state_label = fields.String(attribute="state.label")
    hold_state = fields.String(attribute="hold_state.value",
                               metadata={"description": "none / held / released / voided"})
    hold_state_label = fields.String(attribute="hold_state.label")
    started_at = fields.DateTime(metadata={"description": "UTC"})
    ended_at = fields.DateTime(allow_none=True)
    held_at = fields.DateTime(allow_none=True)
    credited_seconds = fields.Float(metadata={"description": "已确认的计时（秒）"})
    pending_seconds = fields.Float(metadata={"description": "待注意力验证确认的计时（秒）"})
    voided_seconds = fields.Float(metadata={"description": "已作废的计时（秒）"})
    coverage_seconds = fields.Integer(metadata={"description": "已确认覆盖的视频秒数"})
    furthest_verified_s = fields.Float()
    risk_score = fields.Integer()
    event_count = fields.Integer()
    heartbeat_count = fields.Integer()


class QueueQuery(Schema):
    """The queue's filters, read and checked by the service (so the messages are its Chinese ones)."""

    state = fields.String(load_default=None, metadata={"description": "held（默认）/ released / voided"})
    course_id = fields.String(load_default=None)
    courseware_id = fields.String(load_default=None)
    person = fields.String(load_default=None, metadata={"description": "姓名（部分）、身份证号或登录名"})
    date_from = fields.String(load_default=None, metadata={"description": "开始播放日期（北京时间）YYYY-MM-DD"})
    date_to = fields.String(load_default=None)
    risk_min = fields.String(load_default=None)
    risk_max = fields.String(load_default=None)
    event_type = fields.String(load_default=None, metadata={"description": "含有此类事件的记录，如 rate、automation"})
    page = fields.String(load_default=None)
    per_page = fields.String(load_default=None, metadata={"description": "每页条数，最多 100，默认 20"})


class QueueItem(SessionSummary):
    waiting_s = fields.Float(allow_none=True, metadata={"description": "已等待审核的时间（秒），仅待审核记录"})
    expected_reviewer = fields.Nested(OrgRef, allow_none=True,
                                      metadata={"description": "应由哪一级的防作弊审核员审核（学员上级中最近的一级）"})


QueuePage = page_schema(QueueItem, "QueuePage")


class OrgFiguresOut(Schema):
    org = fields.Nested(OrgRef)
    held = fields.Integer(metadata={"description": "期间新挂起"})
    released = fields.Integer(metadata={"description": "期间审核通过"})
    voided = fields.Integer(metadata={"description": "期间审核作废"})
    waiting = fields.Integer(metadata={"description": "当前待审核"})


class FiguresOut(Schema):
    days = fields.Integer()
    items = fields.List(fields.Nested(OrgFiguresOut))


class EventOut(Schema):
    seq = fields.Integer()
    type = fields.String()
    label = fields.String(metadata={"description": "事件类型（中文）"})
    at = fields.DateTime(metadata={"description": "UTC"})
    offset_s = fields.Float(metadata={"description": "距开始播放的秒数"})
    points = fields.Integer(metadata={"description": "此类事件的风险分"})
    values = fields.Dict(metadata={"description": "事件的原始数值（毫秒等）"})
    details = fields.String(metadata={"description": "数值的中文说明"})


class TracePoint(Schema):
    t_ms = fields.Integer(metadata={"description": "距开始播放的毫秒数（服务器时间）"})
    position_ms = fields.Integer(metadata={"description": "视频位置（毫秒）"})
    credited_ms = fields.Integer(metadata={"description": "该心跳计入的毫秒数"})
    reason = fields.String(allow_none=True, metadata={"description": "未计入（或部分计入）的原因代码"})


class DecisionOut(Schema):
    session_id = fields.Integer()
    decision = fields.String(attribute="decision.value", metadata={"description": "release / void"})
    decision_label = fields.String(attribute="decision.label")
    reason = fields.String()
    reviewer = fields.String(attribute="reviewer.name")
    decided_at = fields.DateTime()


class OtherSessionOut(SessionSummary):
    """Another session of the same learner (who is already known)."""

    class Meta:
        exclude = ("learner",)


class SessionDetail(SessionSummary):
    ip = fields.String()
    user_agent = fields.String()
    device_id = fields.String(allow_none=True)
    hold_threshold = fields.Integer(metadata={"description": "达到此风险分即暂扣待审核"})
    chart_url = fields.String(metadata={"description": "审核页面（含视频位置-时间图）"})
    events = fields.List(fields.Nested(EventOut))
    trace = fields.List(fields.Nested(TracePoint))
    other_sessions = fields.List(fields.Nested(OtherSessionOut),
                                 metadata={"description": "该学员的其他观看记录，最近的在前（最多 50 条）"})
    same_address = fields.List(fields.Nested(PersonOut),
                               metadata={"description": "前后一天内在同一地址学习的管辖范围内其他人员"})
    decision = fields.Nested(DecisionOut, allow_none=True)


class DecisionIn(Schema):
    ids = fields.Raw(required=True, metadata={"description": "待审核观看记录的编号列表（全部成功或全部不改）"})
    decision = fields.Raw(required=True, metadata={"description": "release（审核通过，计入学时）/ void（审核作废）"})
    reason = fields.Raw(required=True, metadata={"description": "审核理由，学员可见，最多 500 字"})


class LearnerDecisionOut(Schema):
    """A decision as the learner reads it (who decided is not shown)."""

    decision = fields.String(attribute="decision.value")
    decision_label = fields.String(attribute="decision.label")
    reason = fields.String()
    decided_at = fields.DateTime()


class LearnerSessionOut(Schema):
    id = fields.Integer()
    state = fields.String(attribute="state.value")
    state_label = fields.String(attribute="state.label")
    hold_state = fields.String(attribute="hold_state.value")
    hold_state_label = fields.String(attribute="hold_state.label")
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    credited_seconds = fields.Float()
    pending_seconds = fields.Float()
    voided_seconds = fields.Float()
    decision = fields.Nested(LearnerDecisionOut, allow_none=True,
                             metadata={"description": "审核结果与理由（审核后才有）"})
    hold_reasons = fields.List(fields.String(),
                               metadata={"description": "转入人工审核的原因，每类迹象一句（未转入审核为空）"})


class ProgressOut(Schema):
    verified_watch_seconds = fields.Float()
    held_seconds = fields.Float(metadata={"description": "待审核记录中的计时（审核前不计入）"})
    required_watch_seconds = fields.Float()
    coverage_seconds = fields.Integer()
    required_coverage_seconds = fields.Integer()
    completed = fields.Boolean()


class WatchRecordOut(Schema):
    typical_review_s = fields.Float(allow_none=True, metadata={
        "description": "有待审核记录时：近期同一审核范围内从挂起到审核完成的中位时间（秒）；否则或尚无审核记录时为空"})
    courseware = fields.Nested(CoursewareRef)
    progress = fields.Nested(ProgressOut, allow_none=True)
    held_count = fields.Integer(metadata={"description": "待审核的观看记录数"})
    sessions = fields.List(fields.Nested(LearnerSessionOut))
