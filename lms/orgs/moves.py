"""更换上级部门 (admin manual 5.1.1.1): an organisation asks to hang under another parent; both parents decide.

The organisation's admin asks to move under another competent department or HR bureau (``ALLOWED_PARENTS``
decides which kinds); the move takes effect only when the old and the new parent both approved, in either order;
either may refuse with a reason, and the organisation may withdraw before that. On the move the subtree's
materialised paths are rewritten, its rolled-up statistics leave the old ancestors for the new
(``tally.move_subtree``), and everyone's rights follow the new paths at once: the old parent's admins no longer
reach the organisation or its people, the new parent's do. People, ledgers and certificates stay as they are;
declarations in review keep the reviewers fixed on them at submission. Callers commit; a refusal raises before
anything changed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.orgs.access import admin_org, has_permission, require
from lms.orgs.models import ALLOWED_PARENTS, MoveStatus, Org, ParentMove, ReviewStatus
from lms.orgs.permissions import Permission
from lms.orgs.service import effective_region
from lms.statistics import tally

NOTE_MAX = 500
SEARCH_LIMIT = 20
OLD, NEW = "old", "new"
SIDE_LABELS = {OLD: "原上级", NEW: "新上级"}


# ------------------------------------------------------------------------------------------------ choosing

def target_parents(actor: User, query: Any) -> list[Org]:
    """Find the organisations the actor's organisation may move under, by credit code or part of the name."""
    org = require(actor, Permission.CHANGE_PARENT)
    text = query.strip() if isinstance(query, str) else ""
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(db.session.scalars(
        sa.select(Org).where(Org.kind.in_(ALLOWED_PARENTS[org.kind]), Org.status == ReviewStatus.APPROVED,
                             Org.disabled_at.is_(None), Org.id != org.parent_id, ~Org.path.startswith(org.path),
                             sa.or_(Org.credit_code == text.upper(), Org.name.like(pattern, escape="\\")))
        .order_by(Org.path).limit(SEARCH_LIMIT)))


def _target(to_parent_id: Any) -> Org:
    if to_parent_id in (None, ""):
        raise InvalidInput({"to_parent_id": "请选择新的上级部门。"})
    try:
        target = db.session.get(Org, int(to_parent_id))
    except (TypeError, ValueError):
        target = None
    if target is None:
        raise InvalidInput({"to_parent_id": "所选上级部门不存在。"})
    return target


def _refuse_unless_possible(org: Org, target: Org) -> None:
    """Raise the reason why ``org`` cannot hang under ``target`` now, if there is one."""
    if target.path.startswith(org.path):
        raise Conflict(f"不能把{org.name}挂到它自己或它的下级单位之下。")
    if target.id == org.parent_id:
        raise Conflict(f"{target.name}已是{org.name}的上级部门，无需更换。")
    if target.kind not in ALLOWED_PARENTS[org.kind]:
        allowed = "或".join(k.label for k in ALLOWED_PARENTS[org.kind]) or "（无）"
        raise InvalidInput({"to_parent_id": f"{org.kind.label}的上级应为{allowed}，"
                                            f"{target.name}是{target.kind.label}。"})
    if not target.is_active:
        raise Conflict(f"{target.name}尚未通过审核或已停用，不能作为上级部门。")
    # A move that changed the rule set the subtree's people follow would refile their open declarations under
    # another rule set; the region is set by the HR bureaus (单位设置), so the move waits for that first.
    before, after = effective_region(org), org.region or effective_region(target)
    if before != after:
        raise Conflict(f"{target.name}适用的学时规则地区与{org.name}现在的不同，不能直接更换上级；"
                       "请先由人社部门在“单位设置”中为本单位指定学时规则地区。")


# ------------------------------------------------------------------------------------------------ workflow

def request_move(actor: User, to_parent_id: Any, note: Any = None) -> ParentMove:
    """Ask to move the actor's organisation under another parent; both parents must then approve."""
    org = require(actor, Permission.CHANGE_PARENT)
    text = _text(note, "申请说明", "note", required=False)
    target = _target(to_parent_id)
    if org.parent is None:
        raise Conflict(f"{org.name}没有上级部门，不能更换。")
    _refuse_unless_possible(org, target)
    if open_move_of(org.id) is not None:
        raise Conflict(f"{org.name}已有一项尚未办结的更换上级部门申请，请等待审核或先撤回。")
    move = ParentMove(org_id=org.id, from_parent_id=org.parent_id, to_parent_id=target.id, status=MoveStatus.PENDING,
                      note=text, requested_by_id=actor.id, requested_at=utcnow())
    try:
        with db.session.begin_nested():  # a concurrent request of the same organisation hits the one-open index
            db.session.add(move)
    except IntegrityError:
        raise Conflict(f"{org.name}已有一项尚未办结的更换上级部门申请，请等待审核或先撤回。") from None
    record(actor, "parent_move.request", object_type="parent_move", object_id=move.id, label=_label(move), org=org,
           reason=text, after={"from_parent": org.parent.name, "to_parent": target.name})
    return move


