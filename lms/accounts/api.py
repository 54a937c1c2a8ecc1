"""JSON API for accounts: tokens, learner registration and its review, the caller's own account."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lms.accounts import resets, schemas, service, staff_import
from lms.accounts.models import Role
from lms.accounts.views import (
    admin_reset_limits,
    import_limit,
    login_limits,
    rate_limited,
    read_import_upload,
    reset_code_limits,
    reset_verify_limits,
)
from lms.core.api import page_body
from lms.core.auth import API_TOKEN_MAX_AGE_S, Unauthenticated, api_user, bearer_user, issue_api_token
from lms.core.errors import InvalidInput, NotAllowed
from lms.core.queues import ListFilters
from lms.core.xlsx import xlsx_download
from lms.extensions import db
from lms.orgs.permissions import Permission

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="账号、注册与审核")
BEARER = [{"bearer": []}]


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(schemas.TokenRequest)
@blp.response(200, schemas.Token)
@blp.alt_response(401, description="账号或密码不正确")
@blp.alt_response(429, description="尝试过于频繁")
@rate_limited(login_limits)
def create_token(body):
    """Exchange a login and password for a bearer token."""
    user = service.authenticate(body["login"], body["password"])
    if user is None:
        db.session.rollback()
        raise Unauthenticated(service.LOGIN_FAILED)
    refusal = service.login_refusal(user)
    if refusal:
        db.session.rollback()
        raise NotAllowed(refusal)
    db.session.commit()
    return {"token": issue_api_token(user), "expires_in": API_TOKEN_MAX_AGE_S}


@blp.route("/auth/password-reset/code", methods=["POST"])
@blp.arguments(schemas.ResetCodeRequest)
@blp.response(202, schemas.Message)
@blp.alt_response(429, description="请求过于频繁（每个手机号码、每个地址分别限制）")
@rate_limited(reset_code_limits)
def request_reset_code(body):
    """Send a password-reset code to the registered phone; the answer is the same whether or not they match."""
    message = resets.request_reset_code(body["login"], body["phone"])
    db.session.commit()
    return {"message": message}


@blp.route("/auth/password-reset", methods=["POST"])
@blp.arguments(schemas.CodeReset)
@blp.response(200, schemas.Message)
@blp.alt_response(422, description="验证码不正确或已失效，或新密码不符合要求")
@rate_limited(reset_verify_limits)
def reset_with_code(body):
    """Set a new password with the code sent by text message; every earlier token and session ends."""
    try:
        resets.reset_with_code(body["login"], body["phone"], body["code"], body["new_password"])
    except resets.CodeRefused:
        db.session.commit()  # the wrong guess counts
        raise
    db.session.commit()
    return {"message": "密码已重置，请用新密码登录。"}


@blp.route("/people/<int:user_id>/password-reset", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.AdminPasswordReset)
@blp.response(200, schemas.PasswordResetDone)
@api_user(permission=Permission.RESET_PASSWORDS)
@rate_limited(admin_reset_limits)
def reset_person_password(body, user_id: int):
    """Reset a person's password to a temporary one, returned this once; they must change it at the next login."""
    person, password = resets.reset_password(g.api_user, user_id, body["password"])
    db.session.commit()
    return {"person": person, "temporary_password": password, "generated": not body["password"]}


@blp.route("/registrations/learners", methods=["POST"])
@blp.arguments(schemas.LearnerRegistration)
@blp.response(201, schemas.Me)
@blp.alt_response(409, description="已注册，或调用者已登录")
def register_learner(body):
    """Register a learner; the account waits for the employer unit's approval. A caller who is logged in (by
    bearer token, or by a page session) is refused: that would be a second account."""
    registrant = bearer_user() or (current_user if current_user.is_authenticated else None)
    user = service.register_learner(body, registrant=registrant)
    db.session.commit()
    return user


