"""The origin a caching edge fetches segments from on a miss (``LMS_MEDIA_DELIVERY=edge``, lms/player/edge.py).

The edge has already checked the token; the origin checks it again, so that the origin is no open door when
reached directly. What it returns is immutable (a published version's path never changes content), so the
edge may keep it as long as it likes; the browser's copy is still governed by the token in its URL.
"""

from __future__ import annotations

import contextlib

from flask import Blueprint, Response, current_app, request, stream_with_context

from lms.core.storage import ObjectNotFound, StorageError, validate_key
from lms.core.storage_views import content_type_for
from lms.player import edge

bp = Blueprint("media_origin", __name__)

CHUNK_BYTES = 256 * 1024


@bp.get("/media/<path:rest>")
def segment(rest: str) -> Response:
    config = current_app.extensions["lms.config"]
    if config.media_delivery != "edge":
        return Response("未启用边缘分发。", status=404, mimetype="text/plain")
    key = edge.MEDIA_PREFIX + rest
    try:
        validate_key(key)
    except ValueError:
        return Response("文件不存在。", status=404, mimetype="text/plain")
    args = request.args
    if not edge.is_valid(edge.edge_path(key), args.get("u"), args.get("expires"), args.get("md5", ""),
                         config.media_edge_secret):
        return Response("视频链接无效或已过期，请返回页面重新打开。", status=403, mimetype="text/plain")
    store = current_app.extensions["lms.storage"]
    stack = contextlib.ExitStack()
    try:
        stream = stack.enter_context(store.open(key))
    except ObjectNotFound:
        return Response("文件不存在或已被删除。", status=404, mimetype="text/plain")
    except StorageError:
        return Response("视频存储暂时不可用，请稍后再试。", status=503, mimetype="text/plain")

    def body():
        with stack:
            while chunk := stream.read(CHUNK_BYTES):
                yield chunk

    response = Response(stream_with_context(body()), mimetype=content_type_for(key))
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
