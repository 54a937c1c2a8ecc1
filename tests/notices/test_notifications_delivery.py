"""SMS of notifications through a failing provider (a real HTTP server on loopback answering 500), and the deadline
reminder round: who is reminded of what, once per round, in batches."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from lms.accounts.models import Role
from lms.audit.models import AuditEntry
from lms.core.jobs import NOTIFICATIONS_QUEUE
from lms.courses.models import Category
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import SourceType
from lms.notices import notifications, reminders
from lms.notices.notification_models import DeliveryStatus, Notification, SmsDelivery
from tests.conftest import api_token, make_user
from tests.declarations import client_for


class FailingProvider(http.server.BaseHTTPRequestHandler):
    """An SMS provider that answers 500 to its first ``failures`` messages (all of them with -1), then 200."""

    failures = 0
    received: list[str] = []

    def do_POST(self):  # noqa: N802 - the name http.server calls
        type(self).received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        failing = type(self).failures < 0 or len(type(self).received) <= type(self).failures
        self.send_response(500 if failing else 200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def provider() -> Iterator[type[FailingProvider]]:
    handler = type("Provider", (FailingProvider,), {"received": [], "failures": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{server.server_port}/send"
    yield handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_app(config, app_factory, provider):
    built = app_factory(dataclasses.replace(config, sms_backend="http", sms_url=provider.url))
    built.config["LMS_NOTIFICATIONS"] = {"sms_retry_intervals": (0, 0, 0)}  # retried at once, not in minutes
    yield built
    runner = built.extensions.get("lms.jobs")
    if runner is not None:
        runner.shutdown(wait=True)


def run_sms_jobs(app, delivery_id: int) -> SmsDelivery:
    """Work the notifications queue (RQ with Redis, the app's job thread without) until the delivery settles."""
    with app.app_context():
        if app.extensions["lms.config"].redis_url:
            connection = app.extensions["lms.redis.queue"]
            SimpleWorker([Queue(NOTIFICATIONS_QUEUE, connection=connection)], connection=connection).work(burst=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.session.rollback()
        delivery = db.session.get(SmsDelivery, delivery_id)
        if delivery.status != DeliveryStatus.QUEUED:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"the delivery stayed queued after {delivery.attempts} attempts")


def reset_over_api(app, tree):
    client = app.test_client()
    response = client.post(f"/api/v1/people/{tree.learner_a.id}/password-reset", json={},
                           headers=api_token(client, tree.admins["unit_a"]))
    assert response.status_code == 200, response.get_json()
    db.session.rollback()
    return db.session.scalar(sa.select(SmsDelivery).where(SmsDelivery.user_id == tree.learner_a.id))


def test_a_failed_sms_is_retried_until_the_provider_takes_it_and_the_action_stands(http_app, tree, provider):
    provider.failures = 2
    delivery = reset_over_api(http_app, tree)
    assert delivery is not None and delivery.status == DeliveryStatus.QUEUED  # committed with the reset
    delivery = run_sms_jobs(http_app, delivery.id)
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3 and delivery.last_error is None
    assert len(provider.received) == 3 and tree.learner_a.phone in provider.received[-1]
    assert db.session.get(type(tree.learner_a), tree.learner_a.id).must_change_password  # the reset stands


def test_an_sms_the_provider_always_refuses_fails_visibly_to_the_admin_only(http_app, tree, provider):
    provider.failures = -1
    started = time.monotonic()
    delivery = reset_over_api(http_app, tree)
    assert time.monotonic() - started < 5  # the request never waited for the provider
    delivery = run_sms_jobs(http_app, delivery.id)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 4 and "HTTP 500" in delivery.last_error
    assert len(provider.received) == 4
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))
                             .where(Notification.user_id == tree.learner_a.id)) == 1
    page = client_for(http_app, tree.admins["unit_a"]).get("/notifications/sms?status=failed").get_data(as_text=True)
    assert "发送失败" in page and "HTTP 500" in page and tree.learner_a.name in page
    beside = client_for(http_app, tree.admins["unit_b"]).get("/notifications/sms").get_data(as_text=True)
    assert tree.learner_a.name not in beside
    assert client_for(http_app, tree.learner_b).get("/notifications/sms").status_code == 403
    with http_app.app_context():
        assert notifications.resend_failed() == 1
    assert run_sms_jobs(http_app, delivery.id).status == DeliveryStatus.FAILED  # still down: failed again, counted
    assert len(provider.received) == 8


