"""Certificate pages: a learner's own certificate and PDF, the admins' look-up, and the public verification page."""

from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from lms.accounts.models import Role
from lms.certificates import service
from lms.core.auth import page_user
from lms.core.errors import InvalidInput, ServiceError
from lms.core.idcard import mask_id_number
from lms.extensions import db, limiter
from lms.orgs.permissions import Permission

bp = Blueprint("certificates", __name__, template_folder="templates")

DEFAULT_VERIFY_RATE_LIMIT = "30 per minute"


def verify_rate_limit() -> str:
    return current_app.config.get("LMS_VERIFY_RATE_LIMIT") or DEFAULT_VERIFY_RATE_LIMIT


# Anyone may verify, so the form and the result page share one per-address limit against guessing codes.
verify_limit = limiter.shared_limit(verify_rate_limit, scope="certificate-verify")


@bp.post("/my/certificates/<int:year>")
@page_user(Role.LEARNER)
def issue(year: int):
    """Issue (or return) the learner's certificate of a year whose requirement is met."""
    from lms.ledger.views import year_page

    try:
        certificate = service.issue(current_user, year)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return year_page(year), error.status
    return redirect(url_for("certificates.certificate_page", certificate_id=certificate.id))


@bp.get("/certificates/<int:certificate_id>")
@page_user()
def certificate_page(certificate_id: int):
    """Show a certificate (its holder or an admin above them) with links to print it and to verify it."""
    certificate = service.certificate_for(current_user, certificate_id)
    return render_template("certificates/certificate.html", certificate=certificate,
                           check=service.verify(certificate.code), grouped=service.grouped(certificate.code),
                           masked_id=mask_id_number(certificate.holder_id_number),
                           issued_on=service.issued_on(certificate), verify_url=service.verify_url(certificate.code))


@bp.get("/certificates/<int:certificate_id>.pdf")
@page_user()
def certificate_pdf(certificate_id: int):
    """Send the certificate's PDF: inline for printing, or as a download with ``?download=1``."""
    certificate = service.certificate_for(current_user, certificate_id)
    pdf = service.pdf_bytes(certificate)
    response = send_file(io.BytesIO(pdf), mimetype="application/pdf",
                         as_attachment=request.args.get("download") == "1",
                         download_name=f"{certificate.year}年度继续教育学时证明_{certificate.holder_name}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/certificates/lookup")
@page_user(permission=Permission.LOOKUP_CERTIFICATES)
def lookup():
    """Let an admin find the certificates of people in their subtree by name or ID-card number."""
    query = (request.args.get("q") or "").strip()
    year_raw = (request.args.get("year") or "").strip()
    results, problems, status = None, {}, 200
    if query or year_raw:
        try:
            year = None
            if year_raw:
                if not year_raw.isdigit() or not 2000 <= int(year_raw) <= 2100:
                    raise InvalidInput({"year": "年度应为四位数字，如 2026。"})
                year = int(year_raw)
            results = service.search(current_user, query, year)
            db.session.commit()  # the look-up's audit row
        except InvalidInput as error:
            problems, status = error.fields, error.status
    return render_template("certificates/lookup.html", q=query, year=year_raw, results=results, problems=problems,
                           mask_id_number=mask_id_number), status


@bp.get("/verify")
@verify_limit
def verify_form():
    """The public form to type a verification code; a valid-looking code goes to its result page."""
    raw = request.args.get("code")
    if raw is None:
        return render_template("certificates/verify_form.html", code="", problem=None)
    code = service.normalise_code(raw)
    problem = service.code_problem(code)
    if problem:
        return render_template("certificates/verify_form.html", code=raw[:40], problem=problem), 422
    return redirect(url_for("certificates.verify_page", code=service.grouped(code)))


@bp.get("/verify/<code>")
@verify_limit
def verify_page(code: str):
    """Say publicly whether a certificate is genuine, revoked or not genuine; the holder is shown masked."""
    result = service.verify(code)
    certificate = result.certificate
    status = {service.Verdict.GENUINE: 200, service.Verdict.REVOKED: 410, service.Verdict.NOT_GENUINE: 404}
    response = render_template(
        "certificates/verify_result.html", result=result, certificate=certificate, typed=code[:40],
        holder=service.mask_name(certificate.holder_name) if certificate else None,
        masked_id=mask_id_number(certificate.holder_id_number) if certificate else None,
        issued_on=service.issued_on(certificate) if certificate else None)
    return response, status[result.verdict], {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
