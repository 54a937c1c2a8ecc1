"""JSON shapes of the organisation API (types only; rules in the service)."""

from __future__ import annotations

from marshmallow import Schema, fields


class OrgOut(Schema):
    id = fields.Integer()
    kind = fields.String(attribute="kind.value")
    kind_label = fields.String(attribute="kind.label")
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    status = fields.String(attribute="status.value")
    reject_reason = fields.String(allow_none=True)
    disabled = fields.Function(lambda org: org.disabled_at is not None)
    disabled_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class OrgRegistration(Schema):
    kind = fields.String(required=True, metadata={"description": "department / unit / base"})
    name = fields.String(required=True)
    credit_code = fields.String(required=True, metadata={"description": "统一社会信用代码（GB 32100）"})
    parent_id = fields.Integer(required=True)
    admin_login = fields.String(required=True)
    admin_name = fields.String(required=True)
    admin_phone = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class OrgResubmission(Schema):
    name = fields.String(required=True)
    credit_code = fields.String(required=True)
    parent_id = fields.Integer(required=True)


class BureauCreation(Schema):
    kind = fields.String(required=True, metadata={"description": "city_hr / county_hr"})
    name = fields.String(required=True)
    parent_id = fields.Integer(required=True)
    admin_login = fields.String(required=True)
    admin_name = fields.String(required=True)
    admin_phone = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class UnitQuery(Schema):
    q = fields.String(load_default=None)


class PermissionOut(Schema):
    code = fields.Function(lambda p: p.value)
    label = fields.Function(lambda p: p.label)


class RoleIn(Schema):
    name = fields.String(required=True)
    permissions = fields.List(fields.String(), required=True, metadata={"description": "权限代码，见 GET /permissions"})


class RoleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    permissions = fields.Function(lambda role: sorted(role.permission_set))


class AdminIn(Schema):
    method = fields.String(required=True, metadata={
        "description": "member（本单位人员）/ new（注册新人员）/ existing（系统中已有人员）"})
    role_id = fields.Integer(required=True)
    user_id = fields.Integer(load_default=None, metadata={"description": "member：本单位已通过审核的人员"})
    id_number = fields.String(load_default=None, metadata={"description": "new / existing"})
    name = fields.String(load_default=None, metadata={"description": "new / existing：须与身份证号码一致"})
    login = fields.String(load_default=None, metadata={"description": "new：登录账号"})
    phone = fields.String(load_default=None, metadata={"description": "new"})
    password = fields.String(load_default=None, load_only=True, metadata={"description": "new：初始密码"})


class AdminOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    is_super = fields.Boolean()
    role_id = fields.Integer(allow_none=True)
    role_name = fields.Function(lambda m: m.role.name if m.role else None)


class AdminRoleChange(Schema):
    role_id = fields.Integer(required=True)


class SuperHandOver(Schema):
    keep_role_id = fields.Integer(load_default=None, allow_none=True,
                                  metadata={"description": "移交后自己保留的角色；不填则不再是管理员"})


class Reason(Schema):
    reason = fields.String(required=True)


class TodoOut(Schema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()
    url = fields.String()


class AuditQuery(Schema):
    action = fields.String(load_default=None)
    actor = fields.String(load_default=None)
    since = fields.String(load_default=None)
    until = fields.String(load_default=None)
    page = fields.Integer(load_default=1)
    per_page = fields.Integer(load_default=50)


class AuditOut(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String()
    actor_role = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String(allow_none=True)
    object_label = fields.String()
    reason = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    ip_address = fields.String(allow_none=True)


class OrgBrief(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(attribute="kind.value")
    kind_label = fields.String(attribute="kind.label")


class ParentMoveIn(Schema):
    to_parent_id = fields.Integer(required=True,
                                  metadata={"description": "新的上级部门（见 GET /org/parent-moves/targets）"})
    note = fields.String(load_default=None, metadata={"description": "申请说明，最多 500 字"})


class ParentMoveOut(Schema):
    id = fields.Integer()
    org = fields.Nested(OrgBrief)
    from_parent = fields.Nested(OrgBrief)
    to_parent = fields.Nested(OrgBrief)
    status = fields.String(attribute="status.value")
    status_label = fields.String(attribute="status.label")
    note = fields.String(allow_none=True)
    requested_by = fields.Function(lambda m: m.requested_by.name)
    requested_at = fields.DateTime()
    old_approved_by = fields.Function(lambda m: m.old_approved_by.name if m.old_approved_by else None)
    old_approved_at = fields.DateTime(allow_none=True)
    new_approved_by = fields.Function(lambda m: m.new_approved_by.name if m.new_approved_by else None)
    new_approved_at = fields.DateTime(allow_none=True)
    closed_by = fields.Function(lambda m: m.closed_by.name if m.closed_by else None)
    closed_at = fields.DateTime(allow_none=True)
    refusal_reason = fields.String(allow_none=True)


class TargetQuery(Schema):
    q = fields.String(load_default="", metadata={"description": "统一社会信用代码或名称的一部分"})


class DepartmentOut(Schema):
    id = fields.Function(lambda node: node.department.id)
    name = fields.Function(lambda node: node.department.name)
    parent_id = fields.Function(lambda node: node.department.parent_id)
    position = fields.Function(lambda node: node.department.position)
    depth = fields.Integer()
    members = fields.Integer(metadata={"description": "直接分在本部门的人数（不含下级部门）"})
    children = fields.Integer()


class DepartmentIn(Schema):
    name = fields.String(required=True)
    parent_id = fields.Integer(load_default=None, allow_none=True,
                               metadata={"description": "上级内设部门；不填为一级部门"})
    position = fields.Integer(load_default=0, metadata={"description": "同级排序，小的在前"})


class DepartmentChange(Schema):
    name = fields.String()
    parent_id = fields.Integer(allow_none=True, metadata={"description": "null 移到一级"})
    position = fields.Integer()


class DepartmentRef(Schema):
    id = fields.Integer()
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    position = fields.Integer()


class DepartmentAssignment(Schema):
    department_id = fields.Integer(required=True, allow_none=True, metadata={"description": "null：不属于任何内设部门"})


class DepartmentAssignmentOut(Schema):
    user_id = fields.Integer()
    department_id = fields.Integer(allow_none=True)
