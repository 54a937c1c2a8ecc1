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


def test_the_empty_registration_form_flags_every_field_the_confirmation_included(app, tree, page):
    with live_server(app) as url:
        page.goto(f"{url}/register")
        page.click("text=提交注册")
        page.wait_for_selector(".field.has-error")
        flagged = page.eval_on_selector_all(".field.has-error input, .field.has-error select",
                                            "elements => elements.map(e => e.name)")
        assert set(flagged) == {"id_number", "name", "phone", "unit_id", "title_series", "professional_post",
                                "password", "password_confirm"}
        confirmation = page.locator(".field:has(#password_confirm)")
        assert "请再次输入密码" in confirmation.inner_text()
        assert page.get_attribute("#password_confirm", "aria-invalid") == "true"
