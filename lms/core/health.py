"""Health for load balancers and orchestrators: ``/healthz/live`` (the process serves) and ``/healthz/ready``.

Readiness fails (503) when the database, the hot-state store or object storage does not answer, so a load
balancer takes the process out until they are back; liveness does not look at them, so an orchestrator does not
restart every web process because Redis blinked. The answers are public: they say which component is down, never
the error text (hosts, ports and driver messages stay in the server's log). ``/healthz`` is the readiness answer
under its old name.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from lms.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def _probe(name: str, check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception:  # noqa: BLE001 - any failure means "not reachable"; the detail goes to the log only
        log.warning("health: %s unreachable", name, exc_info=True)
        return {"ok": False}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


@bp.get("/healthz/live")
def live():
    """The process is up and serving requests; dependencies are not consulted."""
    return jsonify(status="ok")


@bp.get("/healthz/ready")
@bp.get("/healthz")
def ready():
    """Report each component's reachability; 503 when any is down, so load balancers take the process out."""
    config = current_app.extensions["lms.config"]
    report = {
        "database": _probe("database", lambda: db.session.execute(sa.text("SELECT 1"))),
        "redis": _probe("redis", current_app.extensions["lms.redis"].ping),
        "storage": _probe("storage", current_app.extensions["lms.storage"].check),
    }
    report["database"]["backend"] = "sqlite" if config.embedded_database else "postgresql"
    report["redis"]["backend"] = "redis" if config.redis_url else "in-process"
    report["storage"]["backend"] = "s3" if config.s3 else "local-folder"
    healthy = all(part["ok"] for part in report.values())
    db.session.rollback()
    return jsonify(status="ok" if healthy else "unavailable", components=report), 200 if healthy else 503
