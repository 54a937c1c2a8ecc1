"""JSON shapes of the organisation API (types only; rules in the service)."""

from __future__ import annotations

from marshmallow import Schema, fields


class OrgOut(Schema):
    id = fields.Integer()
    kind = fields.String(attribute="kind.value")
    kind_label = fields.String(attribute="kind.label")
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    status = fields.String(attribute="status.value")
    reject_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class OrgRegistration(Schema):
    kind = fields.String(required=True, metadata={"description": "department / unit / base"})
    name = fields.String(required=True)
    credit_code = fields.String(required=True, metadata={"description": "统一社会信用代码（GB 32100）"})
    parent_id = fields.Integer(required=True)
    admin_login = fields.String(required=True)
    admin_name = fields.String(required=True)
    admin_phone = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class OrgResubmission(Schema):
    name = fields.String(required=True)
    credit_code = fields.String(required=True)
    parent_id = fields.Integer(required=True)


class BureauCreation(Schema):
    kind = fields.String(required=True, metadata={"description": "city_hr / county_hr"})
    name = fields.String(required=True)
    parent_id = fields.Integer(required=True)
    admin_login = fields.String(required=True)
    admin_name = fields.String(required=True)
    admin_phone = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class UnitQuery(Schema):
    q = fields.String(load_default=None)
