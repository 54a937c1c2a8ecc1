"""JSON API of 人员调转: start, confirm, refuse, cancel, the records and the units one may transfer to.

The same rules as the pages (``lms.transfers.service``): the old unit's admin starts and may withdraw, the new
unit's admin decides, both units and the levels above read the records of their subtree.
"""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from lms.core.api import page_body
from lms.core.auth import api_user
from lms.core.errors import InvalidInput
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.transfers import schemas, service

blp = Blueprint("transfers_api", __name__, url_prefix="/api/v1", description="人员调转")
BEARER = [{"bearer": []}]
PER_PAGE = 50


def _committed(result):
    db.session.commit()
    return result


@blp.route("/transfers", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.RecordsQuery, location="query")
@blp.response(200, schemas.TransferPage)
@api_user(permission=service.RECORDS_PERMISSION)
def records(args):
    """The transfers into and out of the caller's subtree (调转记录), newest first."""
    query = service.records_query(g.api_user, args["direction"], args["status"])
    return page_body(db.paginate(query, page=max(args["page"], 1), per_page=PER_PAGE, error_out=False))


@blp.route("/transfers", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.TransferIn)
@blp.response(201, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def start(body):
    """Transfer a learner of the caller's subtree out: to a unit of the province (人员调出), or out of it (调出省外).

    With ``outside_destination`` the transfer is done at once and the person's account is disabled.
    """
    if body["outside_destination"] is not None:
        if body["to_org_id"] not in (None, "") or body["target"]:
            raise InvalidInput({"target": "请在省内调入单位和调出省外之间选一个。"})
        return _committed(service.leave_province(g.api_user, body["person_id"], body["outside_destination"],
                                                 body["note"]))
    return _committed(service.start_transfer(g.api_user, body["person_id"], to_org_id=body["to_org_id"],
                                             target=body["target"], note=body["note"]))


@blp.route("/transfers/requests", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.RequestIn)
@blp.response(201, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def request_in(body):
    """Ask for a learner of another unit, at their request, by ID number and name (申请调入); the old unit answers."""
    return _committed(service.request_transfer_in(g.api_user, id_number=body["id_number"], name=body["name"],
                                                  note=body["note"]))


@blp.route("/transfers/awaiting", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TransferOut(many=True))
@api_user(permission=Permission.TRANSFER_PEOPLE)
def awaiting():
    """The transfers waiting for the caller's unit to confirm or refuse: people coming in, requests for its own."""
    return service.awaiting(g.api_user)


@blp.route("/transfers/targets", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.TargetQuery, location="query")
@blp.response(200, schemas.UnitOut(many=True))
@api_user(permission=Permission.TRANSFER_PEOPLE)
def targets(args):
    """Approved, active units of the province matching a credit code or part of a name."""
    return service.target_units(g.api_user, args["q"])


@blp.route("/transfers/<int:transfer_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TransferOut)
@api_user(permission=(service.RECORDS_PERMISSION, Permission.TRANSFER_PEOPLE))
def detail(transfer_id: int):
    """One transfer with who started and who decided it, when and why."""
    return service.transfer_for(g.api_user, transfer_id)


@blp.route("/transfers/<int:transfer_id>/confirm", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def confirm(transfer_id: int):
    """Confirm a transfer awaiting the caller's unit (确认调转, or consent to a request for one of its people)."""
    return _committed(service.confirm_transfer(g.api_user, transfer_id))


@blp.route("/transfers/<int:transfer_id>/refuse", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.RefusalIn)
@blp.response(200, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def refuse(body, transfer_id: int):
    """Refuse a transfer awaiting the caller's unit, with a reason."""
    return _committed(service.refuse_transfer(g.api_user, transfer_id, body["reason"]))


@blp.route("/transfers/<int:transfer_id>/complete", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def complete(transfer_id: int):
    """Complete a transfer the caller's unit asked for, once the old unit let its answer period pass (409 before)."""
    return _committed(service.complete_after_silence(g.api_user, transfer_id))


@blp.route("/transfers/<int:transfer_id>/cancel", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def cancel(transfer_id: int):
    """Withdraw a transfer the caller's unit started, before the other unit decided."""
    return _committed(service.cancel_transfer(g.api_user, transfer_id))
