"""Sending text messages: one interface, an outbox backend (the default) and an HTTP provider backend.

The outbox writes each message to the ``sms_outbox`` table in the request's transaction, so a message
exists only if the action that sent it was committed; the demo shows it (短信发件箱) and the tests read
codes from it. The HTTP backend posts ``{"phone", "text", "purpose"}`` as JSON to ``LMS_SMS_URL`` with
``Authorization: Bearer LMS_SMS_TOKEN``, the shape a provider's gateway or a small adapter in front of it takes.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Protocol

import sqlalchemy as sa
from flask import current_app

from lms.core.idcard import mask_phone
from lms.extensions import db
from lms.notify.models import SmsOutboxMessage

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 5


class SmsNotSent(RuntimeError):
    """The provider did not accept the message (the message says why, without the number)."""


class SmsSender(Protocol):
    def send(self, phone: str, text: str, *, purpose: str, user_id: int | None = None) -> None:
        """Send one text message, or raise SmsNotSent."""


class OutboxSender:
    """Write the message to the outbox table (flushed; committed or rolled back with the request)."""

    def send(self, phone: str, text: str, *, purpose: str, user_id: int | None = None) -> None:
        db.session.add(SmsOutboxMessage(phone=phone, text=text, purpose=purpose, user_id=user_id))
        db.session.flush()


class HttpSender:
    """Post the message to an SMS provider's HTTP interface."""

    def __init__(self, url: str, token: str | None):
        self.url, self.token = url, token

    def send(self, phone: str, text: str, *, purpose: str, user_id: int | None = None) -> None:
        body = json.dumps({"phone": phone, "text": text, "purpose": purpose}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                response.read(1024)
        except urllib.error.HTTPError as error:
            error.close()  # it holds the provider's answer and its socket; a retrying worker would leak them
            raise SmsNotSent(f"短信接口拒绝了发往 {mask_phone(phone)} 的短信（HTTP {error.code}）。") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SmsNotSent(f"短信接口不可达，发往 {mask_phone(phone)} 的短信未发出（{error}）。") from None
        log.info("sms sent to %s (%s)", mask_phone(phone), purpose)


def sms_sender() -> SmsSender:
    """Return the sender the configuration chooses (LMS_SMS_BACKEND)."""
    config = current_app.extensions["lms.config"]
    if config.sms_backend == "http":
        return HttpSender(config.sms_url, config.sms_token)
    return OutboxSender()


def outbox_query(purpose: str | None = None) -> sa.Select:
    """Select outbox messages, newest first, optionally of one purpose."""
    query = sa.select(SmsOutboxMessage).order_by(SmsOutboxMessage.created_at.desc(), SmsOutboxMessage.id.desc())
    if purpose:
        query = query.where(SmsOutboxMessage.purpose == purpose)
    return query
