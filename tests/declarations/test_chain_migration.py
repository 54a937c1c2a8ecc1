"""The migration from two fixed review columns to ordered steps keeps every declaration's chain, both ways."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from lms.accounts.models import User
from lms.declarations import service
from lms.declarations.models import Declaration
from lms.extensions import db
from tests.declarations import conference_facts, conference_materials

BEFORE = "7537af44fdb6"  # the revision before the chain's (b7e4c2a9d1f3)


def test_declarations_under_review_keep_their_reviewers_and_step_through_the_migration(app, tree):
    declaration, _keys = service.submit(tree.learner_a, kind_id="conference", title="全国学术年会",
                                        start_date="2026-05-10", end_date="2026-05-11", year="",
                                        facts=conference_facts(paper=True), uploads=[],
                                        materials=conference_materials(paper=True))
    service.decide(tree.admins["unit_a"], declaration.id, "approve", None)
    db.session.commit()
    declaration_id, unit_id, dept_id, dept_admin_id = (declaration.id, tree.unit_a.id, tree.dept_a.id,
                                                       tree.admins["dept_a"].id)
    db.session.remove()
    try:
        downgrade(revision=BEFORE)
        with db.engine.connect() as connection:
            row = connection.execute(sa.text("SELECT step, first_org_id, second_org_id FROM declarations "
                                             "WHERE id = :id"), {"id": declaration_id}).one()
            steps = connection.execute(sa.text("SELECT action, step FROM declaration_decisions "
                                               "WHERE declaration_id = :id ORDER BY id"), {"id": declaration_id}).all()
        # The old schema had two columns: the unit first, the department second, waiting at the second.
        assert tuple(row) == ("second", unit_id, dept_id)
        assert [tuple(s) for s in steps] == [("submitted", None), ("approved", "first")]
    finally:
        db.session.remove()
        upgrade()
    migrated = db.session.get(Declaration, declaration_id)
    # Migrated honestly: the two steps it was submitted under, labelled as they were, at the step it was at.
    assert [(s.position, s.reviewer, s.label, s.org_id) for s in migrated.review_steps] == [
        (0, "unit", "初审", unit_id), (1, "above", "复审", dept_id)]
    assert migrated.step_index == 1
    assert [(d.step_index, d.step_label) for d in migrated.decisions] == [(None, None), (0, "初审")]
    service.decide(db.session.get(User, dept_admin_id), declaration_id, "approve", None)
    db.session.commit()
    assert migrated.status.value == "filed"
