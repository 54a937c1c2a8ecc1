"""``flask --app lms sms outbox``: read the outbox of text messages (the embedded default's SMS backend)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lms.core.clock import china_time
from lms.core.idcard import mask_phone
from lms.extensions import db
from lms.notify.sms import outbox_query

sms_cli = AppGroup("sms", help="短信：查看短信发件箱。")


@sms_cli.command("outbox")
@click.option("--limit", default=20, show_default=True, help="显示最近的几条。")
@click.option("--purpose", default=None, help="只看某种用途，如 password_reset。")
def outbox(limit: int, purpose: str | None) -> None:
    """Print the newest messages of the outbox (the phone numbers masked)."""
    messages = db.session.scalars(outbox_query(purpose).limit(max(1, limit))).all()
    if not messages:
        click.echo("短信发件箱为空。")
    for message in messages:
        click.echo(f"{china_time(message.created_at)}  {mask_phone(message.phone)}  {message.purpose}  {message.text}")
