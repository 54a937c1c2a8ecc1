"""Certificate pages: a learner's own certificate and PDF, the admins' look-up, and the public verification page."""

from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from lms.accounts.models import Role
from lms.certificates import batches, service
from lms.certificates.models import BatchFormat, BatchState
from lms.core.auth import page_user
from lms.core.errors import InvalidInput, ServiceError
from lms.core.idcard import mask_id_number
from lms.core.queues import ListFilters
from lms.declarations.forms import CsrfForm
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


# ------------------------------------------------------------------------------------------------ 5.4.4

@bp.get("/certificates/list")
@page_user(permission=Permission.LOOKUP_CERTIFICATES)
def certificate_list():
    """A year's certificates of the admin's subtree (or one organisation in it), without typing a query."""
    from lms.statistics.service import parse_year

    year = parse_year(request.args.get("year"))
    root, query = batches.subtree_query(current_user, year, request.args.get("org_id"))
    filters = ListFilters.parse({"page": request.args.get("page"), "per_page": 100})
    page = filters.paginate(db, query)
    return render_template("certificates/list.html", root=root, year=year, page=page, form=CsrfForm(),
                           formats=list(BatchFormat), mask_id_number=mask_id_number,
                           batch_max=batches.BATCH_MAX)


@bp.post("/certificates/batches")
@page_user(permission=Permission.LOOKUP_CERTIFICATES)
def create_batch():
    """Queue a batch print of the ticked certificates (or all of the list) and show its progress."""
    from lms.statistics.service import parse_year

    form = CsrfForm()
    if not form.validate_on_submit():
        raise InvalidInput({"csrf_token": "页面已过期，请刷新后重试。"})
    batch = batches.request_batch(current_user, parse_year(request.form.get("year")), request.form.get("org_id"),
                                  request.form.getlist("ids"), request.form.get("format") or "")
    db.session.commit()
    batches.start(batch)
    return redirect(url_for("certificates.batch_page", batch_id=batch.id))


@bp.get("/certificates/batches/<int:batch_id>")
@page_user(permission=Permission.LOOKUP_CERTIFICATES)
def batch_page(batch_id: int):
    return render_template("certificates/batch.html", batch=batches.batch_for(current_user, batch_id),
                           states=BatchState)


@bp.get("/certificates/batches/<int:batch_id>.json")
@page_user(permission=Permission.LOOKUP_CERTIFICATES)
def batch_progress(batch_id: int):
    """The batch's progress for the page's progress bar."""
    batch = batches.batch_for(current_user, batch_id)
    return {"state": batch.state.value, "label": batch.state.label, "done": batch.done, "total": batch.total,
            "skipped": batch.skipped, "error": batch.error,
            "download": url_for("certificates.batch_file", batch_id=batch.id) if batch.state == BatchState.DONE
            else None}


@bp.get("/certificates/batches/<int:batch_id>/file")
@page_user(permission=Permission.LOOKUP_CERTIFICATES)
def batch_file(batch_id: int):
    """Send the finished file (streamed from object storage, never whole in memory)."""
    batch = batches.batch_for(current_user, batch_id)
    if batch.state != BatchState.DONE:
        raise InvalidInput({"batch": "批量打印尚未完成。"})
    store = current_app.extensions["lms.storage"]
    size = store.size(batch.storage_key)

    def chunks():
        with store.open(batch.storage_key) as stream:
            while chunk := stream.read(256 * 1024):
                yield chunk

    response = current_app.response_class(chunks(), mimetype="application/pdf" if batch.format == BatchFormat.PDF
                                          else "application/zip")
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "private, no-store"
    from urllib.parse import quote

    response.headers["Content-Disposition"] = (f"attachment; filename=batch-{batch.id}.{batch.format.value}; "
                                               f"filename*=UTF-8''{quote(batches.download_name(batch))}")
    return response
