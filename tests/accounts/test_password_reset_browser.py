"""In headless Chromium against the served app: a unit admin resets a learner's password on the people page, the
learner logs in with the temporary password, can open nothing but the password change, and sets a new password."""

from __future__ import annotations

import re

import pytest

from tests.player import live_server
from tests.support.browser import chromium, log_in

NEW_PASSWORD = "Browser2026pw"


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def test_the_learner_must_change_the_password_an_admin_reset_before_anything_else(app, tree, browser):
    learner = tree.learner_a
    with live_server(app) as url:
        admin = browser.new_context().new_page()
        admin.set_default_timeout(20_000)
        log_in(admin, url, tree.admins["unit_a"])
        admin.goto(f"{url}/people")
        admin.locator("tr", has_text=learner.name).locator("button", has_text="重置密码").click()
        admin.wait_for_selector("h1:has-text('密码已重置')")
        temporary = admin.inner_text("[data-temporary-password]").strip()

        page = browser.new_context().new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{url}/login")
        page.fill("input[name=login]", learner.login)
        page.fill("input[name=password]", temporary)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/password$"))
        assert "管理员已重置您的密码" in page.content()
        assert [a.inner_text() for a in page.locator("nav a").all()] == ["修改密码"]
        for address in ("/my/hours", "/courses", "/declarations"):
            page.goto(f"{url}{address}")
            assert page.url.endswith("/password"), address

        page.fill("#old_password", temporary)
        page.fill("#new_password", NEW_PASSWORD)
        page.fill("#new_password_confirm", NEW_PASSWORD)
        page.click("button:has-text('修改密码')")
        page.wait_for_url(f"{url}/")
        assert "密码已修改" in page.inner_text("p.flash")
        page.goto(f"{url}/my/hours")
        assert page.url.endswith("/my/hours") and "我的学时" in page.content()
