"""An organisation's known addresses over /api/v1: its own (every state) and the registrations it decides."""

from __future__ import annotations

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.addresses import service
from lms.addresses.models import OrgAddress
from lms.core.auth import api_user
from lms.extensions import db
from lms.orgs.permissions import Permission

blp = Blueprint("addresses_api", __name__, url_prefix="/api/v1", description="单位网络地址")
BEARER = [{"bearer": []}]


class AddressIn(Schema):
    cidr = fields.Raw(load_default=None, metadata={"description": "出口地址或地址段，如 202.103.24.0/24"})
    reason = fields.Raw(load_default=None, metadata={"description": "登记理由"})
    covers_subtree = fields.Raw(load_default=False, metadata={"description": "是否同时适用于下级单位"})


class AddressDecisionIn(Schema):
    approve = fields.Raw(load_default=None, metadata={"description": "true 通过，false 驳回"})
    reason = fields.Raw(load_default=None)


def address_json(address: OrgAddress) -> dict:
    return {"id": address.id, "org": {"id": address.org_id, "name": address.org.name}, "cidr": address.cidr,
            "source": address.source.value, "state": address.state.value, "covers_subtree": address.covers_subtree,
            "reason": address.reason, "decision_reason": address.decision_reason, "people": address.people,
            "days": address.days, "created_at": address.created_at.isoformat() + "Z",
            "decided_at": address.decided_at.isoformat() + "Z" if address.decided_at else None}


def _raw() -> dict:
    return request.get_json(silent=True) or {}


@blp.route("/org/addresses", methods=["GET"])
@blp.doc(security=BEARER)
@api_user(permission=Permission.MANAGE_ADDRESSES)
def address_list():
    """The caller's organisation's addresses, and the pending registrations it decides."""
    lists = service.addresses_of(g.api_user)
    return {"own": [address_json(a) for a in lists.own], "to_decide": [address_json(a) for a in lists.to_decide]}


@blp.route("/org/addresses", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(AddressIn)
@api_user(permission=Permission.MANAGE_ADDRESSES)
def register(_body):
    """Register an egress address of the caller's organisation; the level above approves it."""
    body = _raw()
    address = service.register_address(g.api_user, body.get("cidr"), body.get("reason"),
                                       body.get("covers_subtree", False))
    db.session.commit()
    return address_json(address), 201


@blp.route("/org/addresses/<int:address_id>/decision", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(AddressDecisionIn)
@api_user(permission=Permission.MANAGE_ADDRESSES)
def decide(_body, address_id: int):
    """Approve or refuse a pending registration of a direct sub-organisation."""
    body = _raw()
    address = service.decide_address(g.api_user, address_id, body.get("approve"), body.get("reason"))
    db.session.commit()
    return address_json(address)


@blp.route("/org/addresses/<int:address_id>/withdraw", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(AddressDecisionIn)
@api_user(permission=Permission.MANAGE_ADDRESSES)
def withdraw(_body, address_id: int):
    """Withdraw an address of the caller's subtree: it no longer counts as the organisation's."""
    address = service.withdraw_address(g.api_user, address_id, _raw().get("reason"))
    db.session.commit()
    return address_json(address)
