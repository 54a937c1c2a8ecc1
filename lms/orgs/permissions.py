"""The fixed catalogue of admin permissions (管理员权限, admin manual 5.1.1.3.1).

Every admin page and API action names the one permission it needs; an organisation's roles bundle
them and its super admin (超级管理员) holds every permission of the organisation's kind. Which kinds
a permission exists for follows who does the work in 鄂人社函〔2026〕35号 二 and the manual: units
review their own people, competent departments and HR bureaus review the level below, bases run
courses, HR bureaus set rules and review viewing sessions. The check itself is
``lms.orgs.access.has_permission``; nothing else compares roles.
"""

from __future__ import annotations

import dataclasses
import enum

from lms.orgs.models import ALLOWED_PARENTS, HR_KINDS, OrgKind

UNIT = frozenset({OrgKind.UNIT})
DEPARTMENT_AND_HR = frozenset({OrgKind.DEPARTMENT, *HR_KINDS})
ADMINISTERING = frozenset({OrgKind.UNIT, OrgKind.DEPARTMENT, *HR_KINDS})
EVERY_ADMIN_KIND = frozenset({*ADMINISTERING, OrgKind.BASE})
BASE = frozenset({OrgKind.BASE})
# Every kind that has a parent to change (the province has none).
MOVABLE = frozenset(kind for kind, parents in ALLOWED_PARENTS.items() if parents)


class Permission(enum.StrEnum):
    APPROVE_PEOPLE = "approve_people"
    APPROVE_ORGS = "approve_orgs"
    MANAGE_PEOPLE = "manage_people"
    IMPORT_PEOPLE = "import_people"
    RESET_PASSWORDS = "reset_passwords"
    MANAGE_SUB_ORGS = "manage_sub_orgs"
    CREATE_BUREAUS = "create_bureaus"
    EDIT_ORG_SETTINGS = "edit_org_settings"
    MANAGE_ADMINS = "manage_admins"
    REVIEW_DECLARATIONS = "review_declarations"
    VOID_DECLARATIONS = "void_declarations"
    GRANT_DEFERRALS = "grant_deferrals"
    HOST_ARCHIVES = "host_archives"
    TRANSFER_PEOPLE = "transfer_people"
    VIEW_STATISTICS = "view_statistics"
    LOOKUP_CERTIFICATES = "lookup_certificates"
    VIEW_FULL_ID_NUMBERS = "view_full_id_numbers"
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_COURSES = "manage_courses"
    VIEW_SESSIONS = "view_sessions"
    REVIEW_SESSIONS = "review_sessions"
    PUBLISH_NOTICES = "publish_notices"
    MANAGE_ADDRESSES = "manage_addresses"
    EDIT_OWN_ORG = "edit_own_org"
    REVIEW_ORG_CHANGES = "review_org_changes"
    REVIEW_PERSON_CHANGES = "review_person_changes"
    CHANGE_PARENT = "change_parent"
    REVIEW_PARENT_CHANGES = "review_parent_changes"
    MANAGE_DEPARTMENTS = "manage_departments"
    VIEW_SMS_DELIVERIES = "view_sms_deliveries"
    DECLARE_TRAININGS = "declare_trainings"
    VIEW_INTEGRITY_RECORDS = "view_integrity_records"
    SUBMIT_PLANS = "submit_plans"
    REVIEW_PLANS = "review_plans"
    VET_COURSES = "vet_courses"
    SUBMIT_MATERIALS = "submit_materials"
    VIEW_MATERIALS = "view_materials"

    @property
    def label(self) -> str:
        return CATALOGUE[self].label

    @property
    def kinds(self) -> frozenset[OrgKind]:
        return CATALOGUE[self].kinds


@dataclasses.dataclass(frozen=True)
class PermissionInfo:
    label: str
    description: str
    kinds: frozenset[OrgKind]
    # Held by an organisation's super admin by default. Session review is a separate job (SPEC §1's
    # anti-cheat reviewer): a bureau's super admin sees the queue but decides only when given the role.
    super_admin_holds: bool = True


