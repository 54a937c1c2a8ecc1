"""Page forms of declarations. The kind's own fields are drawn from the rule set's fact schema in the template
(``fact-<id>`` inputs) so that a new province is data; these classes carry CSRF and the fixed fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from lms.declarations.models import DeferralReason


class CsrfForm(FlaskForm):
    """A form whose only check is CSRF (decisions, voiding); its fields are read by the service."""


class DeferralForm(FlaskForm):
    learner_id = SelectField("人员", coerce=str, validate_choice=False)
    year = StringField("顺延的年度")
    reason_kind = SelectField("原因", choices=[("", "请选择")] + [(r.value, r.label) for r in DeferralReason],
                              validate_choice=False)
    reason = TextAreaField("单位证明的情况说明（其他特殊原因须写明是什么原因）")
    ends_on = StringField("顺延截止日期（如 2027-06-30；最长至该年度结束后 12 个月）")


class ArchiveHostingForm(FlaskForm):
    id_number = StringField("身份证号码")
    name = StringField("姓名（须与注册信息一致）")
