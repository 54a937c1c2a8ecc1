"""What every template can use: role labels and the navigation for the current user."""

from __future__ import annotations

from flask import Flask, url_for
from flask_login import current_user

from lms.accounts.models import Role


def navigation() -> list[tuple[str, str]]:
    """Return the (label, url) menu entries for the logged-in user's role."""
    if not current_user.is_authenticated:
        return [("登录", url_for("accounts.login")), ("个人注册", url_for("accounts.register")),
                ("单位注册", url_for("orgs.register")), ("证书验证", url_for("certificates.verify_form"))]
    entries = [("首页", url_for("accounts.home"))]
    if current_user.is_approved and current_user.is_admin:
        entries.append(("注册审核", url_for("orgs.registrations_page")))
        entries.append(("组织机构", url_for("orgs.tree")))
        entries.append(("人员", url_for("accounts.people")))
    if current_user.is_approved and current_user.role in (Role.UNIT_ADMIN, Role.DEPARTMENT_ADMIN, Role.HR_ADMIN):
        entries.append(("证书查询", url_for("certificates.lookup")))
    if current_user.is_approved and current_user.role == Role.HR_ADMIN:
        entries.append(("创建人社部门", url_for("orgs.create_bureau")))
    if current_user.is_approved and current_user.role in (Role.REVIEWER, Role.HR_ADMIN):
        entries.append(("观看审核", url_for("review.queue")))
    if current_user.is_approved and current_user.role == Role.BASE_ADMIN:
        entries.append(("课程管理", url_for("courses.base_courses")))
    if current_user.is_approved and current_user.role == Role.LEARNER:
        entries += [("课程目录", url_for("courses.catalogue")), ("我的课程", url_for("courses.my_courses"))]
        entries.append(("观看记录", url_for("review.my_records")))
        entries.append(("我的学时", url_for("ledger.year_page")))
        entries.append(("学时申报", url_for("declarations.mine")))
    if current_user.is_approved and current_user.role in (Role.UNIT_ADMIN, Role.DEPARTMENT_ADMIN, Role.HR_ADMIN):
        entries.append(("学时审核", url_for("declarations.review")))
    if current_user.is_approved and current_user.role == Role.UNIT_ADMIN:
        entries.append(("顺延补学", url_for("declarations.deferrals")))
        if current_user.org.archive_agency:
            entries.append(("档案托管", url_for("declarations.archive_hostings")))
    entries.append(("修改密码", url_for("accounts.password")))  # 退出 is a POST form in base.html
    return entries


def register_template_helpers(app: Flask) -> None:
    """Expose the navigation to every template."""
    app.context_processor(lambda: {"navigation": navigation})
