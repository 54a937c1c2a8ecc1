"""Pages for course authoring (bases) and the catalogue (learners) (to be written: see issue #3)."""

from flask import Blueprint

bp = Blueprint("courses", __name__, template_folder="templates")
