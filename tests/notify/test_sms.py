"""The SMS sender: the outbox backend (its page and CLI) and the HTTP provider backend, against a real HTTP server."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from lms.config import Config, ConfigError
from lms.extensions import db
from lms.notify.models import SmsOutboxMessage
from tests.declarations import client_for


class Provider(http.server.BaseHTTPRequestHandler):
    """A provider's HTTP interface on loopback that keeps what it received and answers with ``status``."""

    received: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 - the name http.server calls
        length = int(self.headers["Content-Length"])
        type(self).received.append({"authorization": self.headers.get("Authorization"),
                                    "body": json.loads(self.rfile.read(length))})
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def provider() -> Iterator[type[Provider]]:
    handler = type("RecordingProvider", (Provider,), {"received": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}/send"
    yield handler
    server.shutdown()
    server.server_close()


def outbox() -> list[SmsOutboxMessage]:
    db.session.rollback()
    return db.session.scalars(sa.select(SmsOutboxMessage)).all()


def ask_code(client, user):
    return client.post("/api/v1/auth/password-reset/code", json={"login": user.login, "phone": user.phone})


def test_the_http_backend_posts_the_message_to_the_provider_and_writes_no_outbox_row(config, app_factory, tree,
                                                                                     provider):
    http_app = app_factory(dataclasses.replace(config, sms_backend="http", sms_url=provider.url, sms_token="k" * 20))
    response = ask_code(http_app.test_client(), tree.learner_a)
    assert response.status_code == 202
    [sent] = provider.received
    assert sent["authorization"] == "Bearer " + "k" * 20
    assert sent["body"]["phone"] == tree.learner_a.phone and sent["body"]["purpose"] == "password_reset"
    assert "验证码" in sent["body"]["text"]
    assert outbox() == []


def test_a_provider_refusal_gives_the_same_answer_and_is_logged_without_the_number(config, app_factory, tree, provider,
                                                                                   caplog):
    provider.status = 503
    http_app = app_factory(dataclasses.replace(config, sms_backend="http", sms_url=provider.url))
    response = ask_code(http_app.test_client(), tree.learner_a)
    assert response.status_code == 202 and len(provider.received) == 1
    assert "HTTP 503" in caplog.text and tree.learner_a.phone not in caplog.text


def test_the_http_backend_needs_a_url_and_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="LMS_SMS_URL"):
        Config.from_env({"LMS_SMS_BACKEND": "http"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="LMS_SMS_BACKEND"):
        Config.from_env({"LMS_SMS_BACKEND": "pigeon"}, data_dir=tmp_path)
    assert Config.from_env({}, data_dir=tmp_path).sms_backend == "outbox"


def test_the_outbox_page_shows_an_admin_the_messages_of_their_subtree_only(app, client, tree):
    assert ask_code(client, tree.learner_a).status_code == 202
    assert ask_code(client, tree.learner_b).status_code == 202
    unit_a = client_for(app, tree.admins["unit_a"]).get("/sms/outbox").get_data(as_text=True)
    assert tree.learner_a.name in unit_a and tree.learner_b.name not in unit_a
    assert tree.learner_a.phone not in unit_a and tree.learner_a.masked_phone in unit_a
    city = client_for(app, tree.admins["city"]).get("/sms/outbox").get_data(as_text=True)
    assert tree.learner_a.name in city and tree.learner_b.name in city
    assert client_for(app, tree.learner_a).get("/sms/outbox").status_code == 403
    assert "/sms/outbox" in client_for(app, tree.admins["unit_a"]).get("/people").get_data(as_text=True)


def test_the_outbox_page_is_gone_when_a_provider_sends(config, app_factory, tree, provider):
    http_app = app_factory(dataclasses.replace(config, sms_backend="http", sms_url=provider.url))
    assert client_for(http_app, tree.admins["unit_a"]).get("/sms/outbox").status_code == 404


def test_the_cli_prints_the_outbox_with_masked_numbers(app, client, tree):
    assert app.test_cli_runner().invoke(args=["sms", "outbox"]).output.strip() == "短信发件箱为空。"
    assert ask_code(client, tree.learner_a).status_code == 202
    output = app.test_cli_runner().invoke(args=["sms", "outbox", "--purpose", "password_reset"]).output
    assert "验证码" in output and tree.learner_a.masked_phone in output and tree.learner_a.phone not in output