CATALOGUE: dict[Permission, PermissionInfo] = {
    Permission.APPROVE_PEOPLE: PermissionInfo(
        "审核人员注册", "批量通过或驳回本单位专业技术人员的注册申请（35号文 二(二)）。", UNIT),
    Permission.APPROVE_ORGS: PermissionInfo(
        "审核下级单位注册", "通过或驳回直属下级主管部门、用人单位、继续教育基地的注册申请。", DEPARTMENT_AND_HR),
    Permission.MANAGE_PEOPLE: PermissionInfo(
        "人员管理", "查看本单位及下级单位的人员，停用、启用人员账号。", EVERY_ADMIN_KIND),
    Permission.IMPORT_PEOPLE: PermissionInfo(
        "批量导入人员", "用 Excel 模板批量注册本单位人员。", UNIT),
    Permission.RESET_PASSWORDS: PermissionInfo(
        "重置密码", "把人员密码重置为一次性临时密码，人员下次登录须修改。", EVERY_ADMIN_KIND),
    Permission.MANAGE_SUB_ORGS: PermissionInfo(
        "下级单位管理", "查看下级单位，停用、启用下级单位。", DEPARTMENT_AND_HR),
    Permission.CREATE_BUREAUS: PermissionInfo(
        "创建人社部门", "创建市（州）、县（市、区）人社部门账号（只有省人社厅）。", frozenset({OrgKind.PROVINCE_HR})),
    Permission.EDIT_ORG_SETTINGS: PermissionInfo(
        "单位设置", "设置下级单位的学时规则地区和第十四条审核方式。", HR_KINDS),
    Permission.MANAGE_ADMINS: PermissionInfo(
        "管理员管理", "添加、移除本单位管理员，建立角色并分配权限。", EVERY_ADMIN_KIND),
    Permission.REVIEW_DECLARATIONS: PermissionInfo(
        "学时审核", "审核轮到本单位的学时申报（学时管理办法第十四条）。", ADMINISTERING),
    Permission.VOID_DECLARATIONS: PermissionInfo(
        "认定弄虚作假", "把已备案的申报认定为弄虚作假，作废其当年学时（第二十一条）。", DEPARTMENT_AND_HR),
    Permission.GRANT_DEFERRALS: PermissionInfo(
        "顺延补学", "为因伤、病、孕等特殊原因未完成的人员办理顺延补学，逾期未补学的记录无正当理由未补学（第十七条）。",
        UNIT),
    Permission.HOST_ARCHIVES: PermissionInfo(
        "档案托管", "登记本机构托管档案的人员（人事档案管理服务机构）。", UNIT),
    Permission.TRANSFER_PEOPLE: PermissionInfo(
        "人员调转", "把本单位人员调出到省内另一单位，确认或拒绝调入本单位的人员（管理手册 5.1.6）。", UNIT),
    Permission.VIEW_STATISTICS: PermissionInfo(
        "统计查询", "查看本单位及下级的学时统计、人员进度。", EVERY_ADMIN_KIND),
    Permission.LOOKUP_CERTIFICATES: PermissionInfo(
        "证书查询", "查询、打印本单位及下级人员的电子证书。", ADMINISTERING),
    Permission.VIEW_FULL_ID_NUMBERS: PermissionInfo(
        "查看完整身份证号", "在列表和导出中看到完整的身份证号码（否则只显示首尾几位）。", ADMINISTERING),
    Permission.VIEW_AUDIT_LOG: PermissionInfo(
        "操作日志", "查看、导出本单位及下级管理员的操作日志。", EVERY_ADMIN_KIND),
    Permission.MANAGE_COURSES: PermissionInfo(
        "课程管理", "上传课件、设置标定学时、编写题库、发布课程。", BASE),
    Permission.VIEW_SESSIONS: PermissionInfo(
        "查看观看审核", "查看本辖区被挂起的观看记录及其证据（只读）。", HR_KINDS),
    Permission.REVIEW_SESSIONS: PermissionInfo(
        "防作弊审核", "对挂起的观看记录作出放行或作废的决定（SPEC §3）。", HR_KINDS, super_admin_holds=False),
    Permission.VIEW_SMS_DELIVERIES: PermissionInfo(
        "查看短信发送记录", "查看发给本单位及下级单位人员的消息短信及其发送状态（失败原因、重试次数）。",
        ADMINISTERING),
    Permission.PUBLISH_NOTICES: PermissionInfo(
        "发布通知公告", "向本单位及下级单位发布、修改、撤回通知公告（信息发布）。", DEPARTMENT_AND_HR),
    Permission.MANAGE_ADDRESSES: PermissionInfo(
        "单位网络地址", "登记本单位的出口网络地址（同一地址多人学习不作为作弊证据），审核直属下级单位的登记。",
        ADMINISTERING),
    Permission.EDIT_OWN_ORG: PermissionInfo(
        "本级机构信息", "修改本单位的地址和联系人（即时生效），申请修改名称、统一社会信用代码（上级审核，5.1.1.1）。",
        EVERY_ADMIN_KIND),
    Permission.REVIEW_ORG_CHANGES: PermissionInfo(
        "审核机构信息修改", "通过或驳回直属下级单位名称、统一社会信用代码的修改（5.1.4.2）。", DEPARTMENT_AND_HR),
    # A duty of its own rather than APPROVE_PEOPLE: the manual keeps registration review (5.1.3) and change
    # review (5.1.4) apart, so a unit may give them to different admins; the super admin holds both.
    Permission.REVIEW_PERSON_CHANGES: PermissionInfo(
        "审核人员信息修改", "通过或驳回本单位人员专业技术职务、职称、学历的修改申请（5.1.4.1）。", UNIT),
    Permission.CHANGE_PARENT: PermissionInfo(
        "更换上级部门", "申请把本单位挂到另一个上级部门之下，或撤回申请（管理手册 5.1.1.1）。", MOVABLE),
    Permission.REVIEW_PARENT_CHANGES: PermissionInfo(
        "审核更换上级部门", "作为原上级或新上级，同意或拒绝直属下级单位更换上级部门的申请（须双方同意）。",
        DEPARTMENT_AND_HR),
    Permission.MANAGE_DEPARTMENTS: PermissionInfo(
        "内设部门管理", "添加、改名、调整、删除本单位的内设部门，把本单位人员分到内设部门（管理手册 5.1.1.2）。",
        EVERY_ADMIN_KIND),
    Permission.DECLARE_TRAININGS: PermissionInfo(
        "培训申报", "申报本单位（基地）举办的培训及参训人员名单，审核通过后为每人计入学时（管理手册 5.2）。",
        frozenset({OrgKind.UNIT, OrgKind.BASE})),
    # HR bureaus keep the 职称评审诚信档案 (第二十一条); the department that found the declaration false sees it
    # on the declaration itself.
    Permission.VIEW_INTEGRITY_RECORDS: PermissionInfo(
        "查看诚信档案", "查看本辖区人员因学时申报弄虚作假记入的诚信档案（第二十一条，记录期限 3 年）。", HR_KINDS),
    Permission.SUBMIT_PLANS: PermissionInfo(
        "提交培训计划", "向主管部门提交年度培训计划、培训计划申报和年度工作总结，退回后修改重报（管理手册 5.1.5）。",
        BASE),
    Permission.REVIEW_PLANS: PermissionInfo(
        "审核培训计划",
        "审核下属继续教育基地的年度培训计划、培训计划申报和年度工作总结：通过、不通过或退回修改（5.1.5）。",
        DEPARTMENT_AND_HR),
    Permission.VET_COURSES: PermissionInfo(
        "课程审核", "审核下属继续教育基地发布的课程，通过后课程才进入学员的课程目录（学时管理办法第十五条）。",
        DEPARTMENT_AND_HR),
    Permission.SUBMIT_MATERIALS: PermissionInfo(
        "年度工作材料报送", "按年度向上级人社部门报送学习指南、工作通知等材料，修改和下载已报送的材料（5.3）。",
        frozenset({OrgKind.DEPARTMENT})),
    Permission.VIEW_MATERIALS: PermissionInfo(
        "查看年度工作材料", "查看、下载本辖区主管部门报送的年度工作材料，以及哪些主管部门尚未报送（5.3）。", HR_KINDS),
}

