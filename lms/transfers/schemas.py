"""JSON shapes of the transfer API (types only; rules in the service)."""

from __future__ import annotations

from marshmallow import Schema, fields

from lms.core.api import page_schema


class UnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    credit_code = fields.String()


class TransferOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    person_name = fields.String()
    id_number = fields.String(attribute="user.masked_id_number")
    title_series = fields.String(allow_none=True)
    professional_post = fields.String(allow_none=True)
    from_org = fields.Nested(UnitOut)
    to_org = fields.Nested(UnitOut, allow_none=True, metadata={"description": "调出省外时为空"})
    outside_destination = fields.String(allow_none=True, metadata={"description": "调出省外时的去向"})
    initiated_by = fields.String(attribute="initiated_by.value",
                                 metadata={"description": "out：调出单位发起；in：调入单位申请"})
    answer_due_at = fields.DateTime(allow_none=True,
                                    metadata={"description": "调入申请：调出单位答复期限，逾期未答复即可完成"})
    completed_by_silence = fields.Boolean()
    status = fields.String(attribute="status.value")
    status_label = fields.String()
    note = fields.String(allow_none=True)
    started_by = fields.String(attribute="started_by.name")
    started_at = fields.DateTime()
    decided_by = fields.Function(lambda t: t.decided_by.name if t.decided_by else (
        "系统（逾期未答复）" if t.completed_by_silence else None))
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


TransferPage = page_schema(TransferOut, "TransferPage")


class TransferIn(Schema):
    person_id = fields.Raw(required=True, metadata={"description": "调出人员的编号"})
    to_org_id = fields.Raw(load_default=None, metadata={"description": "调入单位编号（见 GET /transfers/targets）"})
    target = fields.String(load_default=None, metadata={"description": "或：调入单位的统一社会信用代码或全称"})
    outside_destination = fields.String(
        load_default=None, metadata={"description": "或：调出省外的去向（省份和单位）；立即办结，人员账号停用"})
    note = fields.String(load_default=None)


class RequestIn(Schema):
    id_number = fields.String(load_default=None, metadata={"description": "申请调入人员的身份证号码"})
    name = fields.String(load_default=None, metadata={"description": "其姓名（须与身份证号码相符）"})
    note = fields.String(load_default=None)


class RefusalIn(Schema):
    reason = fields.String(load_default=None, metadata={"description": "拒绝调转的原因（必填）"})


class RecordsQuery(Schema):
    direction = fields.String(load_default=None, metadata={"description": "in / out；不填为全部"})
    status = fields.String(load_default=None, metadata={"description": "pending / confirmed / refused / cancelled"})
    page = fields.Integer(load_default=1)


class TargetQuery(Schema):
    q = fields.String(load_default=None, metadata={"description": "统一社会信用代码或单位名称的一部分"})
