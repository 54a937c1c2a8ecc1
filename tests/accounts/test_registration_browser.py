"""The registration page in headless Chromium against the served app, as a new user meets it."""

from __future__ import annotations

import pytest

from tests.player import live_server
from tests.support.browser import chromium, log_in


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def test_a_logged_in_person_opening_registration_is_told_so_and_may_log_out_to_register(app, tree, page):
    with live_server(app) as url:
        log_in(page, url, tree.pending_a)
        response = page.goto(f"{url}/register")
        assert response.status == 409
        notice = page.inner_text("[data-logged-in]")
        assert f"您已登录为 {tree.pending_a.name}" in notice
        assert page.locator("input[name=id_number]").count() == 0  # no form that would make a second account
        page.click("text=退出登录后注册")
        page.wait_for_url(f"{url}/register")
        assert page.locator("input[name=id_number]").is_visible()
