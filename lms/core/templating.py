"""What every template can use: role labels and the navigation for the current user."""

from __future__ import annotations

from flask import Flask, url_for
from flask_login import current_user

from lms.accounts.models import Role
from lms.orgs.access import admin_org, has_permission, permissions_of
from lms.orgs.permissions import Permission

# The admin menu: each entry shows for an admin holding any one of its permissions.
ADMIN_MENU = [
    ("注册审核", "orgs.registrations_page", {Permission.APPROVE_PEOPLE, Permission.APPROVE_ORGS}),
    ("组织机构", "orgs.tree", {Permission.MANAGE_SUB_ORGS, Permission.EDIT_ORG_SETTINGS, Permission.APPROVE_ORGS}),
    ("人员", "accounts.people", {Permission.MANAGE_PEOPLE, Permission.IMPORT_PEOPLE}),
    ("人员信息修改审核", "person_changes.queue", {Permission.REVIEW_PERSON_CHANGES}),
    ("本级机构信息", "org_changes.own", {Permission.EDIT_OWN_ORG}),
    ("机构信息修改审核", "org_changes.queue", {Permission.REVIEW_ORG_CHANGES}),
    ("管理员", "orgs.admins_page", {Permission.MANAGE_ADMINS}),
    ("内设部门", "orgs.departments_page", {Permission.MANAGE_DEPARTMENTS}),
    ("更换上级部门", "orgs.moves_page", {Permission.CHANGE_PARENT, Permission.REVIEW_PARENT_CHANGES}),
    ("学时审核", "declarations.review", {Permission.REVIEW_DECLARATIONS}),
    ("培训申报审核", "trainings.review", {Permission.REVIEW_DECLARATIONS}),
    ("培训申报", "trainings.mine", {Permission.DECLARE_TRAININGS}),
    ("顺延补学", "declarations.deferrals", {Permission.GRANT_DEFERRALS}),
    ("档案托管", "declarations.archive_hostings", {Permission.HOST_ARCHIVES}),
    ("人员调转", "transfers.records_page", {Permission.TRANSFER_PEOPLE, Permission.MANAGE_PEOPLE}),
    ("证书查询打印", "certificates.certificate_list", {Permission.LOOKUP_CERTIFICATES}),
    ("创建人社部门", "orgs.create_bureau", {Permission.CREATE_BUREAUS}),
    ("观看审核", "review.queue", {Permission.VIEW_SESSIONS, Permission.REVIEW_SESSIONS}),
    ("测验审核", "review_attempts.queue", {Permission.VIEW_SESSIONS, Permission.REVIEW_SESSIONS}),
    ("发布通知", "notices.manage", {Permission.PUBLISH_NOTICES}),
    ("短信发送记录", "notifications.deliveries", {Permission.VIEW_SMS_DELIVERIES}),
    ("单位网络地址", "addresses.address_page", {Permission.MANAGE_ADDRESSES}),
    ("课程管理", "courses.base_courses", {Permission.MANAGE_COURSES}),
    ("培训计划", "plans.own_page", {Permission.SUBMIT_PLANS}),
    ("培训计划审核", "plans.review_page", {Permission.REVIEW_PLANS}),
    ("课程审核", "plans.vetting_page", {Permission.VET_COURSES}),
    ("年度工作材料", "plans.materials_page", {Permission.SUBMIT_MATERIALS}),
    ("年度工作材料报送情况", "plans.materials_overview", {Permission.VIEW_MATERIALS}),
    ("统计查询", "statistics.overview", {Permission.VIEW_STATISTICS}),
    ("操作日志", "audit.log_page", {Permission.VIEW_AUDIT_LOG}),
]


def navigation() -> list[tuple[str, str]]:
    """Return the (label, url) menu entries for the logged-in user's role."""
    if not current_user.is_authenticated:
        return [("登录", url_for("accounts.login")), ("个人注册", url_for("accounts.register")),
                ("单位注册", url_for("orgs.register")), ("证书验证", url_for("certificates.verify_form"))]
    if current_user.must_change_password:
        return [("修改密码", url_for("accounts.password"))]
    entries = [("首页", url_for("accounts.home"))]
    if current_user.is_approved and current_user.role == Role.LEARNER:
        entries += [("课程目录", url_for("courses.catalogue")), ("我的课程", url_for("courses.my_courses"))]
        entries.append(("观看记录", url_for("review.my_records")))
        entries.append(("我的学时", url_for("ledger.year_page")))
        entries.append(("学时申报", url_for("declarations.mine")))
        entries.append(("个人信息", url_for("person_changes.mine")))
    if current_user.is_approved:
        from lms.notices.notifications import header_counts

        notices, notifications = header_counts(current_user)  # one query, kept for the rest of the request
        entries.append((f"通知公告（{notices}）" if notices else "通知公告", url_for("notices.notice_list")))
        entries.append((f"消息（{notifications}）" if notifications else "消息",
                        url_for("notifications.notification_list")))
    held = permissions_of(current_user)
    home = admin_org(current_user)
    for label, endpoint, needs in ADMIN_MENU:
        if held & needs and (endpoint != "declarations.archive_hostings" or home.archive_agency):
            entries.append((label, url_for(endpoint)))
    entries.append(("修改密码", url_for("accounts.password")))  # 退出 is a POST form in base.html
    return entries


def register_template_helpers(app: Flask) -> None:
    """Expose the navigation to every template."""
    app.context_processor(lambda: {"navigation": navigation, "has_permission": _current_has, "Permission": Permission})
    # A global, not a context variable: macros imported without context (the courseware hours field) read it.
    from lms.courses.models import SECONDS_PER_CREDIT_HOUR

    app.jinja_env.globals["MINUTES_PER_CREDIT_HOUR"] = SECONDS_PER_CREDIT_HOUR // 60


def _current_has(permission: Permission, org=None) -> bool:
    return has_permission(current_user, permission, org)
