"""Baseline (b): the common LMS design, one HTTP POST and one database commit per progress update.

A tiny Flask + Flask-SQLAlchemy app on PostgreSQL: ``POST /progress {viewer, position_s}`` updates the viewer's
progress row (position, seconds watched, time) and commits. Served by gunicorn's threaded worker, as such apps
usually are (psycopg's waits would block a gevent worker). ``BENCH_DATABASE_URL`` names the database.
"""

from __future__ import annotations

import datetime as dt
import os

from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


class BenchProgress(db.Model):
    """One viewer's progress on one video, as many LMSs keep it."""

    __tablename__ = "bench_progress"

    viewer_id: Mapped[int] = mapped_column(primary_key=True)
    position_s: Mapped[float] = mapped_column(default=0.0)
    watched_s: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))


def create_app() -> Flask:
    """Build the POST-and-commit app on the database named by BENCH_DATABASE_URL."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": int(os.environ.get("BENCH_POOL", "16")), "max_overflow": 0}
    db.init_app(app)

    @app.post("/progress")
    def progress():
        body = request.get_json(silent=True) or {}
        row = db.session.get(BenchProgress, body.get("viewer"))
        if row is None:
            abort(404)
        position = float(body.get("position_s", 0))
        row.watched_s += max(0.0, min(position - row.position_s, 30.0))
        row.position_s, row.updated_at = position, dt.datetime.now(dt.UTC).replace(tzinfo=None)
        db.session.commit()
        return jsonify(ok=True, watched_s=row.watched_s)

    app.add_url_rule("/healthz", "healthz", lambda: jsonify(status="ok"))
    return app
