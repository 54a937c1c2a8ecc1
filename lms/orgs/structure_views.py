"""Pages of changes of parent (更换上级部门, 5.1.1.1) and internal departments (管理内设部门, 5.1.1.2)."""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from lms.core.auth import page_user
from lms.orgs import departments, moves
from lms.orgs.access import admin_org, has_permission
from lms.orgs.admin_views import _run
from lms.orgs.permissions import Permission
from lms.orgs.views import bp


@bp.get("/org/parent-moves")
@page_user(permission=(Permission.CHANGE_PARENT, Permission.REVIEW_PARENT_CHANGES))
def moves_page():
    """The organisation's own requests with the request form, and the requests waiting for its decision."""
    requests = has_permission(current_user, Permission.CHANGE_PARENT)
    reviews = has_permission(current_user, Permission.REVIEW_PARENT_CHANGES)
    query = request.args.get("q", "")
    return render_template("orgs/moves.html", org=admin_org(current_user), requests=requests, reviews=reviews,
                           own=moves.own_moves(current_user) if requests else [],
                           open_move=moves.open_move_of(admin_org(current_user).id) if requests else None,
                           targets=moves.target_parents(current_user, query) if requests else [], q=query,
                           awaiting=moves.awaiting(current_user) if reviews else [],
                           records=moves.parent_records(current_user) if reviews else [],
                           side_of=lambda m: moves.side_of(current_user, m), sides=moves.SIDE_LABELS,
                           form=FlaskForm())


@bp.post("/org/parent-moves")
@page_user(permission=Permission.CHANGE_PARENT)
def request_move():
    """Ask to move under the chosen parent."""
    target, note = request.form.get("to_parent_id"), request.form.get("note")
    return _run(lambda: moves.request_move(current_user, target, note),
                "已提交更换上级部门申请，须原上级和新上级都同意后生效。", url_for("orgs.moves_page"))


@bp.post("/org/parent-moves/<int:move_id>/<any(approve, refuse, withdraw):action>")
@page_user(permission=(Permission.CHANGE_PARENT, Permission.REVIEW_PARENT_CHANGES))
def decide_move(move_id: int, action: str):
    """Approve or refuse as a parent, or withdraw as the requesting organisation."""
    reason = request.form.get("reason")
    change, message = {
        "approve": (lambda: moves.approve_move(current_user, move_id), "已同意该申请。"),
        "refuse": (lambda: moves.refuse_move(current_user, move_id, reason), "已不同意该申请。"),
        "withdraw": (lambda: moves.withdraw_move(current_user, move_id), "已撤回申请。"),
    }[action]
    return _run(change, message, url_for("orgs.moves_page"))


@bp.get("/org/departments")
@page_user(permission=Permission.MANAGE_DEPARTMENTS)
def departments_page():
    """The organisation's department tree with its forms, and people to assign (by search or by department)."""
    org = admin_org(current_user)
    query, department_id = request.args.get("q", ""), request.args.get("department_id", "")
    people = departments.people_of(current_user, query, department_id)
    return render_template("orgs/departments.html", org=org, nodes=departments.department_tree(org), q=query,
                           department_id=department_id, people=people,
                           assigned=departments.departments_by_person(p.id for p in people), form=FlaskForm())


def _back():
    return request.form.get("back") or url_for("orgs.departments_page")


@bp.post("/org/departments")
@page_user(permission=Permission.MANAGE_DEPARTMENTS)
def create_department():
    """Add a department."""
    data = {key: request.form.get(key) for key in ("name", "parent_id", "position")}
    return _run(lambda: departments.create_department(current_user, data), "已添加内设部门。",
                url_for("orgs.departments_page"))


@bp.post("/org/departments/<int:department_id>")
@page_user(permission=Permission.MANAGE_DEPARTMENTS)
def update_department(department_id: int):
    """Rename, reorder or move a department."""
    data = {key: request.form.get(key) for key in ("name", "parent_id", "position") if key in request.form}
    return _run(lambda: departments.update_department(current_user, department_id, data), "已保存内设部门。",
                url_for("orgs.departments_page"))


@bp.post("/org/departments/<int:department_id>/delete")
@page_user(permission=Permission.MANAGE_DEPARTMENTS)
def delete_department(department_id: int):
    """Delete an empty department."""
    return _run(lambda: departments.delete_department(current_user, department_id), "已删除内设部门。",
                url_for("orgs.departments_page"))


@bp.post("/org/departments/members/<int:user_id>")
@page_user(permission=Permission.MANAGE_DEPARTMENTS)
def assign_department(user_id: int):
    """Put a person in a department (or in none)."""
    back = _back()
    if not back.startswith("/org/departments"):
        abort(400)
    department_id = request.form.get("department_id")
    return _run(lambda: departments.assign_person(current_user, user_id, department_id), "已分配内设部门。", back)
