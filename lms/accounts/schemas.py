"""JSON shapes of the accounts API (types only; the rules are checked by the service)."""

from __future__ import annotations

from marshmallow import Schema, fields

from lms.core.api import page_schema


class TokenRequest(Schema):
    login = fields.String(required=True, metadata={"description": "身份证号码（专技人员）或管理员账号"})
    password = fields.String(required=True, load_only=True)


class Token(Schema):
    token = fields.String(metadata={"description": "Bearer 令牌，12 小时内有效；修改密码后失效"})
    expires_in = fields.Integer()


class LearnerRegistration(Schema):
    id_number = fields.String(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True)
    unit_id = fields.Integer(required=True)
    title_series = fields.String(required=True)
    professional_post = fields.String(required=True)
    title_level = fields.String(load_default=None, allow_none=True,
                                metadata={"description": "正高级、副高级、中级、初级（可不填）"})
    education = fields.String(load_default=None, allow_none=True, metadata={"description": "学历（可不填）"})
    password = fields.String(required=True, load_only=True)


class LearnerResubmission(Schema):
    name = fields.String(required=True)
    phone = fields.String(required=True)
    unit_id = fields.Integer(required=True)
    title_series = fields.String(required=True)
    professional_post = fields.String(required=True)
    title_level = fields.String(load_default=None, allow_none=True)
    education = fields.String(load_default=None, allow_none=True)


class PasswordChange(Schema):
    old_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, load_only=True)


class ResetCodeRequest(Schema):
    login = fields.String(required=True, metadata={"description": "身份证号码（专技人员）或管理员账号"})
    phone = fields.String(required=True, metadata={"description": "注册时填写的手机号码"})


class CodeReset(ResetCodeRequest):
    code = fields.String(required=True, load_only=True, metadata={"description": "短信中的 6 位验证码"})
    new_password = fields.String(required=True, load_only=True)


class Message(Schema):
    message = fields.String()


class AdminPasswordReset(Schema):
    password = fields.String(load_default=None, allow_none=True, load_only=True,
                             metadata={"description": "管理员指定的临时密码；不填则由系统生成"})


class Decision(Schema):
    ids = fields.List(fields.Integer(), required=True)
    approve = fields.Boolean(required=True)
    reason = fields.String(load_default=None, allow_none=True)


class Person(Schema):
    """A person as an admin sees them: ID and phone masked."""

    id = fields.Integer()
    name = fields.String()
    role = fields.String(attribute="role.value")
    org_id = fields.Integer()
    org_name = fields.String(attribute="org.name")
    id_number = fields.String(attribute="masked_id_number")
    phone = fields.String(attribute="masked_phone")
    title_series = fields.String()
    professional_post = fields.String()
    title_level = fields.String(allow_none=True)
    education = fields.String(allow_none=True)
    disabled = fields.Function(lambda user: user.disabled_at is not None)
    disabled_reason = fields.String()
    status = fields.String(attribute="status.value")
    reject_reason = fields.String()
    created_at = fields.DateTime()


class Me(Person):
    """The caller's own account: their own numbers in full."""

    login = fields.String()
    id_number = fields.String()
    phone = fields.String()
    approved = fields.Boolean(attribute="is_approved")
    must_change_password = fields.Boolean(metadata={"description": "管理员重置了密码：须先修改密码"})


class PasswordResetDone(Schema):
    person = fields.Nested(Person)
    temporary_password = fields.String(metadata={"description": "临时密码，只返回这一次"})
    generated = fields.Boolean(metadata={"description": "临时密码是否由系统生成"})


class ListQuery(Schema):
    """The filters every admin queue shares (lms.core.queues.ListFilters)."""

    name = fields.String(load_default=None)
    id_suffix = fields.String(load_default=None, metadata={"description": "身份证号码后 4–6 位"})
    since = fields.String(load_default=None, metadata={"description": "提交日期起（YYYY-MM-DD）"})
    until = fields.String(load_default=None, metadata={"description": "提交日期止（YYYY-MM-DD）"})
    page = fields.Integer(load_default=1)
    per_page = fields.Integer(load_default=200)


class PeopleQuery(Schema):
    status = fields.String(load_default=None, metadata={"description": "pending、approved、rejected 或 disabled"})
    name = fields.String(load_default=None)
    id_suffix = fields.String(load_default=None, metadata={"description": "身份证号码后 4–6 位"})
    org_id = fields.Integer(load_default=None, metadata={"description": "只看这个下级单位及其下级"})
    department_id = fields.Integer(load_default=None, metadata={"description": "只看这个内设部门及其下级部门的人员"})
    since = fields.String(load_default=None, metadata={"description": "注册日期起（YYYY-MM-DD）"})
    until = fields.String(load_default=None, metadata={"description": "注册日期止（YYYY-MM-DD）"})
    page = fields.Integer(load_default=1)
    per_page = fields.Integer(load_default=50)


PeoplePage = page_schema(Person, "PeoplePage")


class StaffImportResult(Schema):
    imported = fields.Integer(metadata={"description": "导入的人数"})
    org_id = fields.Integer()
    org_name = fields.String()
