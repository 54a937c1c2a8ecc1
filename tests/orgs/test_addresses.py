"""An organisation's known addresses (issue 16): registered with a reason, decided by the level above, audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms.addresses import service
from lms.addresses.models import AddressState, OrgAddress
from lms.audit.models import AuditEntry
from lms.extensions import db
from lms.orgs.models import OrgKind
from tests.conftest import api_token, make_org, make_user


def test_a_unit_registers_and_the_level_above_approves(client, tree):
    unit_admin, dept_admin = tree.admins["unit_a"], tree.admins["dept_a"]
    answer = client.post("/api/v1/org/addresses", headers=api_token(client, unit_admin),
                         json={"cidr": "202.103.24.68", "reason": "医院出口"})
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    assert (created["cidr"], created["state"]) == ("202.103.24.68/32", "pending")
    assert not service.address_book().at_home("202.103.24.68", tree.unit_a.id, tree.unit_a.path)
    # The unit cannot decide its own; a sibling branch cannot either; its department does.
    assert client.post(f"/api/v1/org/addresses/{created['id']}/decision", headers=api_token(client, unit_admin),
                       json={"approve": True, "reason": "自己批"}).status_code == 403
    assert client.post(f"/api/v1/org/addresses/{created['id']}/decision",
                       headers=api_token(client, tree.admins["dept_b"]),
                       json={"approve": True, "reason": "越权"}).status_code == 403
    listed = client.get("/api/v1/org/addresses", headers=api_token(client, dept_admin)).get_json()
    assert [a["id"] for a in listed["to_decide"]] == [created["id"]]
    answer = client.post(f"/api/v1/org/addresses/{created['id']}/decision", headers=api_token(client, dept_admin),
                         json={"approve": True, "reason": "核实为医院出口"})
    assert answer.status_code == 200 and answer.get_json()["state"] == "approved"
    assert service.address_book().at_home("202.103.24.68", tree.unit_a.id, tree.unit_a.path)
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("address.%"))).all()
    assert sorted(actions) == ["address.approve", "address.register"]


@pytest.mark.parametrize("cidr, problem", [("", "请填写"), ("not-an-ip", "不是有效"), ("10.1.2.3", "公网"),
                                           ("58.0.0.0/8", "过大")])
def test_bad_addresses_are_refused_in_chinese_and_nothing_is_written(client, tree, cidr, problem):
    answer = client.post("/api/v1/org/addresses", headers=api_token(client, tree.admins["unit_a"]),
                         json={"cidr": cidr, "reason": "出口"})
    assert answer.status_code == 422 and problem in answer.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrgAddress)) == 0


def test_a_bureau_registers_for_its_subtree_and_withdraws(client, tree):
    second = make_user(tree.city, login="city_admin_2")
    from lms.orgs.models import OrgAdmin
    db.session.query(OrgAdmin).filter_by(user_id=second.id).one().role_id = None
    db.session.commit()
    address = service.register_address(tree.admins["county"], "61.183.0.0/24", "县人社局培训中心", True)
    db.session.commit()
    service.decide_address(tree.admins["city"], address.id, True, "同意")
    db.session.commit()
    assert service.address_book().at_home("61.183.0.9", tree.unit_b.id, tree.unit_b.path)
    assert not service.address_book().at_home("61.183.0.9", tree.unit_a.id, tree.unit_a.path)
    answer = client.post(f"/api/v1/org/addresses/{address.id}/withdraw",
                         headers=api_token(client, tree.admins["county"]), json={"reason": "已搬迁"})
    assert answer.status_code == 200 and answer.get_json()["state"] == AddressState.WITHDRAWN.value
    assert not service.address_book().at_home("61.183.0.9", tree.unit_b.id, tree.unit_b.path)
    outsider = make_org(OrgKind.UNIT, make_org(OrgKind.DEPARTMENT, tree.province))
    assert client.post(f"/api/v1/org/addresses/{address.id}/withdraw",
                       headers=api_token(client, make_user(outsider)), json={"reason": "x"}).status_code == 403


def test_the_page_registers_with_csrf(app, tree):
    from tests.declarations import client_for
    page = client_for(app, tree.admins["unit_a"])
    html = page.get("/org/addresses").get_data(as_text=True)
    assert "登记出口地址" in html
