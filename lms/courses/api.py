"""JSON API for courses, the catalogue and enrolment (to be written: see issue #3)."""

from flask_smorest import Blueprint

blp = Blueprint("courses_api", __name__, url_prefix="/api/v1", description="课程、目录与选课")
