"""The viewing evidence's monthly partitions on PostgreSQL: rows land in their session's month, the default
partition catches a month nobody created and the daily job moves them out, and expired months are dropped unless
a session in them still waits for a decision."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from lms.extensions import db
from lms.tracking import partitions
from lms.tracking.models import HoldState, PlaybackSession, SessionEvent, TraceChunk
from tests.review import make_session
from tests.tracking import make_ready_courseware


@pytest.fixture
def courseware(tree, config):
    if config.embedded_database:
        pytest.skip("declarative partitioning is PostgreSQL's; SQLite keeps plain tables")
    return make_ready_courseware(tree.base_a, [tree.learner_a, tree.learner_b], duration_s=300.0,
                                 labelled_hours="0.1")


def _homes(model, session_id: int) -> set[str]:
    """The partitions the session's rows of one table are stored in."""
    table = model.__tablename__
    return set(db.session.scalars(sa.text(f"SELECT tableoid::regclass::text FROM {table} WHERE session_id = :id"),
                                  {"id": session_id}))


def _maintain(today: dt.date, ahead: int = 3, retention: int = 0) -> partitions.PartitionReport:
    db.session.commit()  # the test's own reads hold locks the job's ATTACH would wait for
    with db.engine.begin() as connection:
        return partitions.maintain(connection, today, ahead, retention)


def test_both_tables_are_partitioned_by_month_with_a_default(app, courseware):
    for table in partitions.TABLES:
        strategy = db.session.scalar(sa.text(
            "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = CAST(:t AS regclass)"), {"t": table})
        assert strategy == "r"
        existing = partitions.existing_partitions(db.session.connection(), table)
        assert existing[f"{table}_default"] is None
        this_month = dt.date.today().replace(day=1)
        assert existing[partitions.partition_name(table, this_month)][0] == this_month


def test_a_sessions_evidence_lands_in_its_start_month_and_reads_back_whole(app, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    month = partitions.partition_name("session_events", session.started_at.date())
    assert _homes(SessionEvent, session.id) == {month}
    assert _homes(TraceChunk, session.id) == {partitions.partition_name("session_trace_chunks",
                                                                       session.started_at.date())}
    db.session.expire_all()
    again = db.session.get(PlaybackSession, session.id)
    assert [e.seq for e in again.events] == [1] and len(again.trace) == 60


def test_a_month_nobody_created_goes_to_the_default_and_the_job_moves_it_out(app, tree, courseware):
    far = dt.datetime(2031, 5, 17, 9, 30)
    session = make_session(tree.learner_a, courseware, started_at=far)
    assert _homes(SessionEvent, session.id) == {"session_events_default"}  # the write did not fail
    report = _maintain(dt.date(2031, 5, 2), ahead=1)
    db.session.expire_all()
    assert {"session_events_203105", "session_events_203106", "session_trace_chunks_203105"} <= set(report.created)
    assert report.moved_rows == 3  # one event and two trace chunks
    assert _homes(SessionEvent, session.id) == {"session_events_203105"}
    assert _homes(TraceChunk, session.id) == {"session_trace_chunks_203105"}
    assert _maintain(dt.date(2031, 5, 2), ahead=1).created == []  # running it again does nothing more


def test_expired_months_are_dropped_unless_a_session_in_them_waits_for_review(app, tree, courseware):
    decided = make_session(tree.learner_a, courseware, hold_state=HoldState.RELEASED,
                           started_at=dt.datetime(2030, 1, 10, 8))
    waiting = make_session(tree.learner_b, courseware, hold_state=HoldState.HELD,
                           started_at=dt.datetime(2030, 2, 10, 8))
    _maintain(dt.date(2030, 1, 1), ahead=2)  # January to March 2030 exist
    report = _maintain(dt.date(2033, 3, 1), ahead=0, retention=36)  # keeps March 2030 on
    assert {"session_events_203001", "session_trace_chunks_203001"} <= set(report.dropped)
    assert {"session_events_203002", "session_trace_chunks_203002"} <= set(report.kept)
    assert "session_events_203003" not in report.dropped
    db.session.expire_all()
    # The session rows stay (hours and decisions live there); only the dropped month's evidence is gone.
    assert db.session.get(PlaybackSession, decided.id).events == []
    assert len(db.session.get(PlaybackSession, waiting.id).events) == 1


def test_the_cli_reports_what_it_did(app, courseware):
    result = CliRunner().invoke(app.cli, ["tracking", "partitions", "--ahead", "2"], obj=None)
    assert result.exit_code == 0, result.output
    assert "新建分区" in result.output
