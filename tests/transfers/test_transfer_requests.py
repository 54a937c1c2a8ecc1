"""人员调转 the other ways, on both backends: asked for by the new unit (申请调入, the old unit answers or stays silent
past the rule set's period) and out of the province (调出省外)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from lms.accounts.models import Role, User
from lms.certificates import service as certificates
from lms.certificates.service import Verdict
from lms.core.db import utcnow
from lms.extensions import db
from lms.rules import DATA_DIR, RuleSetError, load_rule_sets, rule_set_for
from lms.transfers import service
from lms.transfers.cli import transfers_cli
from lms.transfers.models import PersonTransfer, TransferSide, TransferStatus
from tests.certificates import meet_requirement
from tests.conftest import api_token, csrf_token, login, make_user
from tests.declarations import client_for
from tests.support.races import postgres_only, race
from tests.transfers.test_transfers import _audit_actions, _figures_hold, _state


def _request(client, admin, person, **overrides):
    body = {"id_number": person.id_number, "name": person.name, "note": "本人申请", **overrides}
    return client.post("/api/v1/transfers/requests", json=body, headers=api_token(client, admin))


def _act(client, admin, transfer_id, action, **body):
    return client.post(f"/api/v1/transfers/{transfer_id}/{action}", json=body, headers=api_token(client, admin))


def _past_due(transfer_id: int) -> None:
    """The old unit's answer period ran out (as if the rule set's days had passed)."""
    db.session.get(PersonTransfer, transfer_id).answer_due_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()


def test_the_new_unit_asks_and_the_old_unit_consents(client, tree):
    learner, old_admin, new_admin = tree.learner_a, tree.admins["unit_a"], tree.admins["unit_b"]
    year = meet_requirement(learner)
    db.session.commit()
    response = _request(client, new_admin, learner)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    days = rule_set_for("hubei", year).transfers.answer_within_days
    started = dt.datetime.fromisoformat(body["started_at"])
    assert body["initiated_by"] == "in" and body["status_label"] == "待调出单位确认"
    assert dt.datetime.fromisoformat(body["answer_due_at"]) - started == dt.timedelta(days=days)
    # The old unit answers (its to-do counts it); the new unit can only withdraw or wait.
    awaiting = client.get("/api/v1/transfers/awaiting", headers=api_token(client, old_admin)).get_json()
    assert [row["id"] for row in awaiting] == [body["id"]]
    assert client.get("/api/v1/transfers/awaiting", headers=api_token(client, new_admin)).get_json() == []
    response = _act(client, new_admin, body["id"], "confirm")
    assert response.status_code == 403 and "等待" in response.get_json()["error"]["message"]
    response = _act(client, new_admin, body["id"], "complete")
    assert response.status_code == 409 and "期限未到" in response.get_json()["error"]["message"]
    response = _act(client, old_admin, body["id"], "confirm")
    assert response.status_code == 200 and response.get_json()["status"] == "confirmed"
    db.session.expire_all()
    assert db.session.get(User, learner.id).org_id == tree.unit_b.id
    assert _audit_actions() == ["transfer.request_in", "transfer.confirm"]
    _figures_hold(tree.unit_a, tree.unit_b, tree.province)


def test_a_request_names_the_person_by_id_number_and_name_and_reveals_nothing_else(client, tree):
    new_admin, learner = tree.admins["unit_b"], tree.learner_a
    before = _state()
    unknown = "110101199003074738"
    for overrides in ({"name": learner.name + "某"}, {"id_number": unknown}, {"name": "", "id_number": ""}):
        response = _request(client, new_admin, learner, **overrides)
        assert response.status_code in (404, 422), response.get_json()
    messages = {_request(client, new_admin, learner, **overrides).get_json()["error"]["message"]
                for overrides in ({"name": learner.name + "某"}, {"id_number": unknown})}
    assert messages == {"没有找到身份证号码和姓名都相符的专业技术人员，请核对。"}  # a wrong name reads as no person
    cases = [
        (tree.admins["unit_a"], learner, 409, "已在本单位"),
        (new_admin, tree.pending_a, 409, "不是已通过审核"),
        (tree.admins["dept_b"], learner, 403, "人员调转"),
    ]
    for actor, person, status, message in cases:
        response = _request(client, actor, person)
        assert response.status_code == status and message in response.get_json()["error"]["message"], person.name
    assert _state() == before
    assert _request(client, new_admin, learner).status_code == 201
    response = _request(client, new_admin, learner)  # one open transfer per person
    assert response.status_code == 409 and "尚未办结的调转" in response.get_json()["error"]["message"]


def test_the_old_unit_may_refuse_and_only_the_new_unit_may_withdraw(client, tree):
    old_admin, new_admin = tree.admins["unit_a"], tree.admins["unit_b"]
    transfer_id = _request(client, new_admin, tree.learner_a).get_json()["id"]
    before = _state()
    response = _act(client, old_admin, transfer_id, "cancel")
    assert response.status_code == 403 and "只有发起单位可以撤回" in response.get_json()["error"]["message"]
    response = _act(client, old_admin, transfer_id, "refuse", reason=" ")
    assert response.status_code == 422 and "拒绝调转的原因" in response.get_json()["error"]["message"]
    assert _state() == before
    response = _act(client, old_admin, transfer_id, "refuse", reason="服务期未满")
    assert response.status_code == 200 and response.get_json()["status_label"] == "调出单位已拒绝"
    _past_due(transfer_id)  # a refusal stands even after the period: silence is what completes, not time
    response = _act(client, new_admin, transfer_id, "complete")
    assert response.status_code == 409 and "调出单位已拒绝" in response.get_json()["error"]["message"]
    second = _request(client, new_admin, tree.learner_a).get_json()["id"]
    assert _act(client, new_admin, second, "cancel").get_json()["status"] == "cancelled"
    db.session.expire_all()
    assert db.session.get(User, tree.learner_a.id).org_id == tree.unit_a.id


def test_the_old_units_silence_past_the_period_completes_the_transfer(app, client, tree):
    new_admin = tree.admins["unit_b"]
    first = _request(client, new_admin, tree.learner_a).get_json()["id"]
    other = make_user(tree.unit_a, Role.LEARNER)
    second = _request(client, new_admin, other).get_json()["id"]
    page = client_for(app, new_admin)
    assert "逾期未答复，完成调入" not in page.get("/transfers").get_data(as_text=True)
    _past_due(first)
    _past_due(second)
    assert "逾期未答复，完成调入" in page.get("/transfers").get_data(as_text=True)
    response = page.post(f"/transfers/{first}/complete", data={"csrf_token": csrf_token(page, "/transfers")})
    assert response.status_code == 302
    db.session.expire_all()
    transfer = db.session.get(PersonTransfer, first)
    assert transfer.completed_by_silence and transfer.decided_by_id == new_admin.id
    assert transfer.status_label == "已调转（原单位逾期未答复）"
    # The daily sweep does the rest, once: the other person moves, and a second run finds nothing.
    other_id = other.id
    result = app.test_cli_runner().invoke(transfers_cli, ["complete-overdue"])
    assert result.exit_code == 0 and "1 项" in result.output
    assert "0 项" in app.test_cli_runner().invoke(transfers_cli, ["complete-overdue"]).output
    db.session.expire_all()
    swept = db.session.get(PersonTransfer, second)
    assert swept.status == TransferStatus.CONFIRMED and swept.decided_by_id is None and swept.completed_by_silence
    assert {db.session.get(User, key).org_id for key in (tree.learner_a.id, other_id)} == {tree.unit_b.id}
    assert _audit_actions() == ["transfer.request_in", "transfer.request_in", "transfer.complete_after_silence",
                                "transfer.complete_after_silence"]
    detail = client.get(f"/api/v1/transfers/{second}", headers=api_token(client, tree.admins["county"])).get_json()
    assert detail["decided_by"] == "系统（逾期未答复）"
    _figures_hold(tree.unit_a, tree.unit_b, tree.province)


def test_the_sweep_leaves_a_transfer_that_can_no_longer_complete_for_the_units(app, client, tree):
    transfer_id = _request(client, tree.admins["unit_b"], tree.learner_a).get_json()["id"]
    _past_due(transfer_id)
    db.session.get(User, tree.learner_a.id).disabled_at = utcnow()  # disabled meanwhile by the old unit
    db.session.commit()
    assert service.complete_overdue() == 0
    db.session.expire_all()
    assert db.session.get(PersonTransfer, transfer_id).status == TransferStatus.PENDING
    assert db.session.get(User, tree.learner_a.id).org_id == tree.unit_a.id


def test_a_rule_set_without_a_transfers_section_never_completes_by_silence(tmp_path):
    shipped = rule_set_for("hubei", 2026).transfers
    assert shipped is not None and shipped.answer_within_days == 15
    for path in DATA_DIR.glob("*.toml"):  # the shipped files, copied without the section, still load
        text = path.read_text(encoding="utf-8")
        start = text.index("[transfers]")
        end = text.index("\n\n", start)
        (tmp_path / path.name).write_text(text[:start] + text[end:], encoding="utf-8")
    assert all(rules.transfers is None for rules in load_rule_sets(tmp_path).values())
    bad = (DATA_DIR / "hubei-2026.toml").read_text(encoding="utf-8").replace("answer_within_days = 15",
                                                                              "answer_within_days = 0")
    (tmp_path / "hubei-2026.toml").write_text(bad, encoding="utf-8")
    try:
        load_rule_sets(tmp_path)
    except RuleSetError as error:
        assert "answer_within_days" in str(error)
    else:
        raise AssertionError("a period of 0 days must be refused")


def test_a_person_leaving_the_province_is_transferred_at_once_and_keeps_their_certificates(app, client, tree):
    learner, old_admin = tree.learner_a, tree.admins["unit_a"]
    certificate = certificates.issue(learner, meet_requirement(learner))
    db.session.commit()
    code, learner_client = certificate.code, client_for(app, learner)
    headers = api_token(client, old_admin)
    before = _state()
    cases = [
        ({"outside_destination": " "}, 422, "请填写省外的调入单位"),
        ({"outside_destination": "广东省", "target": tree.unit_b.credit_code}, 422, "选一个"),
        ({"outside_destination": "广" * 101}, 422, "不能超过 100 字"),
    ]
    for body, status, message in cases:
        response = client.post("/api/v1/transfers", json={"person_id": learner.id, **body}, headers=headers)
        assert response.status_code == status and message in response.get_json()["error"]["message"], body
    response = client.post("/api/v1/transfers", json={"person_id": learner.id, "outside_destination": "广东省"},
                           headers=api_token(client, tree.admins["unit_b"]))
    assert response.status_code == 403
    assert _state() == before
    response = client.post("/api/v1/transfers", json={"person_id": learner.id, "note": "随配偶调动",
                                                      "outside_destination": "广东省 广州市第一人民医院"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status_label"] == "已调出省外" and body["to_org"] is None
    db.session.expire_all()
    person = db.session.get(User, learner.id)
    assert person.disabled_at is not None and person.disabled_reason == "调出省外：广东省 广州市第一人民医院"
    assert learner_client.get("/my/hours").status_code in (302, 401)  # the session ended with the account
    refused = login(app.test_client(), person)
    assert refused.status_code == 403 and "调出省外" in refused.get_data(as_text=True)
    assert certificates.verify(code).verdict == Verdict.GENUINE
    records = client.get("/api/v1/transfers?direction=out", headers=headers).get_json()["items"]
    assert [row["outside_destination"] for row in records] == ["广东省 广州市第一人民医院"]
    assert _audit_actions() == ["transfer.leave_province"]
    _figures_hold(tree.unit_a, tree.province)


def test_the_start_page_offers_the_way_out_of_the_province(app, tree):
    page = client_for(app, tree.admins["unit_a"])
    html = page.get(f"/transfers/out?q={tree.learner_a.name}").get_data(as_text=True)
    assert "调出省外" in html
    data = {"csrf_token": csrf_token(page, "/transfers/out"), "person_id": tree.learner_a.id,
            "to_org_id": "outside", "outside_destination": ""}
    response = page.post("/transfers/out", data=data)
    assert response.status_code == 422 and "请填写省外的调入单位" in response.get_data(as_text=True)
    data["outside_destination"] = "湖南省 长沙市中心医院"
    response = page.post("/transfers/out", data=data)
    assert response.status_code == 302
    assert "已调出省外" in page.get("/transfers").get_data(as_text=True)
    assert db.session.scalars(sa.select(PersonTransfer)).one().initiated_by == TransferSide.OUT


def test_the_request_page_asks_by_id_number_and_name(app, tree):
    page = client_for(app, tree.admins["unit_b"])
    data = {"csrf_token": csrf_token(page, "/transfers/in"), "id_number": tree.learner_a.id_number, "name": "别人"}
    response = page.post("/transfers/in", data=data)
    assert response.status_code == 404 and "都相符" in response.get_data(as_text=True)
    data["name"] = tree.learner_a.name
    response = page.post("/transfers/in", data=data)
    assert response.status_code == 302
    old = client_for(app, tree.admins["unit_a"]).get("/transfers").get_data(as_text=True)
    assert "人员调入审核" in old and "确认调转" in old and "待调出单位确认" in old


def test_the_old_units_refusal_and_the_sweep_at_the_same_moment_leave_one_result(app, client, tree, config):
    postgres_only(config)
    transfer_id = _request(client, tree.admins["unit_b"], tree.learner_a).get_json()["id"]
    _past_due(transfer_id)
    old_id = tree.admins["unit_a"].id
    done, refused = race(app, lambda: service.complete_after_silence(None, transfer_id),
                          lambda: service.refuse_transfer(db.session.get(User, old_id), transfer_id, "不同意"))
    assert len(done) == 1 and len(refused) == 1
    db.session.expire_all()
    status = db.session.get(PersonTransfer, transfer_id).status
    moved = db.session.get(User, tree.learner_a.id).org_id == tree.unit_b.id
    assert (status, moved) == ((TransferStatus.CONFIRMED, True) if done == [0] else (TransferStatus.REFUSED, False))
    assert len(_audit_actions()) == 2
