"""Page forms. They carry CSRF and the fields; the rules live in the services, whose messages
are attached back to the fields by ``attach_errors``."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired

from lms.accounts.title_series import EDUCATION_LEVELS, TITLE_LEVELS, TITLE_SERIES
from lms.core.errors import InvalidInput, ServiceError
from lms.extensions import db

LEVEL_CHOICES = [("", "未评定")] + [(s, s) for s in TITLE_LEVELS]
EDUCATION_CHOICES = [("", "未填写")] + [(s, s) for s in EDUCATION_LEVELS]


class LoginForm(FlaskForm):
    login = StringField("身份证号码 / 管理员账号")
    password = PasswordField("密码")


class PersonFields(FlaskForm):
    name = StringField("姓名")
    phone = StringField("手机号码")
    unit_id = SelectField("工作单位", coerce=str, validate_choice=False)
    title_series = SelectField("职称系列", choices=[("", "请选择")] + [(s, s) for s in TITLE_SERIES],
                               validate_choice=False)
    professional_post = StringField("专业技术岗位")
    title_level = SelectField("职称级别", choices=LEVEL_CHOICES, validate_choice=False)
    education = SelectField("学历", choices=EDUCATION_CHOICES, validate_choice=False)


class LearnerRegistrationForm(PersonFields):
    id_number = StringField("身份证号码（登录账号）")
    password = PasswordField("密码（8–64 位，含字母和数字）")
    password_confirm = PasswordField("确认密码", validators=[InputRequired(message="请再次输入密码。"),
                                                          EqualTo("password", message="两次输入的密码不一致。")])


class ResubmitForm(PersonFields):
    pass


class PersonChangeForm(FlaskForm):
    """The reviewed personal fields a learner asks to change (人员信息修改)."""

    professional_post = StringField("专业技术职务")
    title_series = SelectField("职称系列", choices=[(s, s) for s in TITLE_SERIES], validate_choice=False)
    title_level = SelectField("职称级别", choices=LEVEL_CHOICES, validate_choice=False)
    education = SelectField("学历", choices=EDUCATION_CHOICES, validate_choice=False)


class PhoneForm(FlaskForm):
    phone = StringField("新手机号码")


class PasswordForm(FlaskForm):
    old_password = PasswordField("原密码")
    new_password = PasswordField("新密码（8–64 位，含字母和数字）")
    new_password_confirm = PasswordField("确认新密码",
                                         validators=[EqualTo("new_password", message="两次输入的新密码不一致。")])


class ForgotPasswordForm(FlaskForm):
    login = StringField("身份证号码 / 管理员账号")
    phone = StringField("注册时填写的手机号码")


class CodeResetForm(FlaskForm):
    login = HiddenField()
    phone = HiddenField()
    code = StringField("短信验证码（6 位数字）")
    new_password = PasswordField("新密码（8–64 位，含字母和数字）")
    new_password_confirm = PasswordField("确认新密码",
                                         validators=[EqualTo("new_password", message="两次输入的新密码不一致。")])


class DecisionForm(FlaskForm):
    decision = SelectField("审核结果", choices=[("approve", "通过"), ("reject", "不通过")], validate_choice=False)
    reason = StringField("原因（不通过时必填，申请人可见）")


def attach_errors(form: FlaskForm, error: InvalidInput) -> list[str]:
    """Put a service's field messages on the form's fields; return those that match no field."""
    unmatched = []
    for field_name, message in error.fields.items():
        field = getattr(form, field_name, None)
        if field is None:
            unmatched.append(message)
        else:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
    return unmatched


def show_refusal(form: FlaskForm | None, error: ServiceError) -> None:
    """Undo the request's changes and show a service's refusal: field messages beside the form's fields,
    anything else as a flash message."""
    db.session.rollback()
    if isinstance(error, InvalidInput) and form is not None:
        for message in attach_errors(form, error):
            flash(message, "error")
    else:
        flash(error.message, "error")
