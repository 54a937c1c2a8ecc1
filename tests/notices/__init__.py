"""Helpers for notice tests: publishing through the service as a publisher's request would."""

from __future__ import annotations

from lms.extensions import db
from lms.notices import service


def publish(actor, title="关于做好2026年度继续教育工作的通知", body="<p>请按时完成学时。</p>", audience="all",
            **extra):
    """Publish a notice as ``actor`` and commit it; return its id."""
    notice, _keys = service.publish(actor, {"title": title, "body": body, "audience": audience, **extra})
    db.session.commit()
    return notice.id
