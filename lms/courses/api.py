"""JSON API of courses: authoring for a base's admins, the catalogue and enrolment for learners, streams."""

from __future__ import annotations

from urllib.parse import urljoin

from flask import g, request, url_for
from flask_smorest import Blueprint

from lms.accounts.models import Role
from lms.core.api import page_body
from lms.core.auth import api_user
from lms.core.errors import NotAllowed
from lms.courses import schemas, service
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.player import service as player

blp = Blueprint("courses_api", __name__, url_prefix="/api/v1", description="课程、目录与选课")
BEARER = [{"bearer": []}]


# ------------------------------------------------------------------------------------------------ authoring


@blp.route("/base/courses", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.CourseOut(many=True))
@api_user(permission=Permission.MANAGE_COURSES)
def base_courses():
    """List the caller's base's courses, newest first."""
    return db.session.scalars(service.base_courses_query(g.api_user)).all()


@blp.route("/base/courses", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.CourseIn)
@blp.response(201, schemas.AuthoringCourseOut)
@api_user(permission=Permission.MANAGE_COURSES)
def create_course(body):
    """Create a draft course in the caller's base."""
    course = service.create_course(g.api_user, body)
    db.session.commit()
    return course


@blp.route("/base/courses/<int:course_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.AuthoringCourseOut)
@api_user(permission=Permission.MANAGE_COURSES)
def get_course(course_id: int):
    """Return a course of the caller's base with its coursewares, their media and what blocks publishing."""
    return service.course_for_author(g.api_user, course_id)


@blp.route("/base/courses/<int:course_id>", methods=["PATCH"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.CoursePatch)
@blp.response(200, schemas.AuthoringCourseOut)
@api_user(permission=Permission.MANAGE_COURSES)
def update_course(body, course_id: int):
    """Change a course's title or description; its category or year only while it is a draft."""
    course = service.update_course(g.api_user, course_id, body)
    db.session.commit()
    return course


@blp.route("/base/courses/<int:course_id>/coursewares", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.CoursewareIn)
@blp.response(201, schemas.AuthoringCoursewareOut)
@api_user(permission=Permission.MANAGE_COURSES)
def add_courseware(body, course_id: int):
    """Append a courseware to a draft course; upload its video next (``/api/v1/uploads``)."""
    courseware = service.add_courseware(g.api_user, course_id, body)
    db.session.commit()
    return courseware


@blp.route("/base/courses/<int:course_id>/coursewares/order", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.CoursewareOrder)
@blp.response(200, schemas.AuthoringCourseOut)
@api_user(permission=Permission.MANAGE_COURSES)
def reorder_coursewares(body, course_id: int):
    """Put a draft course's coursewares in the given order."""
    course = service.reorder_coursewares(g.api_user, course_id, body["ids"])
    db.session.commit()
    return course


@blp.route("/base/coursewares/<int:courseware_id>", methods=["PATCH"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.CoursewarePatch)
@blp.response(200, schemas.AuthoringCoursewareOut)
@api_user(permission=Permission.MANAGE_COURSES)
def update_courseware(body, courseware_id: int):
    """Change a courseware's title or labelled hours (draft courses; hours within the video's duration ÷ 45 min)."""
    courseware = service.update_courseware(g.api_user, courseware_id, body)
    db.session.commit()
    return courseware


@blp.route("/base/coursewares/<int:courseware_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@blp.response(204)
@api_user(permission=Permission.MANAGE_COURSES)
def remove_courseware(courseware_id: int):
    """Remove a courseware from a draft course."""
    service.remove_courseware(g.api_user, courseware_id)
    db.session.commit()


@blp.route("/base/courses/<int:course_id>/publish", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.AuthoringCourseOut)
@blp.alt_response(409, description="课程暂不能发布：error.fields 逐个课件说明原因")
@api_user(permission=Permission.MANAGE_COURSES)
def publish_course(course_id: int):
    """Publish a course once every courseware has a ready video that carries its labelled hours."""
    course = service.publish_course(g.api_user, course_id)
    db.session.commit()
    return course


@blp.route("/base/courses/<int:course_id>/withdraw", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.AuthoringCourseOut)
@api_user(permission=Permission.MANAGE_COURSES)
def withdraw_course(course_id: int):
    """Withdraw a published course from the catalogue; enrolled learners keep it."""
    course = service.withdraw_course(g.api_user, course_id)
    db.session.commit()
    return course


# ------------------------------------------------------------------------------------------------ learners


@blp.route("/catalogue", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.CatalogueQuery, location="query")
@blp.response(200, schemas.CataloguePage)
@api_user(Role.LEARNER)
def catalogue(args):
    """List published courses, filtered by category, year, base and keyword, one page at a time."""
    filters = service.parse_catalogue_filters(args)
    page = service.catalogue_page(g.api_user, filters)
    return page_body(page)


@blp.route("/catalogue/<int:course_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.LearnerCourseOut)
@api_user(Role.LEARNER)
def catalogue_course(course_id: int):
    """Return a course (published, or withdrawn but enrolled in) with its coursewares."""
    course = service.course_for_learner(g.api_user, course_id)
    return {"course": course, "coursewares": course.coursewares, "enrolled": service.is_enrolled(g.api_user, course)}


@blp.route("/courses/<int:course_id>/enrollment", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(201, schemas.EnrollmentOut)
@blp.alt_response(200, schema=schemas.EnrollmentOut, description="已选修过：没有任何改变")
@api_user(Role.LEARNER)
def enroll(course_id: int):
    """Enrol the caller in a published course; enrolling again is harmless and returns 200."""
    enrollment, created = service.enroll(g.api_user, course_id)
    db.session.commit()
    return enrollment, 201 if created else 200


@blp.route("/me/courses", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.EnrollmentOut(many=True))
@api_user(Role.LEARNER)
def my_courses():
    """List the caller's enrolments, withdrawn courses included."""
    return service.my_enrollments(g.api_user)


# ------------------------------------------------------------------------------------------------ streams


@blp.route("/coursewares/<int:courseware_id>/stream", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.StreamOut)
@api_user(Role.LEARNER, Role.BASE_ADMIN)
def stream(courseware_id: int):
    """Return where to play a courseware: its master playlist (send the same bearer token) and poster."""
    courseware = player.get_courseware(courseware_id)
    if not player.may_view(g.api_user, courseware):
        raise NotAllowed("无权播放该课件：请先选修该课程。")
    asset = player.playable_asset(courseware)
    return {
        "master_url": url_for("player.master", courseware_id=courseware.id, _external=True),
        # The local store's presigned URLs are relative to this app; an S3 server's are absolute already.
        "poster_url": urljoin(request.url_root, player.poster_url(asset)),
        "duration_s": asset.duration_s,
        "encrypted": asset.encrypted,
    }
