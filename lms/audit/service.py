"""Writing and reading the audit log: who did what to which object, when, from where, before and after."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from lms.accounts.models import User
from lms.audit.models import AuditEntry
from lms.core.errors import InvalidInput
from lms.core.queues import ListFilters
from lms.extensions import db
from lms.orgs.access import admin_org, require
from lms.orgs.models import Org
from lms.orgs.permissions import Permission

ACTION_LABELS = {
    "registration.approve": "通过注册", "registration.reject": "驳回注册",
    "org_registration.approve": "通过单位注册", "org_registration.reject": "驳回单位注册",
    "bureau.create": "创建人社部门",
    "admin.add": "添加管理员", "admin.remove": "移除管理员", "admin.set_role": "更改管理员角色",
    "admin.hand_over_super": "移交超级管理员",
    "role.create": "新建角色", "role.update": "修改角色", "role.delete": "删除角色",
    "person.disable": "停用人员", "person.enable": "启用人员",
    "org.disable": "停用单位", "org.enable": "启用单位",
    "password.reset": "重置密码",
    "org.settings": "修改单位设置",
    "declaration.decide": "审核学时申报", "declaration.void": "认定弄虚作假",
    "training.declare": "申报培训及名单", "training.resubmit": "修改后重新提交培训申报",
    "training.decide": "审核培训申报",
    "deferral.grant": "办理顺延补学", "deferral.title_extension": "记录无正当理由未参加补学",
    "transfer.start": "发起人员调出", "transfer.confirm": "确认调转", "transfer.refuse": "拒绝调入",
    "transfer.cancel": "撤回人员调出",
    "session.decide": "观看记录审核",
    "certificate.lookup": "查询证书", "evidence.download": "下载申报材料",
    "audit.export": "导出操作日志", "people.import": "批量导入人员", "people.export": "导出人员",
    "person_change.request": "申请修改人员信息", "person_change.approve": "通过人员信息修改",
    "person_change.reject": "驳回人员信息修改", "person.phone_change": "修改手机号码",
    "person.correct_identity": "更正姓名或身份证号码",
    "org.contact_change": "修改单位联系信息", "org_change.request": "申请修改单位信息",
    "org_change.approve": "通过单位信息修改", "org_change.reject": "驳回单位信息修改",
    "parent_move.request": "申请更换上级部门", "parent_move.approve": "同意更换上级部门",
    "parent_move.refuse": "不同意更换上级部门", "parent_move.withdraw": "撤回更换上级部门申请",
    "parent_move.complete": "更换上级部门生效",
    "department.create": "添加内设部门", "department.update": "修改内设部门", "department.delete": "删除内设部门",
    "department.assign": "分配内设部门",
    "integrity.record": "记入诚信档案",
    "api_client.create": "登记外部系统客户端", "api_client.revoke": "吊销外部系统客户端",
    "interop.token": "外部系统取得访问令牌", "interop.person_record": "外部系统查询人员学时档案",
    "notice.publish": "发布通知公告", "notice.edit": "修改通知公告", "notice.withdraw": "撤回通知公告",
    "notification.settings": "修改消息短信设置", "notification.remind_deadline": "发送学时截止提醒",
    "plan.submit": "提交培训计划", "plan.revise": "修改重报培训计划", "plan.approve": "通过培训计划",
    "plan.reject": "不通过培训计划", "plan.return": "退回培训计划",
    "course_vetting.request": "课程提交审核", "course_vetting.approve": "通过课程审核",
    "course_vetting.reject": "不通过课程审核",
    "material.submit": "报送年度工作材料", "material.edit": "修改年度工作材料",
}


def actor_capacity(actor: User) -> str:
    """Name the capacity an account acts in: super admin, its role, or its account kind."""
    membership = actor.admin_membership
    if membership is None:
        return actor.role.label
    if membership.is_super:
        return f"{membership.org.name}超级管理员"
    return f"{membership.org.name}{membership.role.name if membership.role else '管理员'}"


SYSTEM_ACTOR, SYSTEM_ROLE = "系统", "按规则自动处理"
MACHINE_ROLE = "外部系统接口客户端"


def record(actor: User | None, action: str, *, object_type: str, object_id: Any = None, label: str = "",
           org: Org | None = None, before: Mapping | None = None, after: Mapping | None = None,
           reason: str | None = None, machine: str | None = None) -> AuditEntry:
    """Append one row for an admin action; ``org`` is the organisation it concerns (default: the actor's).

    ``actor`` is None for what the platform does by a rule on its own (a scheduled job), never for a person's act,
    and for a call of a registered machine client, which ``machine`` then names (``lms.interop``).
    """
    home = (admin_org(actor) or actor.org) if actor is not None else None
    concerned = org or home
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.name[:50] if actor is not None else (machine or SYSTEM_ACTOR)[:50],
        actor_role=actor_capacity(actor)[:60] if actor is not None else (MACHINE_ROLE if machine else SYSTEM_ROLE),
        actor_org_id=home.id if home else None, org_path=concerned.path if concerned else "/",
        action=action, object_type=object_type, object_id=None if object_id is None else str(object_id)[:40],
        object_label=label[:200], reason=(reason or None) and reason[:500],
        before=dict(before) if before is not None else None, after=dict(after) if after is not None else None,
        ip_address=(request.remote_addr or None) if has_request_context() else None)
    db.session.add(entry)
    db.session.flush()
    return entry


def changed_fields(before: Mapping, after: Mapping) -> tuple[dict, dict]:
    """Keep only the keys whose value changed, for the before/after of a row."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


PAGE_SIZE = 50


def log_query(actor: User, filters: Mapping):
    """Select the audit rows of the actor's subtree, newest first, filtered by action, actor name and dates."""
    home = require(actor, Permission.VIEW_AUDIT_LOG)
    query = sa.select(AuditEntry).where(AuditEntry.org_path.startswith(home.path))
    action = (filters.get("action") or "").strip()
    if action:
        if action not in ACTION_LABELS:
            raise InvalidInput({"action": "没有这种操作类型。"})
        query = query.where(AuditEntry.action == action)
    actor_name = (filters.get("actor") or "").strip()[:50]
    if actor_name:
        query = query.where(AuditEntry.actor_name.contains(actor_name, autoescape=True))
    query = ListFilters.parse({"since": filters.get("since"), "until": filters.get("until")}).apply(
        query, moment=AuditEntry.created_at)
    return query.order_by(AuditEntry.id.desc())


def as_text(values: Mapping | None) -> str:
    """Render a before/after mapping for a person: "key: value; …"."""
    if not values:
        return ""
    return "；".join(f"{key}: {value}" for key, value in values.items())
