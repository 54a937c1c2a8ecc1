"""Reads that may go to a PostgreSQL streaming replica: statistics and exports (``LMS_DATABASE_REPLICA_URL``).

Such reads can be a moment behind the primary (replication lag), which statistics can afford and a
decision cannot: nothing that writes, or checks before writing, reads through here.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from lms.extensions import db


def read_session() -> Session:
    """The session of this request's statistics reads: the replica's when one is configured, else the primary's."""
    if not current_app.extensions["lms.config"].database_replica_url:
        return db.session
    if "lms_replica_session" not in g:
        g.lms_replica_session = Session(bind=db.engines["replica"])
    return g.lms_replica_session


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def close_replica_session(_error=None):
        session = g.pop("lms_replica_session", None)
        if session is not None:
            session.close()
