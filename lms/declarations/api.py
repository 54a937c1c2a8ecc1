"""JSON API of declarations: the learner declares (evidence as multipart) and follows; reviewers work their queue
and decide, one or many; HR bureaus read a person's integrity record (诚信档案). Bearer tokens only.

The same service functions as the pages (``lms.declarations.service``): the engine computes the hours, the chain
and its refusals are the service's, the errors the API's shape with their Chinese messages.
"""

from __future__ import annotations

import json

from flask import g, request
from flask_smorest import Blueprint

from lms.accounts.models import Role
from lms.core.api import page_body
from lms.core.auth import api_user
from lms.core.errors import InvalidInput
from lms.core.queues import ListFilters
from lms.declarations import evidence, integrity, materials, schemas, service
from lms.declarations.queue import QueueFilters, queue_query
from lms.extensions import db
from lms.ledger import service as ledger
from lms.orgs.permissions import Permission

blp = Blueprint("declarations_api", __name__, url_prefix="/api/v1", description="学时申报")
BEARER = [{"bearer": []}]
ERROR_EXAMPLE = {"error": {"code": "invalid_input", "message": "请填写活动名称（如会议、培训班、证书的名称）。",
                           "fields": {"title": "请填写活动名称（如会议、培训班、证书的名称）。"}}}

_MULTIPART_FIELDS = {
    "kind": {"type": "string", "description": "学时类型（见 GET /api/v1/declaration-kinds）"},
    "title": {"type": "string"}, "start_date": {"type": "string", "format": "date"},
    "end_date": {"type": "string", "format": "date"},
    "year": {"type": "string", "description": "计入年度；不填为结束日期的年度（顺延补学的年度可另选）"},
    "facts": {"type": "string", "description": "该类型的事实，JSON 对象，如 {\"presented_paper\": true}"},
    "evidence": {"type": "array", "items": {"type": "string", "format": "binary"},
                 "description": "其他证明材料（PDF、PNG、JPEG，按内容检查）"},
    "evidence-<material>": {"type": "array", "items": {"type": "string", "format": "binary"},
                            "description": "该类型要求的每项材料各自一个字段，如 evidence-notice（会议通知）、"
                                           "evidence-paper（论文）；所需材料见 GET /api/v1/declaration-kinds"},
}


def _uploads() -> tuple[list[service.Upload], dict[str, list[service.Upload]]]:
    return materials.read_uploads(request)


def _commit_or_unstore(keys: list[str]) -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        evidence.delete_quietly(keys)
        raise


def _facts(kind, start, end) -> dict:
    """Read the facts JSON into the form's shape, so that the page's own reader (``facts_from_form``) reads it."""
    raw = request.form.get("facts") or "{}"
    try:
        given = json.loads(raw)
    except ValueError:
        given = None
    if not isinstance(given, dict):
        raise InvalidInput({"facts": "facts 应为 JSON 对象，如 {\"presented_paper\": true}。"})
    form = {}
    for key, value in given.items():
        if isinstance(value, bool):
            form[f"fact-{key}"] = "y" if value else ""
        elif value is not None:
            form[f"fact-{key}"] = str(value)
    return service.facts_from_form(kind, form, start, end)


# ------------------------------------------------------------------------------------------------ learner


@blp.route("/declaration-kinds", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.KindsQuery, location="query")
@blp.alt_response(200, description="可申报的学时类型及其需填写的事实", example={
    "rule_set": "hubei-2026", "year": 2026, "kinds": [{"id": "conference", "label": "学术会议", "facts": [
        {"id": "presented_paper", "label": "在会上报告论文", "type": "bool", "minimum": None, "maximum": None,
         "values": None}]}]})
