"""Push events to browsers over Socket.IO from anywhere: a request, the embedded job thread or a worker process."""

from __future__ import annotations

import threading

from flask import current_app
from flask_socketio import SocketIO

_emitters: dict[str, SocketIO] = {}
_lock = threading.Lock()


def emit(event: str, data: dict, *, namespace: str, room: str) -> None:
    """Send an event to a room; through the Redis message queue when several processes share the rooms."""
    config = current_app.extensions["lms.config"]
    if not config.redis_url:
        from lms.extensions import socketio

        socketio.emit(event, data, namespace=namespace, to=room)
        return
    url = config.redis_url_for("queue")
    with _lock:
        emitter = _emitters.get(url)
        if emitter is None:
            # A write-only client of the message queue (Flask-SocketIO docs: emitting from an external process).
            emitter = _emitters[url] = SocketIO(message_queue=url, async_mode="threading")
    emitter.emit(event, data, namespace=namespace, to=room)
