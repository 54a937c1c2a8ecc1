"""A transfer from both units' pages in headless Chromium: the old unit starts it, the new unit confirms it."""

from __future__ import annotations

from lms.accounts.models import User
from lms.extensions import db
from tests.player import live_server
from tests.support.browser import chromium, log_in


def test_the_old_unit_starts_a_transfer_and_the_new_unit_confirms_it_in_chromium(app, tree):
    learner = tree.learner_a
    with live_server(app) as url, chromium() as browser:
        old = browser.new_context().new_page()
        old.set_default_timeout(20_000)
        log_in(old, url, tree.admins["unit_a"])
        old.click("nav >> text=人员调转")
        old.click("text=人员调出")
        old.fill("input[name=q]", learner.name)
        old.fill("input[name=target_q]", tree.unit_b.credit_code)
        old.click("button:has-text('查找')")
        old.check(f"input[name=person_id][value='{learner.id}']")
        old.check(f"input[name=to_org_id][value='{tree.unit_b.id}']")
        old.fill("textarea[name=note]", "工作调动")
        old.click("button:has-text('发起调出')")
        old.wait_for_selector(f"text=已发起{learner.name}调往{tree.unit_b.name}的调转")
        assert "待调入单位确认" in old.inner_text("#records")

        new = browser.new_context().new_page()
        new.set_default_timeout(20_000)
        log_in(new, url, tree.admins["unit_b"])
        assert new.inner_text("[data-key=transfers]") == "1"
        new.click("text=待本单位答复的人员调转")
        new.click("#awaiting >> button:has-text('确认调转')")
        new.wait_for_selector(f"text={learner.name}：调转已确认")
        assert "已调转" in new.inner_text("#records")

        old.reload()
        assert "已调转" in old.inner_text("#records")

        # The other way: the old unit asks for the person back (申请调入); the unit that now has them consents.
        old.click("text=申请调入")
        old.fill("input[name=id_number]", learner.id_number)
        old.fill("input[name=name]", learner.name)
        old.click("button:has-text('申请调入')")
        old.wait_for_selector(f"text=已向{tree.unit_b.name}申请调入{learner.name}")
        assert "待调出单位确认" in old.inner_text("#records")
        new.reload()
        new.click("#awaiting >> button:has-text('确认调转')")
        new.wait_for_selector(f"text={learner.name}：调转已确认")
    db.session.expire_all()
    assert db.session.get(User, learner.id).org_id == tree.unit_a.id
