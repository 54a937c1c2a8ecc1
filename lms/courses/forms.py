"""Page forms of course authoring and the catalogue (fields and CSRF only; rules in lms.courses.service)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from lms.courses.models import Category


class CourseForm(FlaskForm):
    category = SelectField("课程类别", choices=[(c.value, c.label) for c in Category], validate_choice=False)
    year = SelectField("年度", coerce=str, validate_choice=False)
    title = StringField("课程名称（最多 100 字）")
    description = TextAreaField("课程简介（最多 2000 字）")


class CoursewareForm(FlaskForm):
    title = StringField("课件名称（最多 100 字）")
    labelled_hours = StringField("标定学时（以 0.1 学时为单位；每学时对应不少于 45 分钟视频）")


class MoveForm(FlaskForm):
    direction = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes something: publish, withdraw, remove, enrol. Only CSRF to check."""
