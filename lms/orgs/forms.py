"""Page forms of the organisation tree (fields only; rules in lms.orgs.service)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo

from lms.orgs.models import SELF_REGISTERING_KINDS, OrgKind


class AdminAccountFields(FlaskForm):
    admin_login = StringField("管理员账号（4–40 位字母、数字）")
    admin_name = StringField("管理员姓名")
    admin_phone = StringField("管理员手机号码")
    password = PasswordField("密码（8–64 位，含字母和数字）")
    password_confirm = PasswordField("确认密码", validators=[EqualTo("password", message="两次输入的密码不一致。")])


class OrgRegistrationForm(AdminAccountFields):
    kind = SelectField("单位类型", choices=[(k.value, k.label) for k in SELF_REGISTERING_KINDS],
                       validate_choice=False)
    name = StringField("单位名称")
    credit_code = StringField("统一社会信用代码")
    parent_id = SelectField("上级单位", coerce=str, validate_choice=False)


class OrgResubmitForm(FlaskForm):
    name = StringField("单位名称")
    credit_code = StringField("统一社会信用代码")
    parent_id = SelectField("上级单位", coerce=str, validate_choice=False)


class BureauForm(AdminAccountFields):
    kind = SelectField("类型", choices=[(OrgKind.CITY_HR.value, OrgKind.CITY_HR.label),
                                        (OrgKind.COUNTY_HR.value, OrgKind.COUNTY_HR.label)], validate_choice=False)
    name = StringField("单位名称")
    parent_id = SelectField("上级人社部门", coerce=str, validate_choice=False)


class OrgSettingsForm(FlaskForm):
    region = SelectField("学时规则地区", coerce=str, validate_choice=False)
    archive_agency = BooleanField("人事档案管理服务机构（初审在本机构托管档案人员的学时）")
    reviews_own_hours = BooleanField("中央在鄂单位（自行审核本单位人员的学时，不再复审）")
