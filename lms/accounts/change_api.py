"""JSON API of personal-data changes: the learner's requests and phone, the unit's review, identity corrections.

The same rules as the pages (``lms.accounts.changes``).
"""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.accounts import changes
from lms.accounts.models import Role
from lms.accounts.schemas import Me, Person
from lms.core.api import page_body, page_schema
from lms.core.auth import api_user
from lms.extensions import db
from lms.orgs.permissions import Permission

blp = Blueprint("person_changes_api", __name__, url_prefix="/api/v1", description="人员信息修改审核")
BEARER = [{"bearer": []}]
PER_PAGE = 50


class PersonChangeOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    person_name = fields.String(attribute="user.name")
    id_number = fields.String(attribute="user.masked_id_number")
    status = fields.String(attribute="status.value")
    before = fields.Dict(metadata={"description": "申请时的原值（只含申请修改的字段）"})
    after = fields.Dict(metadata={"description": "申请的新值"})
    requested_at = fields.DateTime()
    decided_by = fields.Function(lambda c: c.decided_by.name if c.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "驳回原因"})


PersonChangePage = page_schema(PersonChangeOut, "PersonChangePage")


class PersonChangeIn(Schema):
    professional_post = fields.String(metadata={"description": "专业技术职务；不填则不改"})
    title_series = fields.String(metadata={"description": "职称系列；不填则不改"})
    title_level = fields.String(allow_none=True,
                                metadata={"description": "正高级、副高级、中级、初级；null 为未评定"})
    education = fields.String(allow_none=True, metadata={"description": "学历"})


class PhoneChangeIn(Schema):
    phone = fields.String(required=True)


class PersonRejectionIn(Schema):
    reason = fields.String(load_default=None, metadata={"description": "驳回原因（必填，申请人可见）"})


class PersonBatchRejectionIn(PersonRejectionIn):
    ids = fields.List(fields.Integer(), required=True)


class PersonChangeQuery(Schema):
    status = fields.String(load_default=None, metadata={"description": "pending（默认）、approved 或 rejected"})
    page = fields.Integer(load_default=1)


class IdentityCorrectionIn(Schema):
    name = fields.String(load_default=None, metadata={"description": "正确的姓名；不填则不改"})
    id_number = fields.String(load_default=None,
                              metadata={"description": "正确的身份证号码（也是登录账号）；不填则不改"})
    reason = fields.String(load_default=None, metadata={"description": "更正原因（必填，记入操作日志）"})


def _committed(result):
    db.session.commit()
    return result


@blp.route("/me/changes", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, PersonChangeOut(many=True))
@api_user(Role.LEARNER)
def my_changes():
    """The caller's own change requests, newest first, with their state and the reason of a rejection."""
    return changes.changes_of(g.api_user)


@blp.route("/me/changes", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(PersonChangeIn)
@blp.response(201, PersonChangeOut)
@blp.alt_response(409, description="已有待审核的申请，或账号已停用")
@api_user(Role.LEARNER)
def request_change(body):
    """Ask the unit to change reviewed fields (职务、职称系列、职称级别、学历); only changed fields are asked."""
    return _committed(changes.request_change(g.api_user, body))


@blp.route("/me/phone", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(PhoneChangeIn)
@blp.response(200, Me)
@api_user(Role.LEARNER)
def change_phone(body):
    """Change the caller's phone number at once (no review)."""
    return _committed(changes.change_phone(g.api_user, body["phone"]))


@blp.route("/people/changes", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(PersonChangeQuery, location="query")
@blp.response(200, PersonChangePage)
@api_user(permission=Permission.REVIEW_PERSON_CHANGES)
def queue(args):
    """The requests of the caller's unit's people (pending by default), each with its old and new values."""
    query = changes.review_queue(g.api_user, args["status"])
    return page_body(db.paginate(query, page=max(args["page"], 1), per_page=PER_PAGE, error_out=False))


@blp.route("/people/changes/<int:change_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, PersonChangeOut)
@api_user(permission=Permission.REVIEW_PERSON_CHANGES)
def detail(change_id: int):
    """One request of a person of the caller's unit."""
    return changes.change_for(g.api_user, change_id)


@blp.route("/people/changes/<int:change_id>/approve", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, PersonChangeOut)
@blp.alt_response(409, description="已处理、已过时（原值已变）、人员已停用或已调离")
@api_user(permission=Permission.REVIEW_PERSON_CHANGES)
def approve(change_id: int):
    """Approve a request: the person's fields take the new values."""
    return _committed(changes.approve_change(g.api_user, change_id))


@blp.route("/people/changes/<int:change_id>/reject", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(PersonRejectionIn)
@blp.response(200, PersonChangeOut)
@api_user(permission=Permission.REVIEW_PERSON_CHANGES)
def reject(body, change_id: int):
    """Reject a request with a reason the person reads."""
    return _committed(changes.reject_change(g.api_user, change_id, body["reason"]))


@blp.route("/people/changes/rejections", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(PersonBatchRejectionIn)
@blp.response(200, PersonChangeOut(many=True))
@api_user(permission=Permission.REVIEW_PERSON_CHANGES)
def reject_batch(body):
    """Reject several requests with one reason, all or nothing."""
    return _committed(changes.reject_changes(g.api_user, body["ids"], body["reason"]))


@blp.route("/people/<int:user_id>/identity", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(IdentityCorrectionIn)
@blp.response(200, Person)
@api_user(permission=Permission.MANAGE_PEOPLE)
def correct_identity(body, user_id: int):
    """Correct a learner's name or ID-card number with a reason (admins only; audit-logged)."""
    return _committed(changes.correct_identity(g.api_user, user_id, body))
