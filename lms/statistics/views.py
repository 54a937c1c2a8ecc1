"""Statistics pages: 继教综合统计 with drill-down and chart, 专技人员信息查询 with its .xlsx export."""

from __future__ import annotations

from flask import Blueprint, render_template, request, send_file, url_for
from flask_login import current_user

from lms.audit import service as audit
from lms.core.auth import page_user
from lms.core.queues import ListFilters
from lms.core.replica import read_session
from lms.courses.models import Category
from lms.extensions import db
from lms.orgs.access import has_permission
from lms.orgs.departments import department_tree
from lms.orgs.models import Org
from lms.orgs.permissions import Permission
from lms.statistics import export, service
from lms.statistics.as_of import report_as_of
from lms.statistics.courses import course_figures
from lms.statistics.models import Standing

bp = Blueprint("statistics", __name__, template_folder="templates")
PEOPLE_PER_PAGE = 50
CHART_STANDINGS = (Standing.MET, Standing.CLOSE, Standing.SHORT, Standing.NONE, Standing.VOIDED)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/statistics")
@page_user(permission=Permission.VIEW_STATISTICS)
def overview():
    """The subtree's figures for a year, one row and one bar per direct child, each row a drill-down link."""
    root, year = service.scope_and_year(current_user, request.args)
    as_of = service.parse_as_of(request.args.get("as_of"))
    report = service.report(root, year) if as_of is None else report_as_of(root, year, as_of)
    return render_template("statistics/overview.html", report=report, root=root, year=year, as_of=as_of,
                           trail=_trail(root), standings=list(Standing), chart=_chart(report, as_of),
                           categories=Category,
                           source_label=service.source_label)


@bp.get("/statistics/people")
@page_user(permission=Permission.VIEW_STATISTICS)
def people():
    """专技人员信息查询: the subtree's people with their year's hours, filtered; a unit's drill-down lands here."""
    root, year = service.scope_and_year(current_user, request.args)
    query = service.people_query(current_user, root, year, request.args)
    filters = ListFilters.parse({"page": request.args.get("page"), "per_page": PEOPLE_PER_PAGE})
    total = service.count_of(query)
    rows = list(service.person_rows(read_session().execute(
        query.limit(filters.per_page).offset((filters.page - 1) * filters.per_page)), year))
    page = {"page": filters.page, "pages": max(1, -(-total // filters.per_page)), "total": total}
    return render_template("statistics/people.html", root=root, year=year, page=page, rows=rows,
                           filters=request.args.to_dict(), standings=list(Standing), trail=_trail(root),
                           full_numbers=has_permission(current_user, Permission.VIEW_FULL_ID_NUMBERS),
                           departments=department_tree(root))


@bp.get("/statistics/people.xlsx")
@page_user(permission=Permission.VIEW_STATISTICS)
def people_export():
    """The filtered people as .xlsx; full ID numbers only with the permission for them; the export is logged."""
    root, year = service.scope_and_year(current_user, request.args)
    query = service.people_query(current_user, root, year, request.args)
    full = has_permission(current_user, Permission.VIEW_FULL_ID_NUMBERS)
    workbook, count = export.people_workbook(query, year, full)
    audit.record(current_user, "statistics.export_people", object_type="org", object_id=root.id, label=root.name,
                 org=root, after={"year": year, "rows": count, "full_id_numbers": full,
                                  **{k: v for k, v in request.args.items() if k in service.PEOPLE_FILTERS}})
    db.session.commit()
    return send_file(workbook, as_attachment=True, download_name=f"{root.name}{year}年度专技人员.xlsx", mimetype=XLSX)


@bp.get("/statistics/series")
@page_user(permission=Permission.VIEW_STATISTICS)
def series():
    """职称系列分布: people per title series with compliance, as a chart and a table."""
    root, year = service.scope_and_year(current_user, request.args)
    rows = service.series_distribution(root, year)
    chart = {"categories": [r.series for r in rows],
             "series": [{"name": s.label, "key": s.value, "data": [r.standings[s.value] for r in rows]}
                        for s in CHART_STANDINGS], "links": []}
    return render_template("statistics/series.html", root=root, year=year, rows=rows, chart=chart,
                           standings=CHART_STANDINGS, levels=service.LEVELS, trail=_trail(root))


@bp.get("/statistics/series.xlsx")
@page_user(permission=Permission.VIEW_STATISTICS)
def series_export():
    """导出数据: the series table as .xlsx; the export is logged."""
    root, year = service.scope_and_year(current_user, request.args)
    rows = service.series_distribution(root, year)
    workbook = export.series_workbook(rows, year, CHART_STANDINGS)
    audit.record(current_user, "statistics.export_series", object_type="org", object_id=root.id, label=root.name,
                 org=root, after={"year": year, "rows": len(rows)})
    db.session.commit()
    return send_file(workbook, as_attachment=True, download_name=f"{root.name}{year}年度职称系列分布.xlsx",
                     mimetype=XLSX)


@bp.get("/statistics/courses")
@page_user(permission=Permission.VIEW_STATISTICS)
def courses():
    """Each course's enrolments, completions, quiz pass rate and watch time (bases: their own courses)."""
    root, year = service.scope_and_year(current_user, request.args)
    return render_template("statistics/courses.html", root=root, year=year,
                           rows=course_figures(root, year), trail=_trail(root))


def _trail(root: Org) -> list[Org]:
    """The way from the admin's own organisation down to ``root``, for the breadcrumb."""
    home_path = service.statistics_root(current_user).path
    ids = [i for i in root.ancestor_ids]
    orgs = {o.id: o for o in db.session.query(Org).filter(Org.id.in_(ids))}
    return [orgs[i] for i in ids if orgs[i].path.startswith(home_path)]


def _chart(report: service.Report, as_of=None) -> dict:
    """The stacked bars' data: one category per child row, one series per standing (the table shows the same)."""
    return {
        "categories": [row.name for row in report.children],
        "series": [{"name": s.label, "key": s.value, "data": [row.standings[s.value] for row in report.children]}
                   for s in CHART_STANDINGS],
        "links": [url_for("statistics.overview", org_id=row.org_id, year=report.year, as_of=as_of)
                  if row.org_id != report.root.org_id else
                  url_for("statistics.people", org_id=row.org_id, year=report.year) for row in report.children],
    }
