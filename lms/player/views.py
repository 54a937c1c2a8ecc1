"""Delivery of courseware streams (to be written: see issue #3)."""

from flask import Blueprint

bp = Blueprint("player", __name__, template_folder="templates")
