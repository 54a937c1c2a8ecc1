"""JSON API of the learner's yearly hours: by category and kind, against the requirement, with compliance."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.accounts.models import Role
from lms.core.auth import api_user
from lms.core.errors import NotFound
from lms.declarations.service import deferrals_of
from lms.ledger import breakdown, service

blp = Blueprint("ledger_api", __name__, url_prefix="/api/v1", description="我的学时")
BEARER = [{"bearer": []}]

YEAR_EXAMPLE = {
    "year": 2026, "rule_set": "hubei-2026",
    "requirement": {"total": "90.0", "categories": {"public": "30.0", "professional": "60.0"},
                    "article": "学时管理办法第四条"},
    "hours": {"public": "12.0", "professional": "20.0", "total": "32.0"},
    "categories": [{"category": "public", "label": "公需科目", "hours": "12.0", "minimum": "30.0", "met": False},
                   {"category": "professional", "label": "专业科目", "hours": "20.0", "minimum": "60.0", "met": False}],
    "by_kind": [{"source": "course", "kind": None, "label": "网络课程", "category": "public", "hours": "12.0"},
                {"source": "declaration", "kind": "conference", "label": "学术会议", "category": "professional",
                 "hours": "20.0"}],
    "compliance": {"met": False, "voided": False, "status": "not_met",
                   "text": "2026 年度学时未达到要求（公需科目还差 18.0 学时，专业科目还差 40.0 学时，"
                           "合计还差 58.0 学时）"},
    "years_with_hours": [2026, 2025],
}


class YearOut(Schema):
    year = fields.Integer()
    rule_set = fields.String()
    requirement = fields.Dict()
    hours = fields.Dict(metadata={"description": "每个类别及合计的学时"})
    categories = fields.List(fields.Dict())
    by_kind = fields.List(fields.Dict(), metadata={"description": "按来源（网络课程、每种申报类型、更正）和类别"})
    compliance = fields.Dict(metadata={"description": "status：met / not_met / deferred / voided"})
    years_with_hours = fields.List(fields.Integer())


@blp.route("/my/hours", methods=["GET"])
@blp.route("/my/hours/<int:year>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, YearOut, example=YEAR_EXAMPLE)
@blp.alt_response(404, description="年度尚未开始")
@api_user(Role.LEARNER)
def my_hours(year: int | None = None):
    """The caller's hours of a year (this year by default) by category and kind, the requirement, compliance."""
    today = service.china_today()
    year = today.year if year is None else year
    if year > today.year:
        raise NotFound(f"{year} 年度尚未开始，没有学时记录。")
    deferred = any(d.year == year for d in deferrals_of(g.api_user.id))
    return {**breakdown.year_data(g.api_user, year, deferred=deferred),
            "years_with_hours": service.entry_years(g.api_user.id)}
