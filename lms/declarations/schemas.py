"""JSON shapes of the declarations API (types and examples only; the rules are in the service)."""

from __future__ import annotations

from marshmallow import Schema, fields

from lms.core.api import page_schema


class DeclarationOrgOut(Schema):
    id = fields.Integer()
    name = fields.String()


class EvidenceOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()
    created_at = fields.DateTime()


class DeclarationStepOut(Schema):
    step_index = fields.Integer(allow_none=True, metadata={"description": "审核链中的位置；本人的操作为 null"})
    step_label = fields.String(allow_none=True)
    action = fields.String(attribute="action.value")
    reason = fields.String(allow_none=True)
    hours = fields.Decimal(as_string=True, allow_none=True)
    actor_org = fields.String(attribute="actor_org.name")
    created_at = fields.DateTime()


class ReviewStepOut(Schema):
    position = fields.Integer()
    reviewer = fields.String(metadata={"description": "unit / department / hr / province_hr"})
    label = fields.String()
    org = fields.Nested(DeclarationOrgOut)


class DeclarationOut(Schema):
    id = fields.Integer()
    person_name = fields.String(attribute="user.name")
    id_number = fields.String(attribute="user.masked_id_number")
    year = fields.Integer()
    rule_set_id = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    title = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    facts = fields.Dict()
    status = fields.String(attribute="status.value",
                           metadata={"description": "pending / returned / rejected / filed / voided"})
    status_label = fields.String(attribute="status.label")
    step_index = fields.Integer(allow_none=True,
                                metadata={"description": "等待审核（或退回补充）的审核链位置；办结后为 null"})
    review_steps = fields.List(fields.Nested(ReviewStepOut),
                               metadata={"description": "规则集规定、提交时确定的审核链：每步的审核单位"})
    hours = fields.Decimal(as_string=True, metadata={"description": "提交时规则引擎计算的学时"})
    final_hours = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "终审时重新计算的学时"})
    category = fields.String()
    outcome = fields.Dict(metadata={"description": "计算依据、每项封顶的说明（cuts）"})
    evidence = fields.List(fields.Nested(EvidenceOut))
    decisions = fields.List(fields.Nested(DeclarationStepOut))
    created_at = fields.DateTime()


DeclarationPage = page_schema(DeclarationOut, "DeclarationPage")

DECLARATION_EXAMPLE = {
    "id": 12, "person_name": "张三", "id_number": "4201**********0012", "year": 2026, "rule_set_id": "hubei-2026",
    "kind": "conference", "kind_label": "学术会议", "title": "全国学术年会", "start_date": "2026-05-10",
    "end_date": "2026-05-11", "facts": {"presented_paper": True, "conference_date": "2026-05-10"},
    "status": "pending", "status_label": "审核中", "step_index": 0,
    "review_steps": [{"position": 0, "reviewer": "unit", "label": "单位审核", "org": {"id": 7, "name": "某某医院"}},
                     {"position": 1, "reviewer": "department", "label": "主管部门审查",
                      "org": {"id": 4, "name": "某某主管部门"}},
                     {"position": 2, "reviewer": "hr", "label": "人社部门审验",
                      "org": {"id": 2, "name": "某某市人社局"}}],
    "hours": "12.0", "final_hours": None, "category": "professional",
    "outcome": {"hours": "12.0", "basis": "学术会议 8 学时，宣读论文加 4 学时", "cuts": []},
    "evidence": [{"id": 3, "filename": "会议通知.pdf", "content_type": "application/pdf", "size_bytes": 48213,
                  "created_at": "2026-05-12T02:03:04"}],
    "decisions": [{"step_index": None, "step_label": None,
                   "action": "submitted", "reason": None, "hours": "12.0", "actor_org": "某某医院",
                   "created_at": "2026-05-12T02:03:04"}],
    "created_at": "2026-05-12T02:03:04"}


class ReviewQuery(Schema):
    kind = fields.String(load_default=None, metadata={"description": "只看某种学时类型"})
    name = fields.String(load_default=None, metadata={"description": "申报人姓名的一部分"})
    id_suffix = fields.String(load_default=None, metadata={"description": "身份证号后 4–6 位"})
    since = fields.String(load_default=None, metadata={"description": "提交日期起（含），如 2026-05-01"})
    until = fields.String(load_default=None, metadata={"description": "提交日期止（含）"})
    page = fields.String(load_default=None)
    per_page = fields.String(load_default=None)


class DeclarationDecisionIn(Schema):
    decision = fields.String(load_default=None, metadata={"description": "approve / reject / return"})
    reason = fields.String(load_default=None, metadata={"description": "不通过、退回时必填"})


class DeclarationBatchIn(DeclarationDecisionIn):
    ids = fields.List(fields.Raw(), load_default=list, metadata={"description": "申报编号；一份被拒则全部不处理"})


class KindsQuery(Schema):
    year = fields.String(load_default=None, metadata={"description": "计入年度，不填为今年"})


class IntegrityRecordOut(Schema):
    id = fields.Integer()
    year = fields.Integer()
    declaration_id = fields.Integer()
    declaration_title = fields.String()
    reason = fields.String()
    article = fields.String()
    found_by_org = fields.String()
    found_on = fields.String()
    expires_on = fields.String()
    active = fields.Boolean(metadata={"description": "仍在记录期限内"})