def test_a_notification_of_a_rolled_back_action_sends_no_sms(http_app, tree, provider):
    with http_app.app_context():
        notifications.notify(db.session.get(type(tree.learner_a), tree.learner_a.id), "deadline", "测试", sms=True)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(SmsDelivery.id))) == 0
    runner = http_app.extensions.get("lms.jobs")
    if runner is not None:
        runner.shutdown(wait=True)
    assert provider.received == []


# ------------------------------------------------------------------------------------------------ reminders


def _post(user, public: str, professional: str, year: int = 2026) -> None:
    postings = [ledger.Posting(category, Decimal(hours)) for category, hours in
                ((Category("public"), public), (Category("professional"), professional)) if Decimal(hours) > 0]
    if postings:
        ledger.post(user, year=year, source_type=SourceType.ADJUSTMENT, source_id=user.id, postings=postings,
                    kind=None, earned_on=dt.date(year, 3, 1), description="测试学时", posted_by=None)
    db.session.commit()


def _reminders() -> dict[int, Notification]:
    db.session.expire_all()
    return {n.user_id: n for n in db.session.scalars(sa.select(Notification).where(Notification.kind == "deadline"))}


def test_the_reminder_tells_each_person_short_of_hours_what_is_missing_once_per_round(app, tree):
    app.config["LMS_NOTIFICATIONS"] = {"remind_batch_size": 2}  # several batches with a handful of people
    done = make_user(tree.unit_a, Role.LEARNER)
    public_short = make_user(tree.unit_a, Role.LEARNER)
    both_short = make_user(tree.unit_b, Role.LEARNER)
    _post(done, "30", "60")
    _post(public_short, "10", "70")
    _post(both_short, "20", "15")
    today = dt.date(2026, 12, 1)  # 30 days before 31 December
    result = reminders.remind_deadline(today)
    assert result.round.key == "deadline:2026:30"
    sent = _reminders()
    assert done.id not in sent and tree.pending_a.id not in sent and tree.admins["unit_a"].id not in sent
    assert "公需科目 20 学时" in sent[public_short.id].text and "专业科目" not in sent[public_short.id].text
    assert "公需科目 10 学时、专业科目 45 学时" in sent[both_short.id].text
    assert "公需科目 30 学时、专业科目 60 学时" in sent[tree.learner_a.id].text  # no hours at all
    assert result.notified == len(sent) == 4 and set(sent) == {public_short.id, both_short.id, tree.learner_a.id,
                                                               tree.learner_b.id}
    assert result.texted == 4  # SMS is on by default for the deadline
    assert reminders.remind_deadline(today).notified == 0  # the same round again: nobody twice
    assert reminders.remind_deadline(dt.date(2026, 12, 10)).notified == 0  # a later day of the same round
    assert len(_reminders()) == 4
    assert reminders.remind_deadline(dt.date(2026, 11, 1)).round is None  # before the first round
    next_round = reminders.remind_deadline(dt.date(2026, 12, 24))
    assert next_round.round.key == "deadline:2026:7" and next_round.notified == 4
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "notification.remind_deadline"))
    assert [(a.object_label, a.after["notified"]) for a in audit] == [
        ("deadline:2026:30", 4), ("deadline:2026:30", 0), ("deadline:2026:30", 0), ("deadline:2026:7", 4)]


def test_the_reminder_skips_sms_for_people_who_turned_it_off_and_reads_in_batches(app, tree):
    app.config["LMS_NOTIFICATIONS"] = {"remind_batch_size": 1}
    notifications.save_sms_choices(tree.learner_a, [])
    db.session.commit()
    statements = []

    def count_statement(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        result = reminders.remind_deadline(dt.date(2026, 12, 1))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count_statement)
    assert result.notified == 2 and result.texted == 1
    texted = db.session.scalars(sa.select(SmsDelivery.user_id)).all()
    assert texted == [tree.learner_b.id]
    reads = [s for s in statements if "person_year_hours" in s]
    assert len(reads) == 3  # one per batch of one person, and the empty one that ends the run


def test_the_cli_runs_the_round_due_today(app, tree):
    runner = app.test_cli_runner()
    output = runner.invoke(args=["notifications", "remind-deadline", "--today", "2026-12-01"]).output
    assert "截止前 30 天提醒：已提醒 2 人" in output
    assert "已提醒 0 人" in runner.invoke(args=["notifications", "remind-deadline", "--today", "2026-12-02"]).output
    assert "不是学时截止提醒日" in runner.invoke(args=["notifications", "remind-deadline",
                                                      "--today", "2026-06-01"]).output
