"""Pages of courses: authoring for a base's admins, the catalogue, enrolment and "my courses" for learners."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from lms.accounts.forms import show_refusal
from lms.accounts.models import Role
from lms.core.auth import page_user
from lms.core.errors import ServiceError
from lms.courses import service
from lms.courses.forms import ActionForm, CourseForm, CoursewareForm, MoveForm
from lms.courses.models import Category, CourseState, Enrollment, MediaStatus
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.plans import vetting

bp = Blueprint("courses", __name__, template_folder="templates")

STATUS_LABELS = {s.value: s.label for s in MediaStatus}


def _require_action_form() -> bool:
    if ActionForm().validate_on_submit():
        return True
    flash("页面已过期，请刷新后重试。", "error")
    return False


# ------------------------------------------------------------------------------------------------ authoring


def _fill_year_choices(form: CourseForm, existing: int | None = None) -> None:
    form.year.choices = [(str(y), f"{y} 年") for y in service.year_choices(existing)]


@bp.get("/base/courses")
@page_user(permission=Permission.MANAGE_COURSES)
def base_courses():
    """List the base's courses with their state and hours."""
    courses = db.session.scalars(service.base_courses_query(current_user)).all()
    return render_template("courses/base_courses.html", courses=courses)


@bp.route("/base/courses/new", methods=["GET", "POST"])
@page_user(permission=Permission.MANAGE_COURSES)
def new_course():
    """Create a draft course."""
    form = CourseForm()
    _fill_year_choices(form)
    if request.method == "GET":
        form.year.data = str(service.current_year())
    if form.validate_on_submit():
        try:
            course = service.create_course(current_user, form.data)
            db.session.commit()
        except ServiceError as error:
            show_refusal(form, error)
            return render_template("courses/course_form.html", form=form, course=None), error.status
        flash("课程已创建（草稿）。下一步：添加课件并上传视频。", "success")
        return redirect(url_for("courses.course_page", course_id=course.id))
    return render_template("courses/course_form.html", form=form, course=None), 422 if form.errors else 200


@bp.route("/base/courses/<int:course_id>/edit", methods=["GET", "POST"])
@page_user(permission=Permission.MANAGE_COURSES)
def edit_course(course_id: int):
    """Edit a course: title and description always, category and year only while it is a draft."""
    course = service.course_for_author(current_user, course_id)
    form = CourseForm(obj=course if request.method == "GET" else None)
    _fill_year_choices(form, course.year)
    if request.method == "GET":
        form.category.data, form.year.data = course.category.value, str(course.year)
    if form.validate_on_submit():
        try:
            # A published course's form has no category and year fields: change only what was submitted.
            submitted = {name: value for name, value in form.data.items() if name in request.form}
            service.update_course(current_user, course.id, submitted)
            db.session.commit()
        except ServiceError as error:
            show_refusal(form, error)
            course = service.course_for_author(current_user, course_id)
            return render_template("courses/course_form.html", form=form, course=course), error.status
        flash("课程信息已保存。", "success")
        return redirect(url_for("courses.course_page", course_id=course.id))
    return render_template("courses/course_form.html", form=form, course=course), 422 if form.errors else 200


def _render_course(course, add_form: CoursewareForm | None = None, status: int = 200):
    return render_template(
        "courses/course_admin.html", course=course, add_form=add_form or CoursewareForm(formdata=None),
        problems=service.publish_problems(course), states={s["courseware_id"]: s for s in service.media_states(course)},
        status_labels=STATUS_LABELS, max_hours=service.max_hours_of_any_video(), vetting=vetting.vetting_of(course),
    ), status


@bp.get("/base/courses/<int:course_id>")
@page_user(permission=Permission.MANAGE_COURSES)
def course_page(course_id: int):
    """Show a course with its coursewares, their videos' live processing status and the upload forms."""
    return _render_course(service.course_for_author(current_user, course_id))


@bp.get("/base/courses/<int:course_id>/media.json")
@page_user(permission=Permission.MANAGE_COURSES)
def media_status(course_id: int):
    """Return each courseware's media status, for the course page to catch up after (re)connecting."""
    course = service.course_for_author(current_user, course_id)
    response = jsonify(coursewares=service.media_states(course), can_publish=not service.publish_problems(course))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/base/courses/<int:course_id>/coursewares")
@page_user(permission=Permission.MANAGE_COURSES)
def add_courseware(course_id: int):
    """Add a courseware to a draft course."""
    form = CoursewareForm()
    if not form.validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("courses.course_page", course_id=course_id))
    try:
        courseware = service.add_courseware(current_user, course_id, form.data)
        db.session.commit()
    except ServiceError as error:
        show_refusal(form, error)
        return _render_course(service.course_for_author(current_user, course_id), form, error.status)
    flash(f"已添加课件“{courseware.title}”，请为它上传视频。", "success")
    return redirect(url_for("courses.course_page", course_id=course_id, _anchor=f"courseware-{courseware.id}"))


