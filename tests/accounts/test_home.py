"""A learner's home page: this year's progress from the ledger against the rule set, and what to do next."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms.courses.models import Category
from lms.ledger import service as ledger
from tests.certificates import meet_requirement, post_hours
from tests.conftest import login
from tests.player import enroll, live_server, make_published_course
from tests.support.browser import chromium, log_in


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def test_the_home_page_says_how_many_hours_are_missing_and_leads_to_the_unfinished_course(app, tree, browser):
    learner = tree.learner_a
    post_hours(learner, Category.PUBLIC, 12, "公需科目线下培训")
    course = make_published_course(tree.base_a, hours=(1.5,), category=Category.PROFESSIONAL, title="数据安全实务")
    enroll(learner, course)
    year = ledger.china_today().year
    rules = ledger.rule_set_of(learner, year)
    public, professional = (rules.categories[c].minimum for c in ("public", "professional"))

    def missing(hours: Decimal) -> str:
        return f"还差 {hours.quantize(Decimal('0.1'))} 学时"

    with live_server(app) as url:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.set_default_timeout(20_000)
        log_in(page, url, learner)
        page.goto(f"{url}/")
        progress = page.locator("[data-year-progress]")
        assert f"{year} 年度学时" in progress.inner_text()
        assert missing(public - 12) in progress.locator("[data-category=public]").inner_text()
        assert missing(professional) in progress.locator("[data-category=professional]").inner_text()
        assert missing(rules.total_hours - 12) in progress.locator("[data-category=total]").inner_text()
        steps = page.locator("[data-step]")
        assert steps.first.get_attribute("data-step") == "continue_course"
        assert "继续学习《数据安全实务》" in steps.first.inner_text()
        assert page.locator("[data-step=declare]").count() == 1
        steps.first.locator("a").click()
        page.wait_for_url(f"{url}/courses/{course.id}")
        context.close()


def test_a_learner_who_met_the_requirement_is_offered_the_certificate(client, tree):
    meet_requirement(tree.learner_a)
    login(client, tree.learner_a)
    html = client.get("/").get_data(as_text=True)
    assert "还差" not in html and 'data-step="claim_certificate"' in html and "申领年度学时证明" in html
    assert 'data-step="choose_course"' not in html


def test_an_admin_home_page_has_no_yearly_progress(client, tree):
    login(client, tree.admins["unit_a"])
    assert "data-year-progress" not in client.get("/").get_data(as_text=True)