def approve_move(actor: User, move_id: Any) -> ParentMove:
    """Approve as the old or the new parent; the second approval moves the organisation with its subtree now."""
    move = _open_move_for_decision(actor, move_id)
    side = _side_or_refuse(actor, move)
    if (move.new_approved_at if side == OLD else move.old_approved_at) is not None:
        move = _lock_orgs_of(move)  # this approval completes it: take the tree's locks before writing anything
    now = utcnow()
    if side == OLD:
        if move.old_approved_at is not None:
            raise Conflict(f"{move.from_parent.name}已同意该申请，正在等待{move.to_parent.name}审核。")
        move.old_approved_by_id, move.old_approved_at = actor.id, now
    else:
        if move.new_approved_at is not None:
            raise Conflict(f"{move.to_parent.name}已同意该申请，正在等待{move.from_parent.name}审核。")
        move.new_approved_by_id, move.new_approved_at = actor.id, now
    db.session.flush()
    record(actor, "parent_move.approve", object_type="parent_move", object_id=move.id, label=_label(move),
           org=move.from_parent if side == OLD else move.to_parent, after={"side": SIDE_LABELS[side]})
    if move.old_approved_at is not None and move.new_approved_at is not None:
        _carry_out(actor, move)
    return move


def refuse_move(actor: User, move_id: Any, reason: Any) -> ParentMove:
    """Refuse as the old or the new parent, with a reason; the organisation stays where it is."""
    text = _text(reason, "不同意的原因", "reason", required=True)
    move = _open_move_for_decision(actor, move_id)
    side = _side_or_refuse(actor, move)
    move.status, move.closed_by_id, move.closed_at, move.refusal_reason = MoveStatus.REFUSED, actor.id, utcnow(), text
    db.session.flush()
    record(actor, "parent_move.refuse", object_type="parent_move", object_id=move.id, label=_label(move),
           org=move.from_parent if side == OLD else move.to_parent, reason=text, after={"side": SIDE_LABELS[side]})
    return move


def withdraw_move(actor: User, move_id: Any) -> ParentMove:
    """Withdraw the actor's organisation's open request before both parents approved."""
    home = require(actor, Permission.CHANGE_PARENT)
    move = _locked(actor, move_id)
    if move.org_id != home.id:
        raise NotAllowed(f"该申请由{move.org.name}提出，只有申请单位可以撤回。")
    _refuse_unless_open(move)
    move.status, move.closed_by_id, move.closed_at = MoveStatus.WITHDRAWN, actor.id, utcnow()
    db.session.flush()
    record(actor, "parent_move.withdraw", object_type="parent_move", object_id=move.id, label=_label(move),
           org=move.org)
    return move


def _lock_orgs_of(move: ParentMove) -> ParentMove:
    """Lock the organisation's subtree and every ancestor of its old and new place, in id order, and re-read them.

    The statistics rows of those ancestors change too (``tally.move_subtree``), always root first; two moves touching
    one branch (a unit moving under a department that is itself moving) take the same rows in the same order, so
    the second waits for the first and reads the paths it left (every move takes the root, so moves complete one at
    a time, which is what makes the ancestors read before the lock safe). ``FOR NO KEY UPDATE``: a path is no key,
    so rows that merely refer to these organisations (audit rows, tallies) are written meanwhile without waiting.
    """
    org = db.session.get(Org, move.org_id)
    target = db.session.get(Org, move.to_parent_id)
    ids = {*org.ancestor_ids, *target.ancestor_ids, move.from_parent_id}
    db.session.execute(sa.select(Org.id).where(sa.or_(Org.id.in_(ids), Org.path.startswith(org.path)))
                       .order_by(Org.id).with_for_update(key_share=True))
    db.session.expire_all()
    return db.session.get(ParentMove, move.id)


def _carry_out(actor: User, move: ParentMove) -> None:
    """Hang the organisation under the new parent: rewrite the subtree's paths and carry its statistics along.

    The caller locked the rows (``_lock_orgs_of``) before its first write.
    """
    org_id = move.org_id
    org, target = move.org, move.to_parent
    if org.parent_id != move.from_parent_id:
        raise Conflict(f"{org.name}已不在{move.from_parent.name}之下，该申请不能再生效。")
    _refuse_unless_possible(org, target)
    old_path, new_path = org.path, f"{target.path}{org.id}/"
    db.session.execute(sa.update(Org).where(Org.path.startswith(old_path))
                       .values(path=sa.literal(new_path) + sa.func.substr(Org.path, len(old_path) + 1))
                       .execution_options(synchronize_session=False))
    db.session.execute(sa.update(Org).where(Org.id == org.id).values(parent_id=target.id)
                       .execution_options(synchronize_session=False))
    db.session.expire_all()
    tally.move_subtree(org_id, old_path)
    move = db.session.get(ParentMove, move.id)
    move.status, move.closed_by_id, move.closed_at = MoveStatus.COMPLETED, actor.id, utcnow()
    db.session.flush()
    record(actor, "parent_move.complete", object_type="parent_move", object_id=move.id, label=_label(move),
           org=move.org, before={"parent": move.from_parent.name, "path": old_path},
           after={"parent": move.to_parent.name, "path": new_path})


