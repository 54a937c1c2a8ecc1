"""Serve local-folder objects to browsers through the URLs that ``LocalFolderObjectStore.presign_get`` signs."""

from __future__ import annotations

import mimetypes
import time

from flask import Blueprint, Response, abort, current_app, request, send_file

from lms.core.storage import LocalFolderObjectStore

storage_bp = Blueprint("storage", __name__, url_prefix="/storage")

# mimetypes maps .ts to Qt translation files; these are the types the media pipeline writes.
_MEDIA_TYPES = {
    ".ts": "video/mp2t",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".key": "application/octet-stream",
}


def content_type_for(key: str) -> str:
    """Return the Content-Type a browser needs for the object, judged by the key's extension."""
    dot = key.rfind(".")
    extension = key[dot:].lower() if dot > key.rfind("/") else ""
    return _MEDIA_TYPES.get(extension) or mimetypes.guess_type(key)[0] or "application/octet-stream"


@storage_bp.get("/<path:key>")
def download(key: str) -> Response:
    """Stream one object if the URL's signature is valid and unexpired; Range requests work."""
    store = current_app.extensions.get("lms.storage")
    if not isinstance(store, LocalFolderObjectStore):
        abort(404)
    expires = request.args.get("expires", "")
    if not store.verify_presigned(key, expires, request.args.get("signature", "")):
        return Response("下载链接无效或已过期，请返回页面重新打开。", status=403, mimetype="text/plain")
    path = store.path_for(key)
    if not path.is_file():
        return Response("文件不存在或已被删除。", status=404, mimetype="text/plain")
    response = send_file(
        path,
        mimetype=content_type_for(key),
        conditional=True,
        etag=True,
        max_age=max(0, int(expires) - int(time.time())),
    )
    # Signed links belong to one user: no shared caches, and uploaded HTML must never run as this site.
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
