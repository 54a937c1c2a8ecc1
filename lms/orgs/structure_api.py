"""JSON API of changes of parent (更换上级部门, 5.1.1.1) and internal departments (内设部门, 5.1.1.2)."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from lms.core.auth import api_user
from lms.extensions import db
from lms.orgs import departments, moves, schemas
from lms.orgs.access import admin_org
from lms.orgs.permissions import Permission

blp = Blueprint("org_structure_api", __name__, url_prefix="/api/v1", description="更换上级部门与内设部门")
BEARER = [{"bearer": []}]


def _committed(result):
    db.session.commit()
    return result


@blp.route("/org/parent-moves", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.ParentMoveOut(many=True))
@api_user(permission=Permission.CHANGE_PARENT)
def own_moves():
    """The caller's organisation's requests to change its parent, newest first."""
    return moves.own_moves(g.api_user)


@blp.route("/org/parent-moves", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.ParentMoveIn)
@blp.response(201, schemas.ParentMoveOut)
@blp.alt_response(409, description="已有未办结的申请、新上级已停用或未通过审核、就是现在的上级、是本单位的下级")
@blp.alt_response(422, description="新上级不存在或类型不符（ALLOWED_PARENTS）")
@api_user(permission=Permission.CHANGE_PARENT)
def request_move(body):
    """Ask to move the caller's organisation under another parent; the old and the new parent must both approve."""
    return _committed(moves.request_move(g.api_user, body["to_parent_id"], body["note"]))


@blp.route("/org/parent-moves/targets", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.TargetQuery, location="query")
@blp.response(200, schemas.OrgOut(many=True))
@api_user(permission=Permission.CHANGE_PARENT)
def move_targets(args):
    """Search the organisations the caller's organisation may move under (at most 20)."""
    return moves.target_parents(g.api_user, args["q"])


@blp.route("/parent-moves/awaiting", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.ParentMoveOut(many=True))
@api_user(permission=Permission.REVIEW_PARENT_CHANGES)
def awaiting_moves():
    """The requests waiting for the caller's organisation's decision, as the old or the new parent."""
    return moves.awaiting(g.api_user)


@blp.route("/parent-moves/<int:move_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.ParentMoveOut)
@api_user(permission=(Permission.CHANGE_PARENT, Permission.REVIEW_PARENT_CHANGES))
def move_detail(move_id: int):
    """One request with who approved, refused or withdrew it and when (404 outside the caller's reach)."""
    return moves.move_for(g.api_user, move_id)


@blp.route("/parent-moves/<int:move_id>/approve", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.ParentMoveOut)
@api_user(permission=Permission.REVIEW_PARENT_CHANGES)
def approve_move(move_id: int):
    """Approve as the old or the new parent; the second approval moves the organisation and its subtree."""
    return _committed(moves.approve_move(g.api_user, move_id))


@blp.route("/parent-moves/<int:move_id>/refuse", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.Reason)
@blp.response(200, schemas.ParentMoveOut)
@api_user(permission=Permission.REVIEW_PARENT_CHANGES)
def refuse_move(body, move_id: int):
    """Refuse as the old or the new parent, with a reason."""
    return _committed(moves.refuse_move(g.api_user, move_id, body["reason"]))


@blp.route("/parent-moves/<int:move_id>/withdraw", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.ParentMoveOut)
@api_user(permission=Permission.CHANGE_PARENT)
def withdraw_move(move_id: int):
    """Withdraw the caller's organisation's open request."""
    return _committed(moves.withdraw_move(g.api_user, move_id))


@blp.route("/org/departments", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.DepartmentOut(many=True))
@api_user(permission=Permission.MANAGE_DEPARTMENTS)
def department_tree():
    """The caller's organisation's internal departments, depth first."""
    return departments.department_tree(admin_org(g.api_user))


@blp.route("/org/departments", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.DepartmentIn)
@blp.response(201, schemas.DepartmentRef)
@api_user(permission=Permission.MANAGE_DEPARTMENTS)
def create_department(body):
    """Add an internal department, at the top or under another."""
    return _committed(departments.create_department(g.api_user, body))


@blp.route("/org/departments/<int:department_id>", methods=["PATCH"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.DepartmentChange)
@blp.response(200, schemas.DepartmentRef)
@api_user(permission=Permission.MANAGE_DEPARTMENTS)
def update_department(body, department_id: int):
    """Rename, reorder or move an internal department (only the fields given change)."""
    return _committed(departments.update_department(g.api_user, department_id, body))


@blp.route("/org/departments/<int:department_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@blp.response(204)
@api_user(permission=Permission.MANAGE_DEPARTMENTS)
def delete_department(department_id: int):
    """Delete an internal department with neither sub-departments nor people."""
    departments.delete_department(g.api_user, department_id)
    db.session.commit()


@blp.route("/people/<int:user_id>/department", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.DepartmentAssignment)
@blp.response(200, schemas.DepartmentAssignmentOut)
@api_user(permission=Permission.MANAGE_DEPARTMENTS)
def assign_department(body, user_id: int):
    """Put one of the organisation's own people in one of its internal departments (null: in none)."""
    membership = departments.assign_person(g.api_user, user_id, body["department_id"])
    db.session.commit()
    return {"user_id": user_id, "department_id": membership.department_id if membership else None}
