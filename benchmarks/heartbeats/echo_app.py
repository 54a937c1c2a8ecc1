"""Baseline (a): a bare Socket.IO echo server on the same stack (Flask-SocketIO, gevent-websocket, gunicorn).

It answers every ``heartbeat`` on "/tracking" with a token and checks nothing: no login, no Redis, no rules.
Served by the benchmark as ``gunicorn -k geventwebsocket... 'benchmarks.heartbeats.echo_app:create_app()'``.
"""

from __future__ import annotations

import itertools

from flask import Flask, jsonify
from flask_socketio import Namespace, SocketIO


class EchoNamespace(Namespace):
    """Acknowledge each heartbeat at once, as the tracking namespace would if it judged nothing."""

    _tokens = itertools.count()

    def on_heartbeat(self, data=None):
        return {"ok": True, "token": f"t{next(self._tokens)}"}


def create_app() -> Flask:
    """Build the echo app."""
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent")
    socketio.on_namespace(EchoNamespace("/tracking"))
    app.add_url_rule("/healthz", "healthz", lambda: jsonify(status="ok"))
    return app
