"""The declarations API (SPEC §7): the learner declares with evidence as multipart and follows; reviewers work
their queue and decide one or many; the same rules, refusals and Chinese messages as the pages."""

from __future__ import annotations

import io
import json

import sqlalchemy as sa

from lms.declarations.integrity_models import IntegrityRecord
from lms.declarations.models import Declaration, DeclarationEvidence, DeclarationStatus
from lms.extensions import db
from tests.api import bearer, error_of
from tests.declarations import EXE, PDF, conference_facts


def _declare(client, headers, *, title="全国学术年会", facts=None, files=None, **fields):
    facts_text = facts if isinstance(facts, str) else json.dumps(facts if facts is not None else
                                                                 conference_facts(paper=True))
    data = {"kind": "conference", "title": title, "start_date": "2026-05-10", "end_date": "2026-05-11",
            "facts": facts_text, **fields}
    if files is None:  # the conference's named materials: the notice, and the paper presented
        data["evidence-notice"] = [(io.BytesIO(PDF), "会议通知.pdf")]
        data["evidence-paper"] = [(io.BytesIO(PDF), "论文.pdf")]
    else:
        data["evidence"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/api/v1/declarations", data=data, headers=headers, content_type="multipart/form-data")


def test_a_learner_declares_through_the_api_and_the_engine_computes_the_hours(app, client, tree):
    learner = bearer(app, client, tree.learner_a)
    response = _declare(client, learner)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["hours"], body["category"], body["status"], body["step_index"]) == ("12.0", "professional",
                                                                                     "pending", 0)
    assert [step["org"]["id"] for step in body["review_steps"]] == [tree.unit_a.id, tree.dept_a.id, tree.city.id]
    assert body["evidence"][0]["filename"] == "会议通知.pdf"
    assert [d["id"] for d in client.get("/api/v1/declarations", headers=learner).get_json()] == [body["id"]]
    assert client.get(f"/api/v1/declarations/{body['id']}", headers=learner).get_json()["title"] == "全国学术年会"
    kinds = client.get("/api/v1/declaration-kinds?year=2026", headers=learner).get_json()
    assert "conference" in {k["id"] for k in kinds["kinds"]}


def test_declaring_refuses_no_token_bad_input_and_other_kinds_of_account_with_chinese_messages(app, client, tree):
    assert error_of(_declare(client, {}))["code"] == "unauthenticated"
    learner = bearer(app, client, tree.learner_a)
    no_title = _declare(client, learner, title="")
    assert no_title.status_code == 422 and error_of(no_title)["fields"]["title"].startswith("请填写活动名称")
    bad_facts = _declare(client, learner, facts="[1, 2")
    assert bad_facts.status_code == 422 and "JSON 对象" in error_of(bad_facts)["fields"]["facts"]
    no_file = _declare(client, learner, files=[])
    assert no_file.status_code == 422 and "evidence" in error_of(no_file)["fields"]
    program = _declare(client, learner, files=[("通知.pdf", EXE)])
    assert program.status_code == 422 and "evidence" in error_of(program)["fields"]
    unknown = _declare(client, learner, kind="no-such-kind")
    assert unknown.status_code == 404 and "没有这种学时类型" in error_of(unknown)["message"]
    admin = _declare(client, bearer(app, client, tree.admins["unit_a"]))
    assert admin.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Declaration)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DeclarationEvidence)) == 0