assert set(CATALOGUE) == set(Permission), "every permission needs its catalogue entry"


# Who sees the organisation tree: admins who work on organisations or people (not a pure session reviewer).
TREE_VIEWERS = (Permission.MANAGE_SUB_ORGS, Permission.MANAGE_PEOPLE, Permission.APPROVE_ORGS,
                Permission.APPROVE_PEOPLE, Permission.EDIT_ORG_SETTINGS, Permission.MANAGE_ADMINS)


def permissions_for_kind(kind: OrgKind) -> list[Permission]:
    """Return the permissions that exist for an organisation of this kind, in catalogue order."""
    return [p for p in Permission if kind in CATALOGUE[p].kinds]


def super_admin_permissions(kind: OrgKind) -> frozenset[Permission]:
    """Return what an organisation's super admin holds: every permission of its kind but separate duties."""
    return frozenset(p for p in permissions_for_kind(kind) if CATALOGUE[p].super_admin_holds)


def parse_permissions(raw, kind: OrgKind) -> tuple[frozenset[Permission], str | None]:
    """Parse a list of permission codes for a role of an organisation of ``kind``; return them or a problem."""
    if not isinstance(raw, list | tuple | set | frozenset):
        return frozenset(), "请选择角色的权限。"
    chosen = set()
    for code in raw:
        try:
            permission = Permission(str(code))
        except ValueError:
            return frozenset(), f"没有“{str(code)[:30]}”这项权限。"
        if kind not in permission.kinds:
            return frozenset(), f"“{permission.label}”不适用于{kind.label}。"
        chosen.add(permission)
    if not chosen:
        return frozenset(), "角色至少要有一项权限。"
    return frozenset(chosen), None
