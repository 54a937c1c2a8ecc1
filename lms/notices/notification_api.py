"""The notification centre over /api/v1: the caller's own notifications and their read marks."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.core.auth import api_user
from lms.extensions import db
from lms.notices import notifications as service
from lms.notices.notification_models import Notification

blp = Blueprint("notifications_api", __name__, url_prefix="/api/v1", description="消息中心")
BEARER = [{"bearer": []}]


class ListArgs(Schema):
    page = fields.Integer(load_default=1, metadata={"description": "页码，从 1 开始"})
    unread = fields.Boolean(load_default=False, metadata={"description": "只列未读消息"})


def _json(notification: Notification) -> dict:
    return {"id": notification.id, "kind": notification.kind, "title": notification.title,
            "text": notification.text, "link": notification.link,
            "created_at": notification.created_at.isoformat() + "Z",
            "read_at": notification.read_at.isoformat() + "Z" if notification.read_at else None}


@blp.route("/notifications", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(ListArgs, location="query")
@api_user()
def notification_list(args):
    """The caller's notifications, newest first, one page at a time, with the unread count."""
    page = service.notifications_page(g.api_user, args["page"], unread_only=args["unread"])
    return {"items": [_json(n) for n in page.items], "page": page.page, "pages": page.pages, "total": page.total,
            "unread": service.unread_count(g.api_user)}


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@blp.doc(security=BEARER)
@api_user()
def mark_read(notification_id: int):
    """Mark one of the caller's notifications read (another person's is 'not found')."""
    notification = service.mark_read(g.api_user, notification_id)
    db.session.commit()
    return _json(notification)


@blp.route("/notifications/read-all", methods=["POST"])
@blp.doc(security=BEARER)
@api_user()
def mark_all_read():
    """Mark every notification of the caller read; answer how many changed."""
    count = service.mark_all_read(g.api_user)
    db.session.commit()
    return {"marked": count, "unread": 0}