def test_the_review_chain_through_the_api_with_its_refusals(app, client, tree):
    learner = bearer(app, client, tree.learner_a)
    declaration_id = _declare(client, learner).get_json()["id"]
    unit, other_unit = bearer(app, client, tree.admins["unit_a"]), bearer(app, client, tree.admins["unit_b"])

    assert error_of(client.get(f"/api/v1/declarations/{declaration_id}",
                               headers=bearer(app, client, tree.learner_b)))["message"] == "申报不存在或无权查看。"
    queue = client.get("/api/v1/declarations/review", headers=unit).get_json()
    assert [d["id"] for d in queue["items"]] == [declaration_id] and queue["total"] == 1
    assert client.get("/api/v1/declarations/review", headers=other_unit).get_json()["items"] == []
    assert client.get("/api/v1/declarations/review", headers=learner).status_code == 403
    bad_filter = client.get("/api/v1/declarations/review?id_suffix=12", headers=unit)
    assert bad_filter.status_code == 422 and "身份证号后几位" in error_of(bad_filter)["message"]

    url = f"/api/v1/declarations/{declaration_id}/decision"
    assert client.post(url, json={"decision": "approve"}, headers=other_unit).status_code == 404
    no_reason = client.post(url, json={"decision": "return"}, headers=unit)
    assert no_reason.status_code == 422 and error_of(no_reason)["fields"]["reason"] == "请填写需要补充的材料。"
    wrong = client.post(url, json={"decision": "maybe"}, headers=unit)
    assert wrong.status_code == 422 and "请选择审核结果" in error_of(wrong)["message"]
    returned = client.post(url, json={"decision": "return", "reason": "请补充论文"}, headers=unit)
    assert returned.get_json()["status"] == "returned"

    resubmit = f"/api/v1/declarations/{declaration_id}/resubmit"
    empty = client.post(resubmit, data={"note": "补充"}, headers=learner, content_type="multipart/form-data")
    assert empty.status_code == 422
    again = client.post(resubmit, data={"note": "已补充论文", "evidence": [(io.BytesIO(PDF), "论文.pdf")]},
                        headers=learner, content_type="multipart/form-data")
    assert again.status_code == 200 and again.get_json()["status"] == "pending"
    assert len(again.get_json()["evidence"]) == 3
    assert client.post(resubmit, data={"evidence": [(io.BytesIO(PDF), "再次.pdf")]}, headers=learner,
                       content_type="multipart/form-data").status_code == 409

    assert client.post(url, json={"decision": "approve"}, headers=unit).get_json()["step_index"] == 1
    dept = bearer(app, client, tree.admins["dept_a"])
    refused = client.post("/api/v1/declarations/decisions", json={"ids": [declaration_id, "x"], "decision": "approve"},
                          headers=dept)
    assert refused.status_code == 422 and error_of(refused)["fields"]["ids"] == "申报编号无效。"
    assert db.session.get(Declaration, declaration_id).step_index == 1  # nothing half-done
    checked = client.post("/api/v1/declarations/decisions", json={"ids": [declaration_id], "decision": "approve"},
                          headers=dept)
    assert checked.status_code == 200 and checked.get_json()[0]["step_index"] == 2  # hubei-2026: 人社部门审验 next
    filed = client.post("/api/v1/declarations/decisions", json={"ids": [declaration_id], "decision": "approve"},
                        headers=bearer(app, client, tree.admins["city"]))
    assert filed.status_code == 200 and filed.get_json()[0]["status"] == "filed"
    assert filed.get_json()[0]["final_hours"] == "12.0"


def test_voiding_through_the_api_makes_an_integrity_record_the_hr_chain_reads(app, client, tree):
    learner = bearer(app, client, tree.learner_a)
    declaration_id = _declare(client, learner).get_json()["id"]
    for admin in ("unit_a", "dept_a", "city"):
        client.post(f"/api/v1/declarations/{declaration_id}/decision", json={"decision": "approve"},
                    headers=bearer(app, client, tree.admins[admin]))
    city = bearer(app, client, tree.admins["city"])
    no_reason = client.post(f"/api/v1/declarations/{declaration_id}/void", json={}, headers=city)
    assert no_reason.status_code == 422 and "认定弄虚作假的事实和依据" in error_of(no_reason)["message"]
    voided = client.post(f"/api/v1/declarations/{declaration_id}/void", json={"reason": "会议邀请函系伪造"},
                         headers=city)
    assert voided.status_code == 200 and voided.get_json()["status"] == DeclarationStatus.VOIDED.value
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IntegrityRecord)) == 1

    url = f"/api/v1/people/{tree.learner_a.id}/integrity-records"
    [record] = client.get(url, headers=city).get_json()
    assert (record["declaration_id"], record["reason"], record["active"]) == (declaration_id, "会议邀请函系伪造", True)
    assert client.get(url, headers=bearer(app, client, tree.admins["province"])).status_code == 200
    for outsider in ("county", "dept_a", "unit_a"):  # another branch's bureau; not an HR bureau
        assert client.get(url, headers=bearer(app, client, tree.admins[outsider])).status_code == 403
    assert client.get(url, headers=learner).status_code == 403
    assert client.get(url).status_code == 401