def _locked(actor: User, move_id: Any) -> ParentMove:
    """Lock the move's row (two decisions at once queue here; the second reads the first's result)."""
    try:
        key = int(move_id)
    except (TypeError, ValueError):
        key = None
    move = key is not None and db.session.execute(
        sa.select(ParentMove).where(ParentMove.id == key).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if not move or not may_view(actor, move):
        raise NotFound("更换上级部门申请不存在或不在本单位管辖范围内。")
    return move


def _refuse_unless_open(move: ParentMove) -> None:
    if move.status != MoveStatus.PENDING:
        raise Conflict(f"该更换上级部门申请已{move.status.label}，不能再处理。")


def _open_move_for_decision(actor: User, move_id: Any) -> ParentMove:
    require(actor, Permission.REVIEW_PARENT_CHANGES)
    move = _locked(actor, move_id)
    _side_or_refuse(actor, move)
    _refuse_unless_open(move)
    return move


def side_of(actor: User, move: ParentMove) -> str | None:
    """Which parent the actor decides for ("old", "new"), or None."""
    home = admin_org(actor) if has_permission(actor, Permission.REVIEW_PARENT_CHANGES) else None
    if home is None:
        return None
    return {move.from_parent_id: OLD, move.to_parent_id: NEW}.get(home.id)


def _side_or_refuse(actor: User, move: ParentMove) -> str:
    side = side_of(actor, move)
    if side is None:
        raise NotAllowed(f"只有原上级{move.from_parent.name}和新上级{move.to_parent.name}的管理员可以审核该申请。")
    return side


# ------------------------------------------------------------------------------------------------ reading

def open_move_of(org_id: int) -> ParentMove | None:
    return db.session.scalar(sa.select(ParentMove).where(ParentMove.org_id == org_id,
                                                         ParentMove.status == MoveStatus.PENDING))


def may_view(actor: User, move: ParentMove) -> bool:
    """The organisation (and the levels above it now), and either parent (and the levels above it)."""
    return (has_permission(actor, Permission.CHANGE_PARENT, move.org)
            or any(has_permission(actor, Permission.REVIEW_PARENT_CHANGES, org)
                   for org in (move.org, move.from_parent, move.to_parent)))


def move_for(actor: User, move_id: int) -> ParentMove:
    move = db.session.get(ParentMove, move_id)
    if move is None or not may_view(actor, move):
        raise NotFound("更换上级部门申请不存在或不在本单位管辖范围内。")
    return move


def own_moves(actor: User) -> list[ParentMove]:
    """The requests of the actor's organisation, newest first."""
    org = require(actor, Permission.CHANGE_PARENT)
    return list(db.session.scalars(sa.select(ParentMove).where(ParentMove.org_id == org.id)
                                   .order_by(ParentMove.requested_at.desc(), ParentMove.id.desc())))


def awaiting_condition(actor: User):
    """The condition "open and waiting for the actor's organisation's decision" (false without the permission)."""
    home = admin_org(actor) if has_permission(actor, Permission.REVIEW_PARENT_CHANGES) else None
    if home is None:
        return sa.false()
    return (ParentMove.status == MoveStatus.PENDING) & sa.or_(
        (ParentMove.from_parent_id == home.id) & ParentMove.old_approved_at.is_(None),
        (ParentMove.to_parent_id == home.id) & ParentMove.new_approved_at.is_(None))


def awaiting(actor: User) -> list[ParentMove]:
    """The requests waiting for the actor's organisation to approve or refuse, oldest first."""
    return list(db.session.scalars(sa.select(ParentMove).where(awaiting_condition(actor))
                                   .order_by(ParentMove.requested_at, ParentMove.id)))


def parent_records(actor: User, limit: int = 100) -> list[ParentMove]:
    """Every request the actor's organisation was, or is, a parent side of, newest first."""
    home = require(actor, Permission.REVIEW_PARENT_CHANGES)
    return list(db.session.scalars(
        sa.select(ParentMove).where(sa.or_(ParentMove.from_parent_id == home.id, ParentMove.to_parent_id == home.id))
        .order_by(ParentMove.requested_at.desc(), ParentMove.id.desc()).limit(limit)))


# ------------------------------------------------------------------------------------------------ helpers

def _label(move: ParentMove) -> str:
    return f"{move.org.name}：{move.from_parent.name} → {move.to_parent.name}"


def _text(value: Any, what: str, field: str, required: bool) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput({field: f"请填写{what}。"})
    if len(text) > NOTE_MAX:
        raise InvalidInput({field: f"{what}不能超过 {NOTE_MAX} 字。"})
    return text or None
