"""The learner's yearly hours page and its .xlsx download; every number comes from the ledger."""

from __future__ import annotations

import io

from flask import Blueprint, render_template, send_file
from flask_login import current_user

from lms.accounts.models import Role
from lms.certificates.service import certificate_of, verify
from lms.core.auth import page_user
from lms.core.errors import NotFound
from lms.ledger import service
from lms.ledger.export import entry_source, posted_on, year_workbook

bp = Blueprint("ledger", __name__, template_folder="templates")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _summary(year: int) -> service.YearSummary:
    if year > service.china_today().year:
        raise NotFound(f"{year} 年度尚未开始，没有学时记录。")
    return service.year_summary(current_user, year)


@bp.get("/my/hours")
@bp.get("/my/hours/<int:year>")
@page_user(Role.LEARNER)
def year_page(year: int | None = None):
    """Show the year's hours by category against the requirement, every entry with its source."""
    year = service.china_today().year if year is None else year
    summary = _summary(year)
    years = sorted({service.china_today().year, year, *service.entry_years(current_user.id)}, reverse=True)
    certificate = certificate_of(current_user.id, year)
    return render_template("ledger/year.html", summary=summary, years=years, certificate=certificate,
                           certificate_check=verify(certificate.code) if certificate else None,
                           sources={entry.id: entry_source(entry) for entry in summary.entries},
                           posted_on=posted_on)


@bp.get("/my/hours/<int:year>.xlsx")
@page_user(Role.LEARNER)
def year_xlsx(year: int):
    """Download the year's entries and totals as an .xlsx workbook."""
    summary = _summary(year)
    response = send_file(io.BytesIO(year_workbook(current_user, summary)), mimetype=XLSX, as_attachment=True,
                         download_name=f"{year}年度继续教育学时_{current_user.name}.xlsx")
    response.headers["Cache-Control"] = "private, no-store"
    return response
