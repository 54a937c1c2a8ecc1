"""The page of a person's integrity record (诚信档案), under the person's record, for the HR bureaus above them."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from lms.core.auth import page_user
from lms.declarations import integrity
from lms.ledger.service import china_today
from lms.orgs.permissions import Permission

bp = Blueprint("integrity", __name__, template_folder="templates")


@bp.get("/people/<int:person_id>/integrity")
@page_user(permission=Permission.VIEW_INTEGRITY_RECORDS)
def person_records(person_id: int):
    """Every integrity record of a person of the admin's subtree, expired ones marked."""
    person = integrity.person_for_viewer(current_user, person_id)  # a refusal is a 403 page with its reason
    return render_template("declarations/integrity.html", person=person, records=integrity.all_records(person.id),
                           today=china_today(), years=integrity.retention_years())