@bp.route("/base/coursewares/<int:courseware_id>/edit", methods=["GET", "POST"])
@page_user(permission=Permission.MANAGE_COURSES)
def edit_courseware(courseware_id: int):
    """Change a courseware's title or labelled hours (draft courses only)."""
    courseware = service.courseware_for_author(current_user, courseware_id)
    form = CoursewareForm(obj=courseware if request.method == "GET" else None)
    if request.method == "GET":
        form.labelled_hours.data = str(courseware.labelled_hours)
    if form.validate_on_submit():
        try:
            service.update_courseware(current_user, courseware_id, form.data)
            db.session.commit()
        except ServiceError as error:
            show_refusal(form, error)
            courseware = service.courseware_for_author(current_user, courseware_id)
            return render_template("courses/courseware_form.html", form=form, courseware=courseware), error.status
        flash("课件已保存。", "success")
        return redirect(url_for("courses.course_page", course_id=courseware.course_id,
                                _anchor=f"courseware-{courseware.id}"))
    return render_template("courses/courseware_form.html", form=form, courseware=courseware), \
        422 if form.errors else 200


@bp.post("/base/coursewares/<int:courseware_id>/move")
@page_user(permission=Permission.MANAGE_COURSES)
def move_courseware(courseware_id: int):
    """Move a courseware one place up or down."""
    courseware = service.courseware_for_author(current_user, courseware_id)
    course_id = courseware.course_id
    form = MoveForm()
    if form.validate_on_submit():
        try:
            service.move_courseware(current_user, courseware_id, form.direction.data)
            db.session.commit()
        except ServiceError as error:
            show_refusal(None, error)
    else:
        flash("页面已过期，请刷新后重试。", "error")
    return redirect(url_for("courses.course_page", course_id=course_id, _anchor=f"courseware-{courseware_id}"))


@bp.post("/base/coursewares/<int:courseware_id>/remove")
@page_user(permission=Permission.MANAGE_COURSES)
def remove_courseware(courseware_id: int):
    """Remove a courseware from a draft course."""
    courseware = service.courseware_for_author(current_user, courseware_id)
    course_id, title = courseware.course_id, courseware.title
    if _require_action_form():
        try:
            service.remove_courseware(current_user, courseware_id)
            db.session.commit()
            flash(f"已删除课件“{title}”。", "success")
        except ServiceError as error:
            show_refusal(None, error)
    return redirect(url_for("courses.course_page", course_id=course_id))


@bp.post("/base/courses/<int:course_id>/publish")
@page_user(permission=Permission.MANAGE_COURSES)
def publish(course_id: int):
    """Publish the course to the catalogue, or say what still has to be fixed."""
    if _require_action_form():
        try:
            course = service.publish_course(current_user, course_id)
            db.session.commit()
        except ServiceError as error:
            show_refusal(None, error)
            return _render_course(service.course_for_author(current_user, course_id), status=error.status)
        if vetting.is_listed(course):
            flash("课程已发布，学员现在可以在课程目录中选课。", "success")
        else:  # 第十五条: the competent department vets it first (lms/plans/vetting.py)
            flash("课程已发布，已提交主管部门审核；审核通过后学员即可在课程目录中选课。", "success")
    return redirect(url_for("courses.course_page", course_id=course_id))


@bp.post("/base/courses/<int:course_id>/withdraw")
@page_user(permission=Permission.MANAGE_COURSES)
def withdraw(course_id: int):
    """Withdraw the course from the catalogue; enrolled learners keep it."""
    if _require_action_form():
        try:
            service.withdraw_course(current_user, course_id)
            db.session.commit()
        except ServiceError as error:
            show_refusal(None, error)
            return _render_course(service.course_for_author(current_user, course_id), status=error.status)
        flash("课程已下架：不再出现在课程目录中，已选课的学员仍可继续学习。", "success")
    return redirect(url_for("courses.course_page", course_id=course_id))


# ------------------------------------------------------------------------------------------------ learners


def _enrolled_ids(course_ids) -> set[int]:
    if not course_ids:
        return set()
    return set(db.session.scalars(sa.select(Enrollment.course_id).where(
        Enrollment.user_id == current_user.id, Enrollment.course_id.in_(course_ids))))


@bp.get("/courses")
@page_user(Role.LEARNER)
def catalogue():
    """Browse published courses by category, year, base and keyword."""
    filters = service.parse_catalogue_filters(request.args)
    page = service.catalogue_page(current_user, filters)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "courses/catalogue.html", page=page, filters=filters, args=args, categories=list(Category),
        years=service.catalogue_years(), bases=service.catalogue_bases(),
        enrolled=_enrolled_ids([c.id for c in page.items]),
    )


@bp.get("/courses/<int:course_id>")
@page_user(Role.LEARNER)
def course_detail(course_id: int):
    """Show a course's coursewares and hours, with enrolment or, once enrolled, links to play."""
    course = service.course_for_learner(current_user, course_id)
    return render_template("courses/course_detail.html", course=course,
                           enrolled=service.is_enrolled(current_user, course))


@bp.post("/courses/<int:course_id>/enroll")
@page_user(Role.LEARNER)
def enroll(course_id: int):
    """Enrol in a course; doing it twice is harmless."""
    if _require_action_form():
        _enrollment, created = service.enroll(current_user, course_id)
        db.session.commit()
        flash("选课成功，现在可以开始学习。" if created else "您已选修该课程。", "success")
    return redirect(url_for("courses.course_detail", course_id=course_id))


@bp.get("/my/courses")
@page_user(Role.LEARNER)
def my_courses():
    """List the learner's courses, withdrawn ones included."""
    return render_template("courses/my_courses.html", enrollments=service.my_enrollments(current_user),
                           withdrawn=CourseState.WITHDRAWN)
