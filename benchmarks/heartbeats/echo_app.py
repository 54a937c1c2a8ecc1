"""Baseline (a): a bare Socket.IO echo server on the same stack (Flask-SocketIO, gevent-websocket, gunicorn).

It answers every ``heartbeat`` on "/tracking" with a token and checks nothing: no login, no Redis, no rules.
Two variants, both served by the benchmark as ``gunicorn -k geventwebsocket... 'benchmarks.heartbeats.echo_app:…'``:

- ``create_app()``: Flask-SocketIO as it comes (a greenlet and a Flask request context per event, the standard
  JSON module): the bare echo server of issue 4's target;
- ``create_app(tuned=True)``: tuned as the app is (events in the connection's reader greenlet, orjson packets, no
  request context per heartbeat), so that the ratio to it is the price of the checks alone, not of the tuning.
"""

from __future__ import annotations

import itertools

from flask import Flask, jsonify
from flask_socketio import Namespace, SocketIO

from lms.core import socketio_json


class EchoNamespace(Namespace):
    """Acknowledge each heartbeat at once, as the tracking namespace would if it judged nothing."""

    _tokens = itertools.count()

    def on_heartbeat(self, data=None):
        return {"ok": True, "token": f"t{next(self._tokens)}"}


class TunedEchoNamespace(EchoNamespace):
    """The echo without the Flask request context Flask-SocketIO builds for each event (the tracking namespace
    skips it for its heartbeats too): the least this stack can do per event."""

    def trigger_event(self, event, *args):
        if event == "heartbeat" and len(args) == 2:
            return self.on_heartbeat(args[1])
        return super().trigger_event(event, *args)


def create_app(tuned: bool = False) -> Flask:
    """Build the echo app, as Flask-SocketIO comes or ``tuned`` as the app is."""
    app = Flask(__name__)
    if tuned:
        socketio = SocketIO(app, async_mode="gevent", async_handlers=False, json=socketio_json)
        socketio.on_namespace(TunedEchoNamespace("/tracking"))
    else:
        socketio = SocketIO(app, async_mode="gevent")
        socketio.on_namespace(EchoNamespace("/tracking"))
    app.add_url_rule("/healthz", "healthz", lambda: jsonify(status="ok"))
    return app
