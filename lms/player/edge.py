"""Segment URLs for a caching edge: nginx ``secure_link`` in compose, or a CDN's URL authentication.

A URL is ``{edge}/{key}?u={viewer}&expires={t}&md5={token}`` (published media's keys start with ``media/``),
where the token is nginx's ``secure_link_md5`` of ``"{expires}{path}{viewer} {secret}"`` (base64url of the MD5
digest, unpadded). The edge checks it and the expiry without asking anyone, caches by the path alone, and on a
miss fetches the same URL from the origin (``/media/…`` of this app, which checks the token again and streams
the object from storage).

The token binds the URL to the viewer it was issued to (the playlist is fetched before the WebSocket opens the
playback, so there is no playback session yet) and to a few minutes. With LMS_HLS_ENCRYPT the AES key is still
handed only to the person's active playback of that courseware (``service.may_fetch_key``): a leaked URL then
gives bytes nobody else can play.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote

MEDIA_PREFIX = "media/"  # MediaAsset.hls_prefix: only published media is ever served this way, never keys/


def edge_path(key: str) -> str:
    if not key.startswith(MEDIA_PREFIX):
        raise ValueError(f"只有已发布的视频文件经边缘节点分发：{key}")
    return "/" + quote(key, safe="/")


def token(path: str, expires: int, viewer: int, secret: str) -> str:
    digest = hashlib.md5(f"{expires}{path}{viewer} {secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def edge_url(base: str, key: str, viewer: int, lifetime_s: int, secret: str, now: float | None = None) -> str:
    """Return the edge URL of a storage key for a viewer, valid ``lifetime_s`` seconds."""
    expires = int((now if now is not None else time.time()) + lifetime_s)
    path = edge_path(key)
    return f"{base}{path}?u={viewer}&expires={expires}&md5={token(path, expires, viewer, secret)}"


def is_valid(path: str, viewer: str, expires: str, given: str, secret: str, now: float | None = None) -> bool:
    """Check a token as the edge does: well-formed, unexpired, and made with the secret for this path and viewer."""
    try:
        expires_at, viewer_id = int(expires), int(viewer)
    except (TypeError, ValueError):
        return False
    if expires_at < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(token(path, expires_at, viewer_id, secret), str(given))
