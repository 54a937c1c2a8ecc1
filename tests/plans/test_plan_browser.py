"""In headless Chromium: a base files its year's training plan with an attachment, the department approves it."""

from __future__ import annotations

import sqlalchemy as sa

from lms.extensions import db
from lms.plans.models import FilingStatus, PlanFiling
from tests.plans import PDF, year
from tests.player import live_server
from tests.support.browser import chromium, log_in


def test_a_base_files_its_plan_and_the_department_approves_it_in_chromium(app, tree, tmp_path):
    attachment = tmp_path / "培训计划.pdf"
    attachment.write_bytes(PDF)
    with live_server(app) as url, chromium() as browser:
        base = browser.new_context().new_page()
        base.set_default_timeout(20_000)
        log_in(base, url, tree.admins["base_a"])
        base.click("nav >> text=培训计划")
        base.click("text=填报年度培训计划")
        base.fill("#title", f"{year()}年度培训计划")
        base.fill("[aria-label='第 1 项名称']", "专业技术人员职业道德")
        base.select_option("[aria-label='第 1 项形式']", "course")
        base.select_option("[aria-label='第 1 项科目']", "public")
        base.fill("[aria-label='第 1 项开始日期']", f"{year()}-04-01")
        base.fill("[aria-label='第 1 项结束日期']", f"{year()}-04-30")
        base.fill("[aria-label='第 1 项学时']", "6")
        base.fill("[aria-label='第 1 项预计人数']", "300")
        base.set_input_files("#attachments", str(attachment))
        base.click("#plan-form button[type=submit]")
        base.wait_for_selector(f"text=已向{tree.dept_a.name}报送")
        assert "待主管部门审核" in base.inner_text("#filing-status")

        department = browser.new_context().new_page()
        department.set_default_timeout(20_000)
        log_in(department, url, tree.admins["dept_a"])
        assert department.inner_text("[data-key=plans]") == "1"
        department.click("text=待审核的基地培训计划和总结")
        department.click("#filings a:text-is('审核')")
        assert "专业技术人员职业道德" in department.inner_text("#version-1")
        department.click("#decision-form button[value=approve]")
        department.wait_for_selector(f"text={tree.base_a.name}的年度培训计划：通过")
        assert "已通过" in department.inner_text("#filings")

        base.reload()
        assert "已通过" in base.inner_text("#filing-status")
    db.session.expire_all()
    filing = db.session.scalar(sa.select(PlanFiling))
    assert filing.status == FilingStatus.APPROVED and filing.latest.attachments[0].filename == "培训计划.pdf"
