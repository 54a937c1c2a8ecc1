"""JSON shapes of the plans API (types only; the rules are in the services)."""

from __future__ import annotations

from marshmallow import Schema, fields

from lms.core.api import page_schema


class PlanOrgRef(Schema):
    id = fields.Integer()
    name = fields.String()


class PlanAttachmentOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()


class PlanItem(Schema):
    title = fields.String(metadata={"description": "课程或培训名称"})
    form = fields.String(metadata={"description": "course：线上课程；training：面授培训"})
    category = fields.String(metadata={"description": "public：公需科目；professional：专业科目"})
    start_date = fields.String(metadata={"description": "开始日期 YYYY-MM-DD（在计划年度内）"})
    end_date = fields.String(metadata={"description": "结束日期 YYYY-MM-DD"})
    hours = fields.String(metadata={"description": "学时，最多一位小数"})
    expected = fields.Integer(metadata={"description": "预计人数"})


class PlanVersionOut(Schema):
    number = fields.Integer()
    title = fields.String()
    content = fields.Dict(metadata={"description": "计划、申报：{items: [...]}；总结：{text, trained_people}"})
    note = fields.String(allow_none=True)
    submitted_by = fields.String(attribute="submitted_by.name")
    submitted_at = fields.DateTime()
    decision = fields.String(attribute="decision.value", allow_none=True)
    decided_by = fields.Function(lambda v: v.decided_by.name if v.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    attachments = fields.List(fields.Nested(PlanAttachmentOut))


class PlanFilingOut(Schema):
    id = fields.Integer()
    kind = fields.String(attribute="kind.value", metadata={"description": "annual_plan / training / summary"})
    kind_label = fields.String(attribute="kind.label")
    year = fields.Integer()
    title = fields.String()
    base = fields.Nested(PlanOrgRef)
    department = fields.Nested(PlanOrgRef, metadata={"description": "审核的主管部门（首次报送时确定）"})
    status = fields.String(attribute="status.value")
    status_label = fields.String(attribute="status.label")
    version_count = fields.Integer()
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


class PlanFilingDetail(PlanFilingOut):
    versions = fields.List(fields.Nested(PlanVersionOut))


FilingPage = page_schema(PlanFilingOut, "PlanFilingPage")


class PlanFilingQuery(Schema):
    kind = fields.String(load_default=None)
    status = fields.String(load_default=None, metadata={"description": "submitted / returned / approved / rejected"})
    year = fields.String(load_default=None)
    awaiting = fields.Boolean(load_default=False, metadata={"description": "只看等待本单位审核的"})
    page = fields.Integer(load_default=1)


class PlanFilingIn(Schema):
    kind = fields.String(load_default=None, metadata={"description": "annual_plan / training / summary"})
    year = fields.Raw(load_default=None)
    title = fields.String(load_default=None)
    items = fields.List(fields.Dict(), load_default=None,
                        metadata={"description": "计划与申报的项目（见 PlanItem；申报只有一项）"})
    text = fields.String(load_default=None, metadata={"description": "总结正文"})
    trained_people = fields.Raw(load_default=None, metadata={"description": "总结：全年培训人数"})
    note = fields.String(load_default=None)


class PlanRevisionIn(PlanFilingIn):
    keep_attachment_ids = fields.List(fields.Raw(), load_default=list,
                                      metadata={"description": "沿用上一版的附件编号；新附件请在页面上传"})


class PlanDecisionIn(Schema):
    decision = fields.String(load_default=None, metadata={"description": "approve / reject / return"})
    reason = fields.String(load_default=None, metadata={"description": "不通过、退回时必填"})


class PlanCompareQuery(Schema):
    against = fields.Integer(load_default=None, metadata={"description": "与哪一版比较（默认上一版）"})


class PlanCompareOut(Schema):
    version = fields.Integer(attribute="version.number")
    against = fields.Function(lambda c: c["against"].number if c["against"] else None)
    rows = fields.List(fields.Dict())


class PlanCourseRef(Schema):
    id = fields.Integer()
    title = fields.String()
    year = fields.Integer()
    category = fields.String(attribute="category.value")
    state = fields.String(attribute="state.value")
    base = fields.Nested(PlanOrgRef)


class PlanVettingOut(Schema):
    course = fields.Nested(PlanCourseRef)
    department = fields.Nested(PlanOrgRef)
    status = fields.String(attribute="status.value")
    status_label = fields.String(attribute="status.label")
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


VettingPage = page_schema(PlanVettingOut, "CourseVettingPage")


class PlanVettingQuery(Schema):
    status = fields.String(load_default=None, metadata={"description": "pending / approved / rejected"})
    page = fields.Integer(load_default=1)


class PlanMaterialOut(Schema):
    id = fields.Integer()
    department = fields.Nested(PlanOrgRef)
    bureau = fields.Nested(PlanOrgRef)
    year = fields.Integer()
    kind = fields.String(attribute="kind.value", metadata={"description": "guide / notice / other"})
    kind_label = fields.String(attribute="kind.label")
    title = fields.String()
    note = fields.String(allow_none=True)
    submitted_at = fields.DateTime()
    updated_at = fields.DateTime()
    files = fields.List(fields.Nested(PlanAttachmentOut))


class PlanMaterialQuery(Schema):
    year = fields.String(load_default=None)


class PlanOverviewRow(Schema):
    department = fields.Nested(PlanOrgRef)
    submitted = fields.Function(lambda r: bool(r["materials"]))
    materials = fields.List(fields.Nested(PlanMaterialOut))


class PlanOverviewOut(Schema):
    year = fields.Integer()
    submitted = fields.Integer(metadata={"description": "已报送的主管部门数"})
    missing = fields.Integer(metadata={"description": "未报送的主管部门数"})
    rows = fields.List(fields.Nested(PlanOverviewRow))
