"""Two or more people acting on the same rows at the same moment, each in their own thread and database session."""

from __future__ import annotations

import threading

import pytest

from lms.core.errors import Conflict
from lms.extensions import db


def race(app, *acts) -> tuple[list, list[str]]:
    """Run each act in its own thread and app context at the same moment; return the winners and the refusals."""
    barrier = threading.Barrier(len(acts))
    done, refused, failures = [], [], []

    def run(index, act):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                act()
                db.session.commit()
                done.append(index)
            except Conflict as error:
                db.session.rollback()
                refused.append(error.message)
            except Exception as error:  # reported below: the test shows what went wrong in the thread
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(acts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    return done, refused


def postgres_only(config):
    """Skip on the embedded backend: row locks are PostgreSQL's."""
    if config.embedded_database:
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers and refuses a stale one")
