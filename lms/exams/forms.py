"""Page forms of question banks, quiz settings and attempts (fields and CSRF only; rules in lms.exams.service)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from lms.exams.models import QuestionKind
from lms.exams.service import OPTION_LETTERS, SETTINGS, option_field


class QuestionForm(FlaskForm):
    kind = SelectField("题型", choices=[(k.value, k.label) for k in QuestionKind], validate_choice=False)
    prompt = TextAreaField("题干（最多 1000 字）")
    answer = StringField("正确答案（选项字母，如 A；多选题如 AC；判断题填“正确”或“错误”）")


for _index, _letter in enumerate(OPTION_LETTERS):
    setattr(QuestionForm, option_field(_index), StringField(f"选项{_letter}"))


class ImportForm(FlaskForm):
    file = FileField("题库文件（.xlsx）")


class SettingsForm(FlaskForm):
    draw_count = StringField(SETTINGS["draw_count"][0])
    pass_percent = StringField(SETTINGS["pass_percent"][0])
    time_limit_minutes = StringField(SETTINGS["time_limit_minutes"][0])
    max_attempts = StringField(SETTINGS["max_attempts"][0])
    wait_minutes = StringField(SETTINGS["wait_minutes"][0] + "（0 表示不限）")


class ActionForm(FlaskForm):
    """A button that changes something: open, close, delete, start, submit. Only CSRF to check."""
