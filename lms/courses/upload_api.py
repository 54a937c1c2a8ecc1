"""JSON API for resumable multipart uploads of courseware videos (to be written: see issue #3)."""

from flask_smorest import Blueprint

blp = Blueprint("uploads_api", __name__, url_prefix="/api/v1", description="课件视频分片上传")
