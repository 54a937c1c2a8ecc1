"""JSON API for resumable multipart uploads of courseware videos.

A client starts an upload, asks where to PUT each part (a presigned S3 URL, or this application when
storage is a local folder), may ask at any time which parts are stored, and completes or cancels it.
Scripts authenticate with a bearer token; the browser's uploader with its session cookie plus the
page's CSRF token in an ``X-CSRFToken`` header.
"""

from __future__ import annotations

import functools

from flask import after_this_request, current_app, g, request, url_for
from flask_login import current_user
from flask_smorest import Blueprint
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from lms.core.auth import Unauthenticated, api_user
from lms.core.errors import NotAllowed
from lms.courses import upload_schemas as schemas
from lms.courses import uploads
from lms.extensions import csrf, db
from lms.orgs.access import require
from lms.orgs.permissions import Permission

blp = Blueprint("uploads_api", __name__, url_prefix="/api/v1", description="课件视频分片上传")
SECURITY = [{"bearer": []}]
CSRF_HEADER = "X-CSRFToken"


def bearer_or_session_user(permission: Permission):
    """Decorate an API view: a bearer token, or a logged-in session whose request carries a valid CSRF header."""

    def decorator(view):
        bearer_view = api_user(permission=permission)(view)

        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if request.headers.get("Authorization"):
                return bearer_view(*args, **kwargs)
            if not current_user.is_authenticated:
                raise Unauthenticated("请先登录：在页面中登录，或在 Authorization 头中提供 Bearer 令牌。")
            _check_csrf_header()
            if not current_user.is_approved:
                raise NotAllowed("账号尚未通过审核，暂不能进行此操作。")
            require(current_user, permission)
            g.api_user = current_user._get_current_object()
            after_this_request(_send_fresh_csrf_token)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _check_csrf_header() -> None:
    # A cookie alone proves nothing: another site's page can make the browser send it.
    try:
        validate_csrf(request.headers.get(CSRF_HEADER))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None


def _send_fresh_csrf_token(response):
    # A page's token expires after an hour; a long upload keeps going with the fresh one of each answer.
    response.headers[CSRF_HEADER] = generate_csrf()
    return response


@blp.route("/uploads", methods=["POST"])
@csrf.exempt
@blp.doc(security=SECURITY)
@blp.response(201, schemas.UploadStarted)
@blp.alt_response(403, description="不是该课程所属基地的管理员")
@blp.alt_response(422, description="文件不是视频，或大小超出范围")
@bearer_or_session_user(Permission.MANAGE_COURSES)
@blp.arguments(schemas.UploadStart)
def start_upload(body):
    """Start uploading a courseware's video; returns the part size and how many parts to send."""
    asset = uploads.start_upload(g.api_user, body["courseware_id"], body["filename"], body["size"],
                                 body["content_type"])
    db.session.commit()
    return {"id": asset.id, "part_size": asset.part_size, "part_count": uploads.part_count(asset),
            "status": asset.status}


@blp.route("/uploads/<int:asset_id>", methods=["GET"])
@csrf.exempt
@blp.doc(security=SECURITY)
@blp.response(200, schemas.UploadStatus)
@bearer_or_session_user(Permission.MANAGE_COURSES)
def upload_status(asset_id: int):
    """Return the upload's state and the parts already stored (to resume, send only the others)."""
    return uploads.upload_status(g.api_user, asset_id)


@blp.route("/uploads/<int:asset_id>/parts/<int:part_number>", methods=["GET"])
@csrf.exempt
@blp.doc(security=SECURITY)
@blp.response(200, schemas.PartTarget)
@bearer_or_session_user(Permission.MANAGE_COURSES)
def part_target(asset_id: int, part_number: int):
    """Return the URL to PUT one part's bytes to, valid for a few minutes."""
    target = uploads.part_target(g.api_user, asset_id, part_number)
    target["same_origin"] = target["url"] is None
    if target["same_origin"]:
        target["url"] = url_for("uploads_api.put_part", asset_id=asset_id, part_number=part_number)
    return target


@blp.route("/uploads/<int:asset_id>/parts/<int:part_number>", methods=["PUT"], endpoint="put_part")
@csrf.exempt
@blp.doc(security=SECURITY, requestBody={
    "required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
})
@blp.response(200, schemas.PartStored)
@blp.alt_response(409, description="存储为 S3：分片应 PUT 到预签名地址")
@blp.alt_response(411, description="缺少 Content-Length")
@bearer_or_session_user(Permission.MANAGE_COURSES)
def put_part(asset_id: int, part_number: int):
    """Store one part sent as the raw request body (only when storage is a local folder)."""
    # MAX_CONTENT_LENGTH (4 MiB) is for forms and JSON; a part streams to disk in 1 MiB chunks, and the
    # service holds it to the exact length it must have.
    request.max_content_length = uploads.max_part_length(current_app.extensions["lms.config"])
    return uploads.receive_part(g.api_user, asset_id, part_number, request.stream, request.content_length)


@blp.route("/uploads/<int:asset_id>/complete", methods=["POST"])
@csrf.exempt
@blp.doc(security=SECURITY)
@blp.response(200, schemas.UploadStatus)
@blp.alt_response(409, description="还有分片未上传，或已完成")
@bearer_or_session_user(Permission.MANAGE_COURSES)
def complete_upload(asset_id: int):
    """Join the parts into the original video and queue it for transcoding."""
    uploads.complete_upload(g.api_user, asset_id)
    db.session.commit()
    return uploads.upload_status(g.api_user, asset_id)


@blp.route("/uploads/<int:asset_id>", methods=["DELETE"], endpoint="abort_upload")
@csrf.exempt
@blp.doc(security=SECURITY)
@blp.response(204)
@bearer_or_session_user(Permission.MANAGE_COURSES)
def abort_upload(asset_id: int):
    """Cancel an unfinished upload and discard its parts."""
    uploads.abort_upload(g.api_user, asset_id)
    db.session.commit()
