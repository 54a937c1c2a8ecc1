"""Socket.IO namespace "/tracking": the player's heartbeat channel (protocol: docs/tracking-protocol.md).

A connection is authenticated once, at connect, from the Flask-Login session cookie: only approved learners
are admitted. Each event is answered through its acknowledgement: ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message"}}``; nothing else is ever pushed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import current_app, request
from flask_login import current_user
from flask_socketio import Namespace, SocketIO

from lms.accounts.models import Role
from lms.core import metrics
from lms.core.errors import ServiceError
from lms.tracking import service, tasks

log = logging.getLogger(__name__)

TRACKING_NAMESPACE = "/tracking"


@dataclass(frozen=True)
class Viewer:
    """Who is on a connection, fixed at connect time so heartbeats need no database query."""

    user_id: int
    ip: str
    user_agent: str


class TrackingNamespace(Namespace):
    """Open playbacks, take heartbeats, answer attention checks and close, for authenticated learners."""

    # The events that act on the viewer fixed at connect (see trigger_event), by the service rule each runs.
    _VIEWER_EVENTS: dict[str, Callable[[int, object], service.Reply]] = {
        "heartbeat": service.heartbeat, "check_answer": service.answer_check, "close": service.close_session,
    }

    def __init__(self, namespace: str = TRACKING_NAMESPACE):
        super().__init__(namespace)
        self._viewers: dict[str, Viewer] = {}

    def on_connect(self, auth=None):
        """Admit an approved learner logged in through the session cookie; refuse everyone else."""
        if not (current_user.is_authenticated and current_user.is_approved and current_user.role == Role.LEARNER
                and not current_user.must_change_password):
            raise ConnectionRefusedError("unauthorized")
        self._viewers[request.sid] = Viewer(user_id=current_user.id, ip=client_address(),
                                            user_agent=request.headers.get("User-Agent", "")[:300])
        # Authenticated once: Flask-SocketIO keeps a copy of the session for this connection, but Flask would
        # still verify the signed cookie again for every event, a noticeable share of a heartbeat's CPU. The
        # connection's saved environ serves all its later events, so dropping the cookie from it skips that work.
        request.environ.pop("HTTP_COOKIE", None)
        tasks.ensure_background_flusher(current_app._get_current_object())

    def on_disconnect(self, reason=None):
        """Forget the connection; its playback stays resumable (a brief drop costs nothing)."""
        self._viewers.pop(request.sid, None)

    def on_open(self, data=None):
        """Open or resume a playback: {courseware_id, resume_sid?, device?, device_traits?}."""
        data = data if isinstance(data, dict) else {}

        def run(viewer: Viewer) -> service.Reply:
            user = current_user._get_current_object()
            if not user.is_authenticated or user.id != viewer.user_id:
                raise ConnectionRefusedError("unauthorized")
            return service.open_session(user, data.get("courseware_id"), ip=viewer.ip,
                                        user_agent=viewer.user_agent, device=data.get("device"),
                                        resume_sid=data.get("resume_sid"), traits=data.get("device_traits"))

        return self._answer(request.sid, run, "open")

    def on_heartbeat(self, data=None):
        """Take a heartbeat: {sid, token, position_s, playing, hints?}."""
        return self._answer(request.sid, lambda viewer: service.heartbeat(viewer.user_id, data), "heartbeat")

    def on_check_answer(self, data=None):
        """Answer the attention check: {sid, check_id, answer}."""
        return self._answer(request.sid, lambda viewer: service.answer_check(viewer.user_id, data), "check_answer")

    def on_close(self, data=None):
        """End a playback: {sid}."""
        return self._answer(request.sid, lambda viewer: service.close_session(viewer.user_id, data), "close")

    def trigger_event(self, event, *args):
        """Dispatch an event; heartbeats, answers and closes run in an app context only, not a request context.

        These events need the app (settings, Redis, the database) and the viewer fixed at connect, never the HTTP
        request. For every event Flask-SocketIO would build a Flask request context from the connection's saved
        environ (parse its headers, match its URL against every route, set up the signed-cookie session), which
        cost about as much CPU as judging the heartbeat. Connect, open and disconnect keep the usual path: they
        read the request and the logged-in user.
        """
        judge = self._VIEWER_EVENTS.get(event)
        if judge is None or len(args) != 2:  # other events, and malformed calls, go the usual way
            return super().trigger_event(event, *args)
        sid, data = args
        environ = self.server.get_environ(sid, namespace=self.namespace)
        if not environ:
            return "", 400  # as Flask-SocketIO answers an event of a connection it does not know
        with environ["flask.app"].app_context():
            return self._answer(sid, lambda viewer: judge(viewer.user_id, data), event)

    def _answer(self, connection_sid: str, run: Callable[[Viewer], service.Reply], event: str) -> dict:
        started = time.perf_counter()
        answer = self._judge(connection_sid, run)
        # The outcome is a bounded set: "ok", a refusal code, or why an interval earned nothing (rate, gap, …).
        error = answer.get("error") if isinstance(answer, dict) else None
        interval = answer.get("interval") if isinstance(answer, dict) else None
        outcome = error["code"] if error else (interval or {}).get("reason") or "ok"
        metrics.TRACKING_EVENTS.labels(event, outcome).inc()
        metrics.TRACKING_EVENT_SECONDS.labels(event).observe(time.perf_counter() - started)
        return answer

    def _judge(self, connection_sid: str, run: Callable[[Viewer], service.Reply]) -> dict:
        viewer = self._viewers.get(connection_sid)
        if viewer is None:
            return _error("unauthenticated", "连接未登录或已失效，请刷新页面后重新登录。")
        try:
            reply = run(viewer)
        except ConnectionRefusedError:
            return _error("unauthenticated", "登录状态已变化，请刷新页面后重新登录。")
        except ServiceError as exc:
            body = {"code": exc.code, "message": exc.message}
            if exc.fields:
                body["fields"] = exc.fields
            return {"ok": False, "error": body}
        except redis.RedisError:
            metrics.BACKEND_ERRORS.labels("redis").inc()
            log.exception("tracking store unavailable")
            return _error("unavailable", "计时服务暂时不可用，请稍后重试；本段时间不会计入。")
        if reply.flush:
            try:
                tasks.flush_now(reply.flush)
            except Exception:
                # The state is safe in Redis and the periodic flush writes it; the learner's answer stands.
                log.exception("tracking flush at session end failed")
        return reply.ack


def client_address() -> str:
    """Return the client's address, behind the configured number of trusted proxies too.

    Socket.IO requests reach Flask-SocketIO's middleware before werkzeug's ProxyFix when ProxyFix was installed
    first, so the X-Forwarded-For header is read here the way ProxyFix would read it. Without this, every learner
    behind nginx would share nginx's address and look like many accounts studying from one address.
    """
    trusted = current_app.extensions["lms.config"].trusted_proxies
    if trusted and "werkzeug.proxy_fix.orig" not in request.environ:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= trusted:
            return forwarded[-trusted][:45]
    return (request.remote_addr or "")[:45]


def _error(code: str, message: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": message}}


def register_tracking_namespace(socketio: SocketIO) -> TrackingNamespace:
    """Register the "/tracking" namespace on the SocketIO object once, whatever the order and number of apps."""
    handler = next((h for h in socketio.namespace_handlers if isinstance(h, TrackingNamespace)), None)
    if handler is None:
        handler = TrackingNamespace()
        # on_namespace() skips this list once a server exists; in it, every later init_app registers it again.
        handler._set_socketio(socketio)
        socketio.namespace_handlers.append(handler)
    if socketio.server is not None and socketio.server.namespace_handlers.get(TRACKING_NAMESPACE) is not handler:
        socketio.server.register_namespace(handler)
    return handler
