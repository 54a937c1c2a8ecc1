"""Bases' plans, trainings and summaries with their competent department (admin manual 5.1.5), on both backends.

A base files; its department approves, rejects or sends back with a reason; a filing sent back is revised into a
new version and every version stays viewable; refusals are in Chinese and change nothing; a decision is made once,
even when two arrive together; nobody outside the base or the department's subtree reads or decides it.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit.models import AuditEntry
from lms.audit.service import ACTION_LABELS
from lms.core.errors import Conflict
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.plans import service
from lms.plans.models import FilingStatus, PlanAttachment, PlanFiling, PlanVersion
from tests.conftest import api_token, make_org, make_user
from tests.declarations import client_for
from tests.plans import EXE, PDF, decide, filing_id_of, form_data, item, plan_json, post_plan, year


def _audit() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("plan.%"))
                                   .order_by(AuditEntry.id)))


def test_a_plan_is_sent_back_revised_into_a_second_version_and_approved(app, client, tree):
    base = client_for(app, tree.admins["base_a"])
    items = [item(), item("医疗质量安全", "training", "professional", hours="8")]
    filing_id = filing_id_of(post_plan(base, items=items))
    page = base.get(f"/plans/{filing_id}").get_data(as_text=True)
    assert "待主管部门审核" in page and tree.dept_a.name in page and "计划.pdf" in page

    department = client_for(app, tree.admins["dept_a"])
    queue = department.get("/plans/review").get_data(as_text=True)
    assert tree.base_a.name in queue and "审核" in queue
    assert decide(department, filing_id, "return", "专业科目学时偏少，请补充").status_code == 302
    filing = db.session.get(PlanFiling, filing_id)
    assert filing.status == FilingStatus.RETURNED and filing.reason == "专业科目学时偏少，请补充"

    first_attachment = filing.latest.attachments[0]
    url = f"/plans/{filing_id}/revise"
    revised = [item(), item("医疗质量安全", "training", "professional", hours="16"), item("护理新进展", "course",
                                                                                       "professional")]
    data = form_data(base, url, revised, [("补充说明.pdf", PDF)], title=f"{year()}年度培训计划（修订）",
                     keep_attachment=[str(first_attachment.id)])
    assert filing_id_of(base.post(url, data=data, content_type="multipart/form-data")) == filing_id
    db.session.expire_all()
    filing = db.session.get(PlanFiling, filing_id)
    assert (filing.status, filing.version_count) == (FilingStatus.SUBMITTED, 2)
    first, second = filing.versions
    assert first.content["items"][1]["hours"] == "8.0" and first.decision == FilingStatus.RETURNED
    assert second.content["items"][1]["hours"] == "16.0" and len(second.content["items"]) == 3
    assert sorted(a.filename for a in second.attachments) == ["补充说明.pdf", "计划.pdf"]
    assert second.attachments[0].key == first_attachment.key  # kept, not copied

    compared = client.get(f"/api/v1/plans/{filing_id}/versions/2/compare",
                          headers=api_token(client, tree.admins["dept_a"])).get_json()
    assert (compared["version"], compared["against"]) == (2, 1)
    assert [(row["state"], row["changed"]) for row in compared["rows"]] == [
        ("same", []), ("changed", ["hours"]), ("added", sorted(item()))]
    comparison = department.get(f"/plans/{filing_id}/compare?version=2&against=1").get_data(as_text=True)
    assert "修改" in comparison and "新增" in comparison and "护理新进展" in comparison
    download = department.get(f"/plans/{filing_id}/attachments/{first_attachment.id}")
    assert download.status_code == 200 and download.data == PDF and "attachment" in download.headers[
        "Content-Disposition"]

    assert decide(department, filing_id, "approve").status_code == 302
    assert decide(department, filing_id, "approve").status_code == 302  # the second click finds it decided
    db.session.expire_all()
    filing = db.session.get(PlanFiling, filing_id)
    assert filing.status == FilingStatus.APPROVED and filing.versions[1].decided_by_id == tree.admins["dept_a"].id
    assert _audit() == ["plan.submit", "plan.return", "plan.revise", "plan.approve"]
    assert set(_audit()) <= set(ACTION_LABELS)  # each shows with its Chinese label in 操作日志
    assert "已通过" in base.get("/plans").get_data(as_text=True)


def test_a_training_and_a_summary_go_through_the_api_and_a_rejection_is_final(app, client, tree):
    base = api_token(client, tree.admins["base_a"])
    department = api_token(client, tree.admins["dept_a"])
    training = client.post("/api/v1/plans", headers=base, json=plan_json("training", [item("急救技能培训", "training",
                                                                                            "professional")],
                                                                             title="急救技能培训班"))
    assert training.status_code == 201, training.get_json()
    assert training.get_json()["department"]["name"] == tree.dept_a.name
    summary = client.post("/api/v1/plans", headers=base,
                          json={"kind": "summary", "year": year(), "title": "年度工作总结",
                                "text": "全年举办培训 12 期。\n培训 3000 人次。", "trained_people": "3000"})
    assert summary.status_code == 201, summary.get_json()
    summary_id = summary.get_json()["id"]

    awaiting = client.get("/api/v1/plans/review?awaiting=true", headers=department).get_json()
    assert {f["kind"] for f in awaiting["items"]} == {"training", "summary"}
    assert client.get("/api/v1/plans", headers=department).status_code == 403

    rejected = client.post(f"/api/v1/plans/{summary_id}/decision", headers=department,
                           json={"decision": "reject", "reason": "总结内容与实际不符"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    again = client.post(f"/api/v1/plans/{summary_id}/revise", headers=base, json={"title": "改", "text": "再报"})
    assert again.status_code == 409 and "退回修改的才能重新提交" in again.get_json()["error"]["message"]
    # Rejected is final for that filing; the base may file the year's summary anew.
    anew = client.post("/api/v1/plans", headers=base, json={"kind": "summary", "year": year(), "title": "年度工作总结",
                                                            "text": "更正后的总结"})
    assert anew.status_code == 201
    twice = client.post("/api/v1/plans", headers=base, json={"kind": "summary", "year": year(), "title": "总结",
                                                             "text": "第二份"})
    assert twice.status_code == 409 and "已经报送" in twice.get_json()["error"]["message"]
    detail = client.get(f"/api/v1/plans/{summary_id}", headers=base).get_json()
    assert detail["versions"][0]["content"]["text"] == "全年举办培训 12 期。\n培训 3000 人次。"
    assert detail["versions"][0]["reason"] == "总结内容与实际不符"


@pytest.mark.parametrize("items, message", [
    ([], "请至少填写一个培训项目"),
    ([item(start=f"{year()}-05-02", end=f"{year()}-05-01")], "结束日期早于开始日期"),
    ([item(start=f"{year() - 1}-12-30", end=f"{year() - 1}-12-31")], f"日期应在 {year()} 年内"),
    ([item(hours="0")], "学时应大于 0"),
    ([item(hours="1.25")], "最多保留一位小数"),
    ([item(category="公需")], "请选择第 1 项的科目类别"),
    ([item(), item(expected="很多")], "第 2 项的预计人数"),
    ([item(start="2026/03/01")], "应为“年-月-日”格式"),
], ids=["none", "end-before-start", "other-year", "zero-hours", "hundredths", "category", "expected", "date-format"])
def test_bad_items_are_refused_in_chinese_and_nothing_is_filed(app, tree, items, message):
    base = client_for(app, tree.admins["base_a"])
    response = post_plan(base, items=items)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanFiling)) == 0


def test_bad_attachments_and_a_training_with_two_items_are_refused_and_nothing_is_stored(app, tree):
    base = client_for(app, tree.admins["base_a"])
    response = post_plan(base, files=[("计划.pdf", PDF), ("计划.pdf.exe", EXE)])
    assert response.status_code == 422 and "按文件内容判断" in response.get_data(as_text=True)
    too_many = post_plan(base, files=[(f"附件{n}.pdf", PDF) for n in range(6)])
    assert too_many.status_code == 422 and "最多 5 个附件" in too_many.get_data(as_text=True)
    two = post_plan(base, kind="training", items=[item(), item("另一项")])
    assert two.status_code == 422 and "只填写一项培训" in two.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanFiling)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanAttachment)) == 0


def test_refusals_of_decisions_and_revisions_change_nothing(app, tree):
    base_admin, dept_admin = tree.admins["base_a"], tree.admins["dept_a"]
    filing, _ = service.submit(base_admin, "annual_plan", year(), "计划", plan_json())
    db.session.commit()
    with pytest.raises(Exception, match="退回修改时请填写原因"):
        service.decide(dept_admin, filing.id, "return", "  ")
    with pytest.raises(Exception, match="请选择审核结果"):
        service.decide(dept_admin, filing.id, "maybe")
    with pytest.raises(Conflict, match="只有退回修改的才能重新提交"):
        service.revise(base_admin, filing.id, "计划", plan_json())
    with pytest.raises(Conflict, match="已经报送"):
        service.submit(base_admin, "annual_plan", year(), "又一份", plan_json())
    db.session.rollback()
    service.decide(dept_admin, filing.id, "approve")
    db.session.commit()
    with pytest.raises(Conflict, match="已处理"):
        service.decide(dept_admin, filing.id, "reject", "改主意")
    db.session.rollback()
    assert db.session.get(PlanFiling, filing.id).status == FilingStatus.APPROVED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlanVersion)) == 1
    assert _audit() == ["plan.submit", "plan.approve"]


def test_only_the_base_and_the_departments_subtree_read_a_filing_and_only_its_department_decides(app, client, tree):
    filing, _ = service.submit(tree.admins["base_a"], "annual_plan", year(), "计划", plan_json())
    db.session.commit()
    other_base = make_org(OrgKind.BASE, tree.dept_b)
    other_base_admin = make_user(other_base, login="other_base_admin")
    readers = {"base_a": 200, "dept_a": 200, "city": 200, "province": 200, "dept_b": 404, "county": 404}
    for key, status in readers.items():
        headers = api_token(client, tree.admins[key])
        assert client.get(f"/api/v1/plans/{filing.id}", headers=headers).status_code == status, key
    headers = api_token(client, other_base_admin)
    assert client.get(f"/api/v1/plans/{filing.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/plans", headers=headers).get_json()["total"] == 0
    unit = api_token(client, tree.admins["unit_a"])
    assert client.get(f"/api/v1/plans/{filing.id}", headers=unit).status_code == 403

    decisions = {"dept_b": 404, "city": 403, "base_a": 403}
    for key, status in decisions.items():
        headers = api_token(client, tree.admins[key])
        answer = client.post(f"/api/v1/plans/{filing.id}/decision", headers=headers, json={"decision": "approve"})
        assert answer.status_code == status, (key, answer.get_json())
    city = api_token(client, tree.admins["city"])
    assert "本单位不能审核" in client.post(f"/api/v1/plans/{filing.id}/decision", headers=city,
                                         json={"decision": "approve"}).get_json()["error"]["message"]
    assert client.get("/api/v1/plans/review", headers=city).get_json()["total"] == 1
    assert client.get("/api/v1/plans/review", headers=api_token(client, tree.admins["dept_b"])).get_json()["total"] == 0
    db.session.expire_all()
    assert db.session.get(PlanFiling, filing.id).status == FilingStatus.SUBMITTED


def test_the_department_home_counts_the_filings_waiting_for_it(app, tree):
    service.submit(tree.admins["base_a"], "annual_plan", year(), "计划", plan_json())
    db.session.commit()
    home = client_for(app, tree.admins["dept_a"]).get("/").get_data(as_text=True)
    assert 'data-key="plans">1<' in home
    assert 'data-key="plans">0<' in client_for(app, tree.admins["dept_b"]).get("/").get_data(as_text=True)


def test_two_simultaneous_decisions_make_one(app, tree, config):
    if config.embedded_database:
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers and refuses a stale one")
    filing, _ = service.submit(tree.admins["base_a"], "annual_plan", year(), "计划", plan_json())
    db.session.commit()
    second_admin = make_user(tree.dept_a, login="dept_a_second")  # the department's full-rights role
    filing_id, admin_ids = filing.id, [tree.admins["dept_a"].id, second_admin.id]
    barrier = threading.Barrier(2)
    done, refused, failures = [], [], []

    def run(index, decision):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                service.decide(db.session.get(User, admin_ids[index]), filing_id, decision, "原因")
                db.session.commit()
                done.append(decision)
            except Conflict as error:
                db.session.rollback()
                refused.append(error.message)
            except Exception as error:  # reported below
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(("approve", "return"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == [] and len(done) == 1 and len(refused) == 1 and "已处理" in refused[0]
    db.session.expire_all()
    filing = db.session.get(PlanFiling, filing_id)
    assert filing.status == {"approve": FilingStatus.APPROVED, "return": FilingStatus.RETURNED}[done[0]]
    assert _audit() == ["plan.submit", f"plan.{done[0]}"]