@blp.route("/registrations/learners/pending", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.ListQuery, location="query")
@blp.response(200, schemas.Person(many=True), headers={"X-Total-Count": {"description": "符合条件的总数"}})
@api_user(permission=Permission.APPROVE_PEOPLE)
def pending_learners(args):
    """List the learners waiting for the caller's approval, filtered, one page at a time (X-Total-Count)."""
    filters = ListFilters.parse(args)
    page = filters.paginate(db, service.filter_registrations(service.reviewable_learners_query(g.api_user), filters))
    return page.items, {"X-Total-Count": str(page.total)}


@blp.route("/registrations/learners/decisions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.Decision)
@blp.response(200, schemas.Person(many=True))
@api_user(permission=Permission.APPROVE_PEOPLE)
def decide_learners(body):
    """Approve or reject pending learners in one batch (all or nothing; a reason is required to reject)."""
    users = service.decide_learners(g.api_user, body["ids"], body["approve"], body["reason"])
    db.session.commit()
    return users


@blp.route("/me")
class MeResource(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(200, schemas.Me)
    @api_user(approved=False, temporary_password_ok=True)
    def get(self):
        """Return the caller's own account and registration status."""
        return g.api_user


@blp.route("/me/registration", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.LearnerResubmission)
@blp.response(200, schemas.Me)
@api_user(Role.LEARNER, approved=False)
def resubmit_registration(body):
    """Correct a rejected registration and send it for review again."""
    user = service.resubmit_learner(g.api_user, body)
    db.session.commit()
    return user


@blp.route("/me/password", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PasswordChange)
@blp.response(200, schemas.Token)
@api_user(approved=False, temporary_password_ok=True)
def change_password(body):
    """Change the caller's password (the old one is required); returns a fresh token, old ones stop working."""
    service.change_password(g.api_user, body["old_password"], body["new_password"])
    db.session.commit()
    return {"token": issue_api_token(g.api_user), "expires_in": API_TOKEN_MAX_AGE_S}


@blp.route("/people", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PeopleQuery, location="query")
@blp.response(200, schemas.PeoplePage)
@api_user(permission=Permission.MANAGE_PEOPLE)
def people(args):
    """List the people of the caller's subtree, filtered, ID and phone numbers masked."""
    query = service.filtered_people_query(g.api_user, args)
    if not 1 <= args["per_page"] <= 200 or args["page"] < 1:
        raise InvalidInput({"per_page": "每页 1–200 条，页码从 1 开始。"})
    page = db.paginate(query, page=args["page"], per_page=args["per_page"], error_out=False)
    return page_body(page)


IMPORT_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "填好的人员导入模板（.xlsx，不超过 10 MB）"},
        "org_id": {"type": "integer", "description": "导入到的用人单位（默认本单位；须在本单位管辖范围内）"}}}}}}


@blp.route("/people/imports", methods=["POST"])
@blp.doc(security=BEARER, requestBody=IMPORT_BODY)
@blp.response(201, schemas.StaffImportResult)
@blp.alt_response(422, description="文件或其中的行有错误，未导入任何人员；error.problems 列出每一处（行、列、问题）")
@blp.alt_response(403, description="没有“批量导入人员”权限，或所选单位不在管辖范围内")
@blp.alt_response(429, description="导入过于频繁")
@api_user(permission=Permission.IMPORT_PEOPLE)
@import_limit
def import_people():
    """Import a sheet of staff into a unit of the caller's subtree as approved people: every row or none."""
    data, filename, org_id = read_import_upload()
    result = staff_import.import_staff(g.api_user, data, filename, org_id)
    db.session.commit()
    return {"imported": result.count, "org_id": result.org.id, "org_name": result.org.name}


@blp.route("/people/imports/template", methods=["GET"])
@blp.doc(security=BEARER, responses={"200": {"description": "人员导入模板",
                                             "content": {"application/vnd.openxmlformats-officedocument"
                                                         ".spreadsheetml.sheet": {}}}})
@api_user(permission=Permission.IMPORT_PEOPLE)
def import_template():
    """Download the .xlsx template of the bulk staff import."""
    return xlsx_download(staff_import.template_bytes(), "people-import-template.xlsx", staff_import.TEMPLATE_NAME)
