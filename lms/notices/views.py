"""Notice pages: the reader's list and notice page (public notices also logged out), the publisher's pages."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge

from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import InvalidInput, ServiceError
from lms.declarations.evidence import size_text
from lms.declarations.forms import CsrfForm
from lms.extensions import csrf, db
from lms.notices import attachments, service
from lms.notices.models import NoticeAudience
from lms.notices.notifications import header_counts
from lms.orgs.permissions import Permission

bp = Blueprint("notices", __name__, template_folder="templates")


@bp.app_template_filter("notice_html")
def notice_html(body_html: str) -> Markup:
    """Show a stored body; it was sanitised when written and is sanitised again here, so no old row can slip by."""
    return Markup(service.sanitise_body(body_html or ""))  # noqa: S704 - nh3 output is the safe subset


def _reader():
    """The logged-in, approved person, or None: the public then reads only the province's public notices."""
    if current_user.is_authenticated and current_user.is_approved and not current_user.must_change_password:
        return current_user
    return None


@bp.app_context_processor
def notice_helpers() -> dict:
    """Let every template show the public notices (logged-out pages), the unread count and notice dates."""
    return {"current_public_notices": service.public_notices, "notice_unread_count": _unread_count,
            "notice_date": lambda moment: china_time(moment, "%Y-%m-%d"), "notice_last_day": service.last_day}


def _unread_count() -> int:
    reader = _reader()
    return header_counts(reader)[0] if reader is not None else 0


@bp.get("/notices")
@page_user()
def notice_list():
    """The notices that apply to the person: pinned first, then newest; unread ones marked."""
    return render_template("notices/list.html", rows=service.visible_notices(current_user), china_time=china_time)


@bp.get("/notices/<int:notice_id>")
def notice_page(notice_id: int):
    """One notice; opening it leaves a read mark. Logged out, only the province's public notices open."""
    reader = _reader()
    notice = service.notice_for_reader(reader, notice_id)
    if reader is not None:
        service.mark_read(reader, notice)
        db.session.commit()
    return render_template("notices/notice.html", notice=notice, china_time=china_time, size_text=size_text)


@bp.get("/notices/<int:notice_id>/attachments/<int:attachment_id>")
def attachment_file(notice_id: int, attachment_id: int):
    """Send one attachment to whoever may read the notice, as a download that the browser never runs."""
    notice = service.notice_for_reader(_reader(), notice_id)
    item = service.attachment_of(notice, attachment_id)
    chunks = attachments.stream(item.key)
    first = next(chunks, b"")  # open it now, so that a storage failure is an error page, not a cut download
    response = Response(_chain(first, chunks), mimetype=item.content_type)
    response.content_length = item.size_bytes
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(item.filename)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


def _chain(first: bytes, rest):
    if first:
        yield first
    yield from rest


# ------------------------------------------------------------------------------------------------ publishers


def _uploads() -> list[attachments.Upload]:
    settings = attachments.AttachmentSettings.current()
    # Room for every allowed file and the form's other fields; anything larger is refused before it is read.
    request.max_content_length = settings.attachment_max_files * settings.attachment_max_bytes + 256 * 1024
    try:
        files = request.files.getlist("attachments")
        csrf.protect()
    except RequestEntityTooLarge:
        raise InvalidInput({"attachments": f"上传内容超过上限：每条通知最多 {settings.attachment_max_files} 个附件，"
                                           f"每个不超过 {size_text(settings.attachment_max_bytes)}。"}) from None
    return [(file.stream, file.filename) for file in files if file and file.filename]


def _commit_or_unstore(keys: list[str]) -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        attachments.delete_quietly(keys)
        raise


def _form(notice=None, values=None, errors=None, status: int = 200):
    return render_template("notices/form.html", notice=notice, values=values or {}, errors=errors or {},
                           audiences=list(NoticeAudience), settings=attachments.AttachmentSettings.current(),
                           size_text=size_text, csrf_form=CsrfForm(formdata=None)), status


def _values_of(notice) -> dict:
    expires = service.last_day(notice)
    return {"title": notice.title, "body": notice.body_html, "audience": notice.audience.value,
            "pinned": notice.pinned, "publish_date": china_time(notice.publish_at, "%Y-%m-%d"),
            "expires_date": expires.isoformat() if expires else ""}


@bp.get("/notices/manage")
@page_user(permission=Permission.PUBLISH_NOTICES)
def manage():
    """The organisation's own notices, every state, with edit and withdraw."""
    return render_template("notices/manage.html", notices=service.published_by(current_user),
                           status_of=service.status_of, china_time=china_time, csrf_form=CsrfForm(formdata=None))


@bp.get("/notices/new")
@page_user(permission=Permission.PUBLISH_NOTICES)
def new():
    """The empty publishing form."""
    return _form(values={"audience": NoticeAudience.ALL.value})


@bp.post("/notices/new")
@page_user(permission=Permission.PUBLISH_NOTICES)
def create():
    """Publish a notice with its attachments, all or nothing."""
    try:
        notice, keys = service.publish(current_user, request.form.to_dict(), _uploads())
    except InvalidInput as problem:
        db.session.rollback()
        return _form(values=request.form.to_dict(), errors=problem.fields, status=422)
    _commit_or_unstore(keys)
    flash(f"已发布通知“{notice.title}”。", "success")
    return redirect(url_for("notices.manage"))


@bp.get("/notices/<int:notice_id>/edit")
@page_user(permission=Permission.PUBLISH_NOTICES)
def edit_form(notice_id: int):
    """The form filled with the notice as stored (the sanitised body)."""
    notice = service.own_notice(current_user, notice_id)
    return _form(notice, _values_of(notice))


@bp.post("/notices/<int:notice_id>/edit")
@page_user(permission=Permission.PUBLISH_NOTICES)
def edit(notice_id: int):
    """Save changes to a notice; the body is sanitised again and new attachments are added."""
    notice = service.own_notice(current_user, notice_id)
    try:
        notice, keys = service.edit(current_user, notice_id, request.form.to_dict(), _uploads())
    except InvalidInput as problem:
        db.session.rollback()
        return _form(notice, request.form.to_dict(), problem.fields, status=422)
    _commit_or_unstore(keys)
    flash(f"已保存通知“{notice.title}”。", "success")
    return redirect(url_for("notices.manage"))


@bp.post("/notices/<int:notice_id>/withdraw")
@page_user(permission=Permission.PUBLISH_NOTICES)
def withdraw(notice_id: int):
    """Withdraw a notice: nobody sees it any more."""
    csrf.protect()
    try:
        notice = service.withdraw(current_user, notice_id)
    except ServiceError as problem:
        db.session.rollback()
        flash(problem.message, "error")
        return redirect(url_for("notices.manage"))
    db.session.commit()
    flash(f"已撤回通知“{notice.title}”。", "success")
    return redirect(url_for("notices.manage"))
