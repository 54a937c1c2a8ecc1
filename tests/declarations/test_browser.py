"""The issue's scenario in headless Chromium against the served app: a conference with a paper declared in the
form, approved by the unit and the department, 12 专业 hours on the yearly page; a third conference in the year
credited only the 6 hours left under the 30-hour cap, with the sentence saying so."""

from __future__ import annotations

import re

import pytest

from lms.declarations import service
from lms.extensions import db
from tests.declarations import PDF, conference_facts, conference_materials, png_bytes
from tests.player import live_server
from tests.support.browser import chromium, log_in


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def _page_of(browser, url, user):
    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    log_in(page, url, user)
    return page


def _declare_conference(page, url, title: str, start: str, end: str) -> None:
    page.goto(f"{url}/declarations")
    page.click("text=申报学时")
    page.click("text=参加省级以上本专业领域学术会议")
    page.fill("#title", title)
    page.fill("#start_date", start)
    page.fill("#end_date", end)
    page.select_option("select[name=fact-level]", "national")
    page.fill("input[name=fact-field]", "计算机科学")
    page.check("input[name=fact-in_own_field]")
    page.check("input[name=fact-presented_paper]")
    page.set_input_files("#evidence-notice", files=[
        {"name": "会议通知.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("#evidence-paper", files=[
        {"name": "论文.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("#evidence", files=[
        {"name": "论文报告照片.png", "mimeType": "image/png", "buffer": png_bytes()}])
    page.click("text=提交申报")
    page.wait_for_url(re.compile(r".*/declarations/\d+$"))


def _approve(page, url, title: str) -> None:
    page.goto(f"{url}/declarations/review")
    page.click(f"text={title}")
    page.select_option("#decision", "approve")
    page.click("text=提交审核结果")
    page.wait_for_selector("text=已通过")


def test_the_conference_scenario_in_the_browser(app, tree, browser):
    with live_server(app) as url:
        learner = _page_of(browser, url, tree.learner_a)
        _declare_conference(learner, url, "全国计算机学术年会", "2026-05-10", "2026-05-11")
        assert "12 学时" in learner.inner_text("p.flash") and "报告论文加计 4 学时" in learner.content()

        _approve(_page_of(browser, url, tree.admins["unit_a"]), url, "全国计算机学术年会")
        _approve(_page_of(browser, url, tree.admins["dept_a"]), url, "全国计算机学术年会")
        _approve(_page_of(browser, url, tree.admins["city"]), url, "全国计算机学术年会")

        learner.goto(f"{url}/my/hours/2026")
        professional = learner.inner_text("[data-category=professional] .hours")
        assert float(professional) == 12 and "全国计算机学术年会" in learner.content()

        # A second conference goes through the chain on the server; the third one is declared in the browser.
        second, _keys = service.submit(tree.learner_a, kind_id="conference", title="第二次会议",
                                       start_date="2026-06-01", end_date="2026-06-02", year="",
                                       facts=conference_facts(True), uploads=[],
                                       materials=conference_materials(True))
        service.decide(tree.admins["unit_a"], second.id, "approve", None)
        service.decide(tree.admins["dept_a"], second.id, "approve", None)
        service.decide(tree.admins["city"], second.id, "approve", None)
        db.session.commit()

        _declare_conference(learner, url, "第三次会议", "2026-07-01", "2026-07-02")
        computed = learner.inner_text("section.computed")
        assert "6 学时（专业科目）" in computed
        assert "学术会议每年最多计 30 学时（学时管理办法第十一条（三）），本年已计 24 学时，本次按 6 学时计" in computed
