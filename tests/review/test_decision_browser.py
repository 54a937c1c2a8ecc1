"""Deciding without a reason, in headless Chromium against the served app: the refusal is said once, beside
the field it is about, for a held playback session and for a declaration."""

from __future__ import annotations

import io

import pytest

from lms.declarations import service as declarations
from lms.extensions import db
from tests.declarations import PDF, conference_facts
from tests.player import live_server
from tests.review import make_session
from tests.support.browser import chromium, log_in
from tests.tracking import make_ready_courseware


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page_of(browser):
    contexts = []

    def open_page(url, user):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        log_in(page, url, user)
        return page

    yield open_page
    for context in contexts:
        context.close()


def test_voiding_a_held_session_without_a_reason_says_so_once(app, tree, page_of):
    courseware = make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0)
    session = make_session(tree.learner_a, courseware)
    with live_server(app) as url:
        page = page_of(url, tree.reviewer)
        page.goto(f"{url}/review/sessions/{session.id}")
        page.select_option("select[name=decision]", "void")
        page.click("form[action$='/decide'] button[type=submit]")
        page.wait_for_selector(".has-error")
        text = page.inner_text("main")
        message = "请填写审核理由"
        assert text.count(message) == 1, text


def test_rejecting_a_declaration_without_a_reason_says_so_once(app, tree, page_of):
    declaration, _keys = declarations.submit(tree.learner_a, kind_id="conference", title="全国学术年会",
                                             start_date="2026-06-01", end_date="2026-06-02", year="",
                                             facts=conference_facts(False), uploads=[],
                                             materials={"notice": [(io.BytesIO(PDF), "通知.pdf")]})
    db.session.commit()
    with live_server(app) as url:
        page = page_of(url, tree.admins["unit_a"])
        page.goto(f"{url}/declarations/{declaration.id}")
        page.select_option("#decision", "reject")
        page.click("text=提交审核结果")
        page.wait_for_selector("p.flash.error")
        text = page.inner_text("main")
        assert text.count("请填写不通过的原因") == 1, text
