"""What each service tells a person when something happens to their things: one call per event, one line there.

Every function runs inside the calling service's transaction (see ``notifications.notify``); the wording and the
link live here so that the services keep one line each and the texts read alike.
"""

from __future__ import annotations

from typing import Any

from lms.accounts.models import User
from lms.core.clock import china_time
from lms.core.db import utcnow
from lms.extensions import db
from lms.notices.notifications import notify, path_for


def _person(user_id: int) -> User:
    return db.session.get(User, user_id)


def _reason(reason: str | None) -> str:
    return f"原因：{reason}" if reason else ""


def registration_decided(user: User, approved: bool, reason: str | None) -> None:
    """A person's (or an organisation admin's) registration was approved or rejected."""
    if approved:
        text = f"您在{user.org.name}的注册已审核通过，现在可以登录使用平台。"
    else:
        text = f"您在{user.org.name}的注册未通过审核。{_reason(reason)}"
    notify(user, "registration", text, path_for("accounts.home"), sms=True,
           title="注册审核通过" if approved else "注册未通过审核")


_DECLARATION_TITLES = {"returned": "学时申报被退回", "rejected": "学时申报未通过", "filed": "学时申报已入账",
                       "voided": "学时申报被认定弄虚作假"}


def declaration_decided(declaration: Any, action: Any, reason: str | None) -> None:
    """A declaration was sent back, rejected, filed (posted) or voided; other steps tell the person nothing."""
    what = getattr(action, "value", action)
    if what not in _DECLARATION_TITLES:
        return
    name = f"学时申报“{declaration.title}”"
    text = {"returned": f"您的{name}被退回，请补充材料后重新提交。{_reason(reason)}",
            "rejected": f"您的{name}未通过审核。{_reason(reason)}",
            "filed": f"您的{name}已备案入账，计 {declaration.final_hours} 学时。",
            "voided": f"您的{name}被认定弄虚作假，{declaration.year} 年度学时作废（学时管理办法第二十一条）。"
                      f"{_reason(reason)}"}[what]
    notify(declaration.user, "declaration", text, path_for("declarations.detail", declaration_id=declaration.id),
           sms=True, title=_DECLARATION_TITLES[what])


def session_held(session: Any) -> None:
    """A viewing session was held for review (its time counts only once a reviewer releases it)."""
    notify(_person(session.user_id), "session_review", "您的一条观看记录因异常被暂扣，审核通过后才计入学时。",
           path_for("review.my_records"), title="观看记录被暂扣")


def session_decided(session: Any, outcome: Any, reason: str) -> None:
    """A held viewing session was released or voided."""
    released = getattr(outcome, "value", outcome) == "release"
    text = (f"您的观看记录 #{session.id} 已审核通过，计入学时。" if released
            else f"您的观看记录 #{session.id} 审核作废，不计学时。原因：{reason}")
    notify(session.user, "session_review", text, path_for("review.my_records"), sms=True,
           title="观看记录审核通过" if released else "观看记录审核作废")


def attempt_held(attempt: Any) -> None:
    """A quiz attempt was held for review (its course hours wait for the decision)."""
    notify(_person(attempt.user_id), "attempt_review", "您的一次测验因异常被暂扣，审核通过后才计入学时。",
           path_for("courses.my_courses"), title="测验记录被暂扣")


def attempt_decided(attempt: Any, outcome: Any, reason: str) -> None:
    """A held quiz attempt was released or voided."""
    released = getattr(outcome, "value", outcome) == "release"
    text = (f"您的测验记录 #{attempt.id} 已审核通过。" if released
            else f"您的测验记录 #{attempt.id} 审核作废，不计学时。原因：{reason}")
    notify(attempt.user, "attempt_review", text, path_for("courses.my_courses"), sms=True,
           title="测验记录审核通过" if released else "测验记录审核作废")


def transfer_decided(transfer: Any) -> None:
    """A transfer of the person was confirmed (they belong to the new unit now) or refused."""
    status = getattr(transfer.status, "value", transfer.status)
    if status == "confirmed":
        text = (f"您已从{transfer.from_org.name}调转到{transfer.destination_name}，"
                "学时记录和证书随您转入。")
        title = "人员调转已完成"
    elif status == "refused":
        text = f"您从{transfer.from_org.name}到{transfer.destination_name}的调转未获同意。{_reason(transfer.reason)}"
        title = "人员调转未获同意"
    else:
        return
    notify(_person(transfer.user_id), "transfer", text, path_for("accounts.home"), sms=True, title=title)


def person_change_decided(person: User, approved: bool, text: str) -> None:
    """A change of the person's own data was approved or rejected (the text says which fields and why)."""
    notify(person, "person_change", text, path_for("person_changes.mine"), sms=True,
           title="个人信息修改已通过" if approved else "个人信息修改未通过")


def org_change_decided(requester: User, approved: bool, text: str) -> None:
    """A change of an organisation's identifying data that the admin asked for was approved or rejected."""
    notify(requester, "org_change", text, path_for("org_changes.own"), sms=True,
           title="机构信息修改已通过" if approved else "机构信息修改未通过")


def password_reset(person: User, actor: User) -> None:
    """An admin reset the person's password (the temporary password itself is never in a message)."""
    notify(person, "password_reset",
           f"您的登录密码已于 {china_time(utcnow(), '%Y-%m-%d %H:%M')}（北京时间）由管理员（{actor.name}）重置，"
           "请用管理员告知的临时密码登录并设置新密码；如非本人申请，请联系单位管理员。",
           path_for("accounts.password"), sms=True, title="密码已被管理员重置")


_PLAN_TITLES = {"approved": "培训计划审核通过", "rejected": "培训计划未通过", "returned": "培训计划被退回修改"}


def plan_decided(filing: Any, reason: str | None) -> None:
    """A base's plan, single training or summary was approved, rejected or sent back by its department."""
    what = filing.status.value
    name = f"{filing.year}年{filing.kind.label}“{filing.latest.title}”"
    text = {"approved": f"{name}已由{filing.department.name}审核通过。",
            "rejected": f"{name}未通过{filing.department.name}的审核。{_reason(reason)}",
            "returned": f"{name}被{filing.department.name}退回，请修改后重新报送。{_reason(reason)}"}[what]
    notify(filing.latest.submitted_by, "plan", text, path_for("plans.detail_page", filing_id=filing.id),
           title=_PLAN_TITLES[what])


def training_filed(person: User, training: Any, hours: Any) -> None:
    """An attendee's hours from a training declared with a roster were filed and posted."""
    notify(person, "training", f"您参加的“{training.title}”（{training.org.name}）已审核备案，计 {hours} 学时。",
           path_for("ledger.year_page", year=training.year), title="培训学时已入账")
