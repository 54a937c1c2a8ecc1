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
    to_org = fields.Nested(UnitOut)
    status = fields.String(attribute="status.value")
    status_label = fields.String(attribute="status.label")
    note = fields.String(allow_none=True)
    started_by = fields.String(attribute="started_by.name")
    started_at = fields.DateTime()
    decided_by = fields.Function(lambda t: t.decided_by.name if t.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


TransferPage = page_schema(TransferOut, "TransferPage")


class TransferIn(Schema):
    person_id = fields.Raw(required=True, metadata={"description": "调出人员的编号"})
    to_org_id = fields.Raw(load_default=None, metadata={"description": "调入单位编号（见 GET /transfers/targets）"})
    target = fields.String(load_default=None, metadata={"description": "或：调入单位的统一社会信用代码或全称"})
    note = fields.String(load_default=None)


class RefusalIn(Schema):
    reason = fields.String(load_default=None, metadata={"description": "拒绝调入的原因（必填）"})


class RecordsQuery(Schema):
    direction = fields.String(load_default=None, metadata={"description": "in / out；不填为全部"})
    status = fields.String(load_default=None, metadata={"description": "pending / confirmed / refused / cancelled"})
    page = fields.Integer(load_default=1)


class TargetQuery(Schema):
    q = fields.String(load_default=None, metadata={"description": "统一社会信用代码或单位名称的一部分"})