@api_user(Role.LEARNER)
def kinds(args):
    """The kinds the learner may declare in a year (their region's rule set) and each kind's facts."""
    year = ledger.china_today().year
    if args["year"]:
        if not str(args["year"]).isdigit() or not service.EARLIEST_YEAR <= int(args["year"]) <= year:
            raise InvalidInput({"year": f"年度应在 {service.EARLIEST_YEAR} 到 {year} 之间。"})
        year = int(args["year"])
    rule_set = service.rule_set_for_person(g.api_user, year)
    return {"rule_set": rule_set.id, "year": year, "kinds": [
        {"id": kind.id, "label": kind.label, "facts": [
            {"id": f.id, "label": f.label, "type": f.type, "minimum": None if f.minimum is None else str(f.minimum),
             "maximum": None if f.maximum is None else str(f.maximum), "values": f.values}
            for f in service.fact_fields(kind)]}
        for kind in rule_set.kinds.values()]}


@blp.route("/declarations", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.DeclarationOut(many=True), example=[schemas.DECLARATION_EXAMPLE])
@api_user(Role.LEARNER)
def mine():
    """The learner's own declarations, newest first."""
    return service.my_declarations(g.api_user)


@blp.route("/declarations", methods=["POST"])
@blp.doc(security=BEARER, requestBody={"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["kind", "title", "start_date", "end_date", "evidence"],
               "properties": _MULTIPART_FIELDS},
    "example": {"kind": "conference", "title": "全国学术年会", "start_date": "2026-05-10", "end_date": "2026-05-11",
                "facts": "{\"presented_paper\": true}", "evidence": ["会议通知.pdf"]}}}})
@blp.response(201, schemas.DeclarationOut, example=schemas.DECLARATION_EXAMPLE)
@blp.alt_response(403, description="不是已审核的专业技术人员")
@blp.alt_response(404, description="规则中没有这种学时类型")
@blp.alt_response(409, description="该年度学时已因弄虚作假被取消（第二十一条）")
@blp.alt_response(422, description="活动名称、日期、事实或材料有误（fields 逐项说明）", example=ERROR_EXAMPLE)
@api_user(Role.LEARNER)
def create():
    """Declare off-platform hours with evidence: the rule engine computes the hours now, with the year's caps."""
    uploads, named = _uploads()
    form = request.form
    start, end = service.parse_date(form.get("start_date")), service.parse_date(form.get("end_date"))
    year_text = form.get("year") or (str(end.year) if end else str(ledger.china_today().year))
    year = int(year_text) if year_text.isdigit() else ledger.china_today().year
    kind = service.kind_of(service.rule_set_for_person(g.api_user, year), form.get("kind"))
    declaration, keys = service.submit(g.api_user, kind_id=kind.id, title=form.get("title"),
                                       start_date=form.get("start_date"), end_date=form.get("end_date"),
                                       year=form.get("year"), facts=_facts(kind, start, end), uploads=uploads,
                                       materials=named)
    _commit_or_unstore(keys)
    return declaration, 201


@blp.route("/declarations/<int:declaration_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.DeclarationOut, example=schemas.DECLARATION_EXAMPLE)
@blp.alt_response(404, description="申报不存在或无权查看")
@api_user()
def detail(declaration_id: int):
    """One declaration, for the learner or a reviewer of it: facts, hours and why, evidence, its history."""
    return service.declaration_for(g.api_user, declaration_id)


@blp.route("/declarations/<int:declaration_id>/resubmit", methods=["POST"])
@blp.doc(security=BEARER, requestBody={"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["evidence"], "properties": {
        "note": {"type": "string", "description": "补充说明"}, "evidence": _MULTIPART_FIELDS["evidence"]}},
    "example": {"note": "已补充论文全文", "evidence": ["论文.pdf"]}}}})
@blp.response(200, schemas.DeclarationOut, example=schemas.DECLARATION_EXAMPLE)
@blp.alt_response(409, description="该申报不在“退回补充材料”状态")
@api_user(Role.LEARNER)
def resubmit(declaration_id: int):
    """Add the evidence a reviewer asked for and send the declaration back to the step that returned it."""
    uploads, named = _uploads()
    declaration, keys = service.resubmit(g.api_user, declaration_id, uploads, request.form.get("note"),
                                         materials=named)
    _commit_or_unstore(keys)
    return declaration


