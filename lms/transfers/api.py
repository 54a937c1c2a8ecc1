"""JSON API of 人员调转: start, confirm, refuse, cancel, the records and the units one may transfer to.

The same rules as the pages (``lms.transfers.service``): the old unit's admin starts and may withdraw, the new
unit's admin decides, both units and the levels above read the records of their subtree.
"""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from lms.core.api import page_body
from lms.core.auth import api_user
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
    """Start the transfer of a learner of the caller's subtree to another unit of the province (人员调出)."""
    return _committed(service.start_transfer(g.api_user, body["person_id"], to_org_id=body["to_org_id"],
                                             target=body["target"], note=body["note"]))


@blp.route("/transfers/awaiting", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TransferOut(many=True))
@api_user(permission=Permission.TRANSFER_PEOPLE)
def awaiting():
    """The transfers waiting for the caller's unit to confirm or refuse (人员调入审核)."""
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
    """Confirm a transfer into the caller's unit (确认调转)."""
    return _committed(service.confirm_transfer(g.api_user, transfer_id))


@blp.route("/transfers/<int:transfer_id>/refuse", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.RefusalIn)
@blp.response(200, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def refuse(body, transfer_id: int):
    """Refuse a transfer into the caller's unit, with a reason."""
    return _committed(service.refuse_transfer(g.api_user, transfer_id, body["reason"]))


@blp.route("/transfers/<int:transfer_id>/cancel", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TransferOut)
@api_user(permission=Permission.TRANSFER_PEOPLE)
def cancel(transfer_id: int):
    """Withdraw a transfer the caller's unit started, before the new unit decided."""
    return _committed(service.cancel_transfer(g.api_user, transfer_id))
