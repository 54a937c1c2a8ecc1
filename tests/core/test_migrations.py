"""The migrations are one line of history and build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from lms.extensions import db


def test_the_migrations_have_one_head(app):
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1, f"多个 Alembic head，请串联迁移: {script.get_heads()}"


def test_the_migrated_database_matches_the_models(app):
    with db.engine.connect() as connection:
        # The app's own Alembic options (e.g. the evidence tables' monthly partitions are not the models').
        options = {"include_name": current_app.extensions["migrate"].configure_args["include_name"]}
        differences = compare_metadata(MigrationContext.configure(connection, opts=options), db.metadata)
    assert differences == []
