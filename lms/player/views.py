"""The player page (tracked for learners, an untracked preview for the base) and the delivery of its stream:
HLS playlists with signed segment URLs, and the key.

Playlists and keys answer the logged-in browser (session cookie) or an API client (``Authorization: Bearer``);
a request carrying a bearer header is judged by that token alone. Everyone who may not play gets 403.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, make_response, render_template, request, url_for
from flask_login import current_user

from lms.accounts.models import User
from lms.core.auth import page_user, user_from_api_token
from lms.core.errors import NotAllowed
from lms.courses.models import MediaStatus
from lms.player import service

bp = Blueprint("player", __name__, template_folder="templates", url_prefix="/play")


def _viewer() -> User | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return user_from_api_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    return current_user._get_current_object() if current_user.is_authenticated else None


def _private(response: Response) -> Response:
    # Playlists hold URLs signed for one person and a few minutes; keys are secrets: nothing may keep them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _playable(courseware_id: int, may=service.may_view):
    courseware = service.get_courseware(courseware_id)
    if not may(_viewer(), courseware):
        raise NotAllowed("无权播放该课件：请先选修该课程。")
    return courseware, service.playable_asset(courseware)


@bp.get("/<int:courseware_id>")
@page_user()
def play(courseware_id: int):
    """Show the courseware's player: tracked over the "/tracking" namespace for a learner, a preview for its base."""
    courseware = service.get_courseware(courseware_id)
    if not service.may_view(current_user, courseware):
        abort(403)
    asset = courseware.media
    ready = asset is not None and asset.status == MediaStatus.READY and asset.hls_version is not None
    tracked = service.is_tracked(current_user)
    response = make_response(render_template(
        "player/play.html", courseware=courseware, course=courseware.course, ready=ready, tracked=tracked,
        master_url=url_for("player.master", courseware_id=courseware.id) if ready else None,
        poster_url=service.poster_url(asset) if ready else None,
        summary=service.watch_summary(current_user, courseware) if ready and tracked else None,
        duration=service.say_duration, pending_note=service.pending_note() if tracked else None,
    ))
    # The page shows one person's progress: no shared cache may keep it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:courseware_id>/master.m3u8")
def master(courseware_id: int):
    """Return the master playlist, its renditions pointing at this app's per-rendition URLs."""
    courseware, asset = _playable(courseware_id)
    text = service.master_playlist(
        asset, lambda name: url_for("player.rendition", courseware_id=courseware.id, rendition=name))
    return _private(Response(text, mimetype=service.PLAYLIST_MIMETYPE))


@bp.get("/<int:courseware_id>/<rendition>/index.m3u8")
def rendition(courseware_id: int, rendition: str):
    """Return one rendition's playlist whose segment URLs are presigned and short-lived."""
    courseware, asset = _playable(courseware_id)
    if rendition not in service.rendition_names(asset):
        abort(404)
    text = service.media_playlist(asset, rendition, url_for("player.key", courseware_id=courseware.id),
                                  _viewer().id)
    return _private(Response(text, mimetype=service.PLAYLIST_MIMETYPE))


@bp.get("/<int:courseware_id>/key")
def key(courseware_id: int):
    """Return the AES-128 key of an encrypted courseware to whoever may fetch it now."""
    _courseware, asset = _playable(courseware_id, may=service.may_fetch_key)
    return _private(Response(service.key_bytes(asset), mimetype="application/octet-stream"))
