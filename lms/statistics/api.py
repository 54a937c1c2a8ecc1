"""Statistics over /api/v1: the comprehensive figures of a subtree with its children, and the people search."""

from __future__ import annotations

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.core.auth import api_user
from lms.core.queues import ListFilters
from lms.core.replica import read_session
from lms.orgs.access import has_permission
from lms.orgs.permissions import Permission
from lms.statistics import service
from lms.statistics.as_of import report_as_of

blp = Blueprint("statistics_api", __name__, url_prefix="/api/v1", description="统计查询")
BEARER = [{"bearer": []}]


class ReportQuery(Schema):
    org_id = fields.String(load_default=None, metadata={"description": "下级单位编号（默认本单位）"})
    year = fields.String(load_default=None, metadata={"description": "年度（默认今年）"})
    as_of = fields.String(load_default=None, metadata={"description": "截至日期（YYYY-MM-DD，默认今天）"})


class PeopleQuery(ReportQuery):
    name = fields.String(load_default=None)
    id_suffix = fields.String(load_default=None)
    title_series = fields.String(load_default=None)
    title_level = fields.String(load_default=None, metadata={"description": "正高级、副高级、中级、初级或未评定"})
    standing = fields.String(load_default=None, metadata={"description": "met、close、short、none 或 voided"})
    min_hours = fields.String(load_default=None)
    max_hours = fields.String(load_default=None)
    unit_id = fields.String(load_default=None)
    department_id = fields.String(load_default=None, metadata={"description": "内设部门（含其下级部门）"})
    page = fields.String(load_default=None)
    per_page = fields.String(load_default=None)


@blp.route("/statistics", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(ReportQuery, location="query")
@api_user(permission=Permission.VIEW_STATISTICS)
def comprehensive(_args):
    """继教综合统计: the subtree's figures for a year and each direct child's (drill down with ``org_id``)."""
    # The service reads the raw arguments itself, so a malformed one gets its Chinese message.
    root, year = service.scope_and_year(g.api_user, request.args)
    as_of = service.parse_as_of(request.args.get("as_of"))
    report = service.report(root, year) if as_of is None else report_as_of(root, year, as_of)
    return {"year": report.year, "as_of": as_of.isoformat() if as_of else None, "total": report.root.as_dict(),
            "children": [c.as_dict() for c in report.children]}


@blp.route("/statistics/people", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(PeopleQuery, location="query")
@api_user(permission=Permission.VIEW_STATISTICS)
def people(_args):
    """专技人员信息查询: the subtree's people with the year's hours by category, filtered, one page at a time."""
    root, year = service.scope_and_year(g.api_user, request.args)
    query = service.people_query(g.api_user, root, year, request.args)
    filters = ListFilters.parse({"page": request.args.get("page"), "per_page": request.args.get("per_page")})
    full = has_permission(g.api_user, Permission.VIEW_FULL_ID_NUMBERS)
    rows = service.person_rows(read_session().execute(
        query.limit(filters.per_page).offset((filters.page - 1) * filters.per_page)), year)
    return {"year": year, "total": service.count_of(query), "page": filters.page, "per_page": filters.per_page,
            "items": [{"id": r.id, "name": r.name, "org": r.org_name,
                       "id_number": r.id_number if full else r.masked_id_number,
                       "title_series": r.title_series, "public": str(r.public),
                       "professional": str(r.professional), "total": str(r.total), "standing": r.standing.value,
                       "standing_label": r.standing.label, "missing": str(r.missing)} for r in rows]}


@blp.route("/statistics/series", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(ReportQuery, location="query")
@api_user(permission=Permission.VIEW_STATISTICS)
def series(_args):
    """职称系列分布: the subtree's approved learners per title series, by standing in the year."""
    root, year = service.scope_and_year(g.api_user, request.args)
    return {"year": year, "items": [{"series": r.series, "people": r.people, "standings": r.standings,
                                     "levels": r.levels, "met_percent": r.met_percent}
                                    for r in service.series_distribution(root, year)]}
