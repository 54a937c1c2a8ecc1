"""Socket.IO namespace "/media": a base's admins watch their videos' processing progress live.

The media worker emits ``media_progress`` {asset_id, status, percent, message} to the room ``base:<base id>``
(through the Redis message queue when several processes run); this namespace only admits and places listeners.
"""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, join_room

from lms.orgs.access import scope_org
from lms.orgs.permissions import Permission

MEDIA_NAMESPACE = "/media"


def base_room(base_id: int) -> str:
    """Return the room in which a base's media events are broadcast."""
    return f"base:{base_id}"


class MediaNamespace(Namespace):
    """Admits approved base admins, each into their own base's room; refuses everyone else at connection."""

    def on_connect(self, auth=None):
        """Authenticate once from the Flask-Login session and join the admin's base room."""
        base = scope_org(current_user, Permission.MANAGE_COURSES) if current_user.is_authenticated else None
        if base is None:
            # Socket.IO's ConnectionRefusedError (not the builtin): its message reaches the browser's connect_error.
            raise ConnectionRefusedError("unauthorized")
        join_room(base_room(base.id))


def register_socketio_namespaces(socketio: SocketIO) -> None:
    """Register the courses' namespaces on the SocketIO object once, whatever the order and number of apps."""
    handler = next((h for h in socketio.namespace_handlers if isinstance(h, MediaNamespace)), None)
    if handler is None:
        handler = MediaNamespace(MEDIA_NAMESPACE)
        # on_namespace() would skip this list once a server exists; in it, every later init_app registers it.
        handler._set_socketio(socketio)
        socketio.namespace_handlers.append(handler)
    if socketio.server is not None and socketio.server.namespace_handlers.get(MEDIA_NAMESPACE) is not handler:
        socketio.server.register_namespace(handler)
