"""Notification pages: the person's notification centre (消息), their SMS settings, and the admins' SMS log."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import ServiceError
from lms.extensions import csrf, db
from lms.notices import notifications as service
from lms.notices.notification_models import DeliveryStatus
from lms.orgs.permissions import Permission

bp = Blueprint("notifications", __name__, template_folder="templates")


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except (TypeError, ValueError):
        return 1


def _safe_link(link: str | None) -> str:
    """Only a path inside the platform (the service builds them; an old row can never send anyone elsewhere)."""
    if link and link.startswith("/") and not link.startswith("//") and "\\" not in link:
        return link
    return url_for("notifications.notification_list")


@bp.get("/notifications")
@page_user()
def notification_list():
    """The person's notifications, newest first, unread ones marked; optionally only the unread."""
    unread_only = request.args.get("unread") == "1"
    page = service.notifications_page(current_user, _page_number(), unread_only=unread_only)
    return render_template("notifications/list.html", page=page, unread_only=unread_only, kinds=service.KINDS,
                           china_time=china_time)


@bp.get("/notifications/<int:notification_id>/open")
@page_user()
def open_notification(notification_id: int):
    """Mark the notification read and go to the thing it is about."""
    try:
        notification = service.mark_read(current_user, notification_id)
    except ServiceError as problem:
        db.session.rollback()
        flash(problem.message, "error")
        return redirect(url_for("notifications.notification_list"))
    db.session.commit()
    return redirect(_safe_link(notification.link))


@bp.post("/notifications/<int:notification_id>/read")
@page_user()
def mark_read(notification_id: int):
    """Mark one notification read and stay on the list."""
    csrf.protect()
    try:
        service.mark_read(current_user, notification_id)
    except ServiceError as problem:
        db.session.rollback()
        flash(problem.message, "error")
        return redirect(url_for("notifications.notification_list"))
    db.session.commit()
    return redirect(url_for("notifications.notification_list", page=_page_number()))


@bp.post("/notifications/read-all")
@page_user()
def mark_all_read():
    """Mark every notification of the person read."""
    csrf.protect()
    count = service.mark_all_read(current_user)
    db.session.commit()
    flash(f"已将 {count} 条消息标为已读。" if count else "没有未读消息。", "success")
    return redirect(url_for("notifications.notification_list"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@page_user()
def settings():
    """Which kinds of notification also come by SMS."""
    if request.method == "POST":
        csrf.protect()
        try:
            service.save_sms_choices(current_user, request.form.getlist("sms"))
        except ServiceError as problem:
            db.session.rollback()
            flash(problem.message, "error")
            return redirect(url_for("notifications.settings"))
        db.session.commit()
        flash("已保存短信提醒设置。", "success")
        return redirect(url_for("notifications.settings"))
    return render_template("notifications/settings.html", kinds=service.KINDS,
                           choices=service.sms_choices(current_user.id))


@bp.get("/notifications/sms")
@page_user(permission=Permission.VIEW_SMS_DELIVERIES)
def deliveries():
    """The text messages of notifications to people of the admin's subtree, with their status and last error."""
    status = request.args.get("status") or None
    try:
        query = service.deliveries_query(current_user, status)
    except ServiceError as problem:
        flash(problem.message, "error")
        return redirect(url_for("notifications.deliveries"))
    page = db.paginate(query, page=_page_number(), per_page=50, error_out=False)
    return render_template("notifications/deliveries.html", page=page, status=status, statuses=list(DeliveryStatus),
                           kinds=service.KINDS, china_time=china_time)
