"""JSON API of own-organisation information and its review by the level above (same rules as the pages)."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.core.api import page_body, page_schema
from lms.core.auth import api_user
from lms.extensions import db
from lms.orgs import changes
from lms.orgs.access import admin_org
from lms.orgs.permissions import Permission

blp = Blueprint("org_changes_api", __name__, url_prefix="/api/v1", description="本级机构信息与机构信息修改审核")
BEARER = [{"bearer": []}]
PER_PAGE = 50


class OrgChangeOut(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    org_name = fields.String(attribute="org.name")
    status = fields.String(attribute="status.value")
    before = fields.Dict(metadata={"description": "申请时的原值（只含申请修改的字段）"})
    after = fields.Dict(metadata={"description": "申请的新值"})
    requested_by = fields.String(attribute="requested_by.name")
    requested_at = fields.DateTime()
    decided_by = fields.Function(lambda c: c.decided_by.name if c.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


OrgChangePage = page_schema(OrgChangeOut, "OrgChangePage")


class OrgInfo(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(attribute="kind.value", dump_only=True)
    name = fields.String(metadata={"description": "单位名称（修改须上级审核）"})
    credit_code = fields.String(allow_none=True, metadata={"description": "统一社会信用代码（修改须上级审核）"})
    address = fields.String(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)


class OrgEditResult(Schema):
    org = fields.Nested(OrgInfo)
    change = fields.Nested(OrgChangeOut, allow_none=True,
                           metadata={"description": "提交上级审核的修改；只改联系信息时为 null"})


class OrgRejectionIn(Schema):
    reason = fields.String(load_default=None, metadata={"description": "驳回原因（必填）"})


class OrgBatchRejectionIn(OrgRejectionIn):
    ids = fields.List(fields.Integer(), required=True)


class OrgChangeQuery(Schema):
    status = fields.String(load_default=None, metadata={"description": "pending（默认）、approved 或 rejected"})
    page = fields.Integer(load_default=1)


def _committed(result):
    db.session.commit()
    return result


@blp.route("/org/info", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, OrgInfo)
@api_user(permission=Permission.EDIT_OWN_ORG)
def info():
    """The caller's organisation's details."""
    return admin_org(g.api_user)


@blp.route("/org/info", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(OrgInfo)
@blp.response(200, OrgEditResult)
@blp.alt_response(409, description="已有待审核的修改，或没有上级审核")
@api_user(permission=Permission.EDIT_OWN_ORG)
def edit(body):
    """Change the contacts at once and ask the level above for the name and credit code; fields left out stay."""
    org, change = changes.edit_own_org(g.api_user, body)
    return _committed({"org": org, "change": change})


@blp.route("/org/info/changes", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, OrgChangeOut(many=True))
@api_user(permission=Permission.EDIT_OWN_ORG)
def own_changes():
    """The caller's organisation's own change requests, newest first."""
    return changes.changes_of(admin_org(g.api_user))


@blp.route("/org/changes", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(OrgChangeQuery, location="query")
@blp.response(200, OrgChangePage)
@api_user(permission=Permission.REVIEW_ORG_CHANGES)
def queue(args):
    """The changes of the caller's direct children (pending by default), each with old and new values."""
    query = changes.review_queue(g.api_user, args["status"])
    return page_body(db.paginate(query, page=max(args["page"], 1), per_page=PER_PAGE, error_out=False))


@blp.route("/org/changes/<int:change_id>/approve", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, OrgChangeOut)
@blp.alt_response(409, description="已处理、已过时、或名称/信用代码已被占用")
@api_user(permission=Permission.REVIEW_ORG_CHANGES)
def approve(change_id: int):
    """Approve a change: the organisation takes the new name or credit code."""
    return _committed(changes.approve_change(g.api_user, change_id))


@blp.route("/org/changes/<int:change_id>/reject", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(OrgRejectionIn)
@blp.response(200, OrgChangeOut)
@api_user(permission=Permission.REVIEW_ORG_CHANGES)
def reject(body, change_id: int):
    """Reject a change with a reason."""
    return _committed(changes.reject_change(g.api_user, change_id, body["reason"]))


@blp.route("/org/changes/rejections", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(OrgBatchRejectionIn)
@blp.response(200, OrgChangeOut(many=True))
@api_user(permission=Permission.REVIEW_ORG_CHANGES)
def reject_batch(body):
    """Reject several changes with one reason, all or nothing (批量驳回)."""
    return _committed(changes.reject_changes(g.api_user, body["ids"], body["reason"]))
