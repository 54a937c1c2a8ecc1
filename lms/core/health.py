"""GET /healthz: whether the database, the hot-state store and object storage answer."""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from lms.extensions import db

bp = Blueprint("health", __name__)


def _probe(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable", reported as text
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


@bp.get("/healthz")
def healthz():
    """Report each component's reachability; 503 when any is down, so load balancers take the process out."""
    config = current_app.extensions["lms.config"]
    report = {
        "database": _probe(lambda: db.session.execute(sa.text("SELECT 1"))),
        "redis": _probe(current_app.extensions["lms.redis"].ping),
        "storage": _probe(current_app.extensions["lms.storage"].check),
    }
    report["database"]["backend"] = "sqlite" if config.embedded_database else "postgresql"
    report["redis"]["backend"] = "redis" if config.redis_url else "in-process"
    report["storage"]["backend"] = "s3" if config.s3 else "local-folder"
    healthy = all(part["ok"] for part in report.values())
    db.session.rollback()
    return jsonify(status="ok" if healthy else "unavailable", components=report), 200 if healthy else 503
