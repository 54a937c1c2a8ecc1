"""The outbox page (短信发件箱): the text messages the outbox backend 'sent' to people of the admin's subtree.

It exists only while the outbox is the SMS backend (the embedded default and the demo); an admin who may
reset passwords reads the codes their people were sent, which gives them nothing their reset does not.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from lms.accounts.models import User
from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.extensions import db
from lms.notify.models import SmsOutboxMessage
from lms.notify.sms import outbox_query
from lms.orgs.access import within_scope
from lms.orgs.models import Org
from lms.orgs.permissions import Permission

bp = Blueprint("notify", __name__, template_folder="templates")


@bp.get("/sms/outbox")
@page_user(permission=Permission.RESET_PASSWORDS)
def outbox():
    """List the newest outbox messages to people of the admin's subtree, numbers masked."""
    if current_app.extensions["lms.config"].sms_backend != "outbox":
        abort(404)
    query = (outbox_query().join(User, User.id == SmsOutboxMessage.user_id).join(Org, Org.id == User.org_id)
             .where(within_scope(Org.path, current_user, Permission.RESET_PASSWORDS)))
    return render_template("notify/outbox.html", page=db.paginate(query, per_page=50, error_out=False),
                           china_time=china_time)
