"""JSON shapes of the courses API (types only; the rules, and their messages, are in the service)."""

from __future__ import annotations

from marshmallow import Schema, fields

from lms.core.api import page_schema

_HOURS = {"description": "标定学时：大于 0，以 0.1 为单位（数字或字符串，如 1.5）；不超过视频时长 ÷ 45 分钟"}


class CourseIn(Schema):
    category = fields.String(required=True, metadata={"description": "public（公需科目）/ professional（专业科目）"})
    year = fields.Raw(required=True, metadata={"description": "年度：当年或前后一年"})
    title = fields.String(required=True, metadata={"description": "最多 100 字"})
    description = fields.String(load_default="", metadata={"description": "最多 2000 字"})


class CoursePatch(Schema):
    category = fields.String(metadata={"description": "仅草稿可改"})
    year = fields.Raw(metadata={"description": "仅草稿可改"})
    title = fields.String()
    description = fields.String()


class CoursewareIn(Schema):
    title = fields.String(required=True)
    labelled_hours = fields.Raw(required=True, metadata=_HOURS)


class CoursewarePatch(Schema):
    title = fields.String()
    labelled_hours = fields.Raw(metadata=_HOURS)


class CoursewareOrder(Schema):
    ids = fields.List(fields.Integer(), required=True, metadata={"description": "本课程全部课件的编号，按新顺序"})


class MediaOut(Schema):
    id = fields.Integer()
    status = fields.String(attribute="status.value")
    status_label = fields.String(attribute="status.label")
    progress_percent = fields.Integer()
    error_message = fields.String(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    max_labelled_hours = fields.Decimal(as_string=True, allow_none=True)
    encrypted = fields.Boolean()


class CoursewareOut(Schema):
    id = fields.Integer()
    position = fields.Integer()
    title = fields.String()
    labelled_hours = fields.Decimal(as_string=True)
    media = fields.Nested(MediaOut, allow_none=True)


class AuthoringCoursewareOut(CoursewareOut):
    problem = fields.Method("_problem", metadata={"description": "发布前需要解决的问题；为空表示可发布"})

    def _problem(self, courseware):
        from lms.courses.service import courseware_problem

        return courseware_problem(courseware)


class CourseOut(Schema):
    id = fields.Integer()
    base_id = fields.Integer()
    base_name = fields.String(attribute="base.name")
    category = fields.String(attribute="category.value")
    category_label = fields.String(attribute="category.label")
    year = fields.Integer()
    title = fields.String()
    description = fields.String()
    state = fields.String(attribute="state.value")
    state_label = fields.String(attribute="state.label")
    published_at = fields.DateTime(allow_none=True)
    labelled_hours = fields.Decimal(as_string=True, metadata={"description": "课程总学时（各课件标定学时之和）"})
    courseware_count = fields.Function(lambda course: len(course.coursewares))


class AuthoringCourseOut(CourseOut):
    coursewares = fields.List(fields.Nested(AuthoringCoursewareOut))


class LearnerCourseOut(Schema):
    course = fields.Nested(CourseOut)
    coursewares = fields.List(fields.Nested(CoursewareOut(exclude=("media",))))
    enrolled = fields.Boolean(metadata={"description": "是否已选修；已选修的学员才能播放课件"})


class CatalogueQuery(Schema):
    category = fields.String(load_default=None, metadata={"description": "public / professional"})
    year = fields.String(load_default=None)
    base_id = fields.String(load_default=None)
    q = fields.String(load_default=None, metadata={"description": "关键词（课程名称或简介）"})
    page = fields.String(load_default=None)
    per_page = fields.String(load_default=None, metadata={"description": "每页条数，最多 50，默认 20"})


CataloguePage = page_schema(CourseOut, "CataloguePage")


class EnrollmentOut(Schema):
    course_id = fields.Integer()
    created_at = fields.DateTime()
    course = fields.Nested(CourseOut)


class StreamOut(Schema):
    master_url = fields.String(metadata={"description": "主播放列表；用同一登录会话或 Bearer 令牌获取"})
    poster_url = fields.String(metadata={"description": "封面图（短期有效的签名地址）"})
    duration_s = fields.Float()
    encrypted = fields.Boolean()
