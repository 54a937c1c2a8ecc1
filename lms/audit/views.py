"""The audit log page, its .xlsx export and its JSON API (admins read their subtree's rows)."""

from __future__ import annotations

import io

from flask import Blueprint, flash, render_template, request, send_file
from flask_login import current_user
from openpyxl import Workbook

from lms.audit import service
from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import ServiceError
from lms.extensions import db
from lms.orgs.permissions import Permission

bp = Blueprint("audit", __name__, template_folder="templates")
EXPORT_MAX_ROWS = 100_000


@bp.get("/audit")
@page_user(permission=Permission.VIEW_AUDIT_LOG)
def log_page():
    """The audit rows of the admin's subtree, newest first, filterable."""
    filters = request.args.to_dict()
    try:
        query = service.log_query(current_user, filters)
    except ServiceError as error:
        flash(error.message, "error")
        filters, query = {}, service.log_query(current_user, {})
    page = db.paginate(query, per_page=service.PAGE_SIZE, error_out=False)
    return render_template("audit/log.html", page=page, filters=filters, actions=service.ACTION_LABELS,
                           china_time=china_time)


@bp.get("/audit/export.xlsx")
@page_user(permission=Permission.VIEW_AUDIT_LOG)
def export():
    """The filtered audit rows as .xlsx (write-only, so memory stays flat); the export itself is logged."""
    filters = request.args.to_dict()
    query = service.log_query(current_user, filters).limit(EXPORT_MAX_ROWS)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("操作日志")
    sheet.append(["时间", "操作人", "身份", "操作", "对象", "原因", "修改前", "修改后", "来源地址"])
    for entry in db.session.scalars(query.execution_options(yield_per=1000)):
        sheet.append([china_time(entry.created_at), entry.actor_name, entry.actor_role,
                      service.ACTION_LABELS.get(entry.action, entry.action), entry.object_label, entry.reason or "",
                      service.as_text(entry.before), service.as_text(entry.after), entry.ip_address or ""])
    service.record(current_user, "audit.export", object_type="audit_log", label="导出操作日志",
                   after={k: v for k, v in filters.items() if k in ("action", "actor", "since", "until")})
    db.session.commit()
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name="操作日志.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