# ------------------------------------------------------------------------------------------------ reviewers


@blp.route("/declarations/review", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.ReviewQuery, location="query")
@blp.response(200, schemas.DeclarationPage, example={"items": [schemas.DECLARATION_EXAMPLE], "total": 1, "page": 1,
                                                     "pages": 1, "per_page": 50})
@blp.alt_response(422, description="筛选条件无效", example={"error": {
    "code": "invalid_input", "message": "身份证号后几位应为 4–6 位数字（末位可为 X）。",
    "fields": {"id_suffix": "身份证号后几位应为 4–6 位数字（末位可为 X）。"}}})
@api_user(permission=Permission.REVIEW_DECLARATIONS)
def review_queue(args):
    """The declarations waiting for the caller's decision at their step, oldest first, filtered and paginated."""
    # The same queue as /declaration-reviews (lms/declarations/queue.py), with this document's filter names.
    filters = ListFilters.parse(args)
    return page_body(filters.paginate(db, queue_query(g.api_user, filters, QueueFilters.parse(args))))


@blp.route("/declarations/<int:declaration_id>/decision", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.DeclarationDecisionIn, example={"decision": "return", "reason": "请补充会议通知原件扫描件"})
@blp.response(200, schemas.DeclarationOut)
@blp.alt_response(403, description="当前步骤不由本单位审核")
@blp.alt_response(409, description="申报已被他人处理或不在审核中")
@blp.alt_response(422, description="审核结果或原因无效", example={"error": {
    "code": "invalid_input", "message": "请填写需要补充的材料。", "fields": {"reason": "请填写需要补充的材料。"}}})
@api_user(permission=Permission.REVIEW_DECLARATIONS)
def decide(body, declaration_id: int):
    """Approve, reject (with a reason) or return (with a reason) the step the caller reviews."""
    declaration = service.decide(g.api_user, declaration_id, body["decision"], body["reason"])
    db.session.commit()
    return declaration


@blp.route("/declarations/decisions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.DeclarationBatchIn, example={"ids": [12, 13], "decision": "approve", "reason": ""})
@blp.response(200, schemas.DeclarationOut(many=True))
@api_user(permission=Permission.REVIEW_DECLARATIONS)
def decide_many(body):
    """Decide several declarations together; one refusal refuses them all and nothing is kept."""
    decided = service.decide_many(g.api_user, body["ids"], body["decision"], body["reason"])
    db.session.commit()
    return decided


@blp.route("/declarations/<int:declaration_id>/void", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.DeclarationDecisionIn, example={"reason": "会议邀请函系伪造"})
@blp.response(200, schemas.DeclarationOut)
@api_user(permission=Permission.VOID_DECLARATIONS)
def void(body, declaration_id: int):
    """第二十一条: find a filed declaration false; the year's hours are voided and an integrity record is made."""
    declaration = service.void(g.api_user, declaration_id, body["reason"])
    db.session.commit()
    return declaration


# ------------------------------------------------------------------------------------------------ integrity


@blp.route("/people/<int:person_id>/integrity-records", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.IntegrityRecordOut(many=True), example=[{
    "id": 3, "year": 2026, "declaration_id": 12, "declaration_title": "全国学术年会", "reason": "会议邀请函系伪造",
    "article": "学时管理办法第二十一条", "found_by_org": "某某主管部门", "found_on": "2026-09-02",
    "expires_on": "2029-09-01", "active": True}])
@blp.alt_response(403, description="没有“查看诚信档案”权限，或该人员不在本辖区")
@api_user(permission=Permission.VIEW_INTEGRITY_RECORDS)
def integrity_records(person_id: int):
    """A person's integrity record (诚信档案), expired entries marked; HR bureaus above the person only."""
    person = integrity.person_for_viewer(g.api_user, person_id)
    today = ledger.china_today()
    return [{**integrity.as_json(record), "active": integrity.is_active(record, today)}
            for record in integrity.all_records(person.id)]
