"""Add the rule set's review chain as ordered steps per declaration, and trainings declared with a roster

The two fixed columns (``declarations.step`` first/second, ``second_org_id``) become ordered rows in
``declaration_review_steps``; rows already there keep the chain they were submitted under: 初审 by their first
organisation, 复审 by their second if they had one, with the current step carried over. Decision rows keep their
step as a position and its label. Trainings a base or unit declares with a roster get their own tables; a training's
own facts, the same for every attendee (who organised it), are a JSON column ``trainings.facts``.

Revision ID: b7e4c2a9d1f3
Revises: 7537af44fdb6
Create Date: 2026-12-08 00:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7e4c2a9d1f3'
down_revision = '7537af44fdb6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('declaration_review_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_declaration_review_steps_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_declaration_review_steps_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration_review_steps')),
    sa.UniqueConstraint('declaration_id', 'position', name='uq_declaration_review_steps_position')
    )
    with op.batch_alter_table('declaration_review_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_declaration_review_steps_org_id'), ['org_id'], unique=False)
    op.execute("INSERT INTO declaration_review_steps (declaration_id, position, reviewer, label, org_id) "
               "SELECT id, 0, 'unit', '初审', first_org_id FROM declarations")
    op.execute("INSERT INTO declaration_review_steps (declaration_id, position, reviewer, label, org_id) "
               "SELECT id, 1, 'above', '复审', second_org_id FROM declarations WHERE second_org_id IS NOT NULL")

    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step_index', sa.Integer(), nullable=True))
    op.execute("UPDATE declarations SET step_index = CASE step WHEN 'first' THEN 0 WHEN 'second' THEN 1 END")
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declarations_second_org_id'))
        batch_op.drop_constraint(batch_op.f('fk_declarations_second_org_id_orgs'), type_='foreignkey')
        batch_op.drop_column('second_org_id')
        batch_op.drop_column('step')

    with op.batch_alter_table('declaration_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('step_label', sa.String(length=40), nullable=True))
    op.execute("UPDATE declaration_decisions SET step_index = CASE step WHEN 'first' THEN 0 WHEN 'second' THEN 1 END, "
               "step_label = CASE step WHEN 'first' THEN '初审' WHEN 'second' THEN '复审' END")
    with op.batch_alter_table('declaration_decisions', schema=None) as batch_op:
        batch_op.drop_column('step')

    op.create_table('trainings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('declared_by_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('rule_set_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('kind_label', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('hours_per_day', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'returned', 'rejected', 'filed', name='trainingstatus', native_enum=False, length=20), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['declared_by_id'], ['users.id'], name=op.f('fk_trainings_declared_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_trainings_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trainings')),
    sa.UniqueConstraint('org_id', 'title', 'start_date', 'end_date', name='uq_trainings_org_title_dates')
    )
    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trainings_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trainings_status'), ['status'], unique=False)

    op.create_table('training_attendees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('training_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('days', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('hours', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('posted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['training_id'], ['trainings.id'], name=op.f('fk_training_attendees_training_id_trainings')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_training_attendees_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_attendees')),
    sa.UniqueConstraint('training_id', 'user_id', name='uq_training_attendees_person')
    )
    with op.batch_alter_table('training_attendees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_attendees_user_id'), ['user_id'], unique=False)

    op.create_table('training_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('training_id', sa.Integer(), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=True),
    sa.Column('step_label', sa.String(length=40), nullable=True),
    sa.Column('action', sa.Enum('submitted', 'approved', 'rejected', 'returned', 'resubmitted', 'filed', name='trainingaction', native_enum=False, length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('actor_org_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_training_decisions_actor_id_users')),
    sa.ForeignKeyConstraint(['actor_org_id'], ['orgs.id'], name=op.f('fk_training_decisions_actor_org_id_orgs')),
    sa.ForeignKeyConstraint(['training_id'], ['trainings.id'], name=op.f('fk_training_decisions_training_id_trainings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_decisions'))
    )
    with op.batch_alter_table('training_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_decisions_training_id'), ['training_id'], unique=False)

    op.create_table('training_review_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('training_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_training_review_steps_org_id_orgs')),
    sa.ForeignKeyConstraint(['training_id'], ['trainings.id'], name=op.f('fk_training_review_steps_training_id_trainings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_review_steps')),
    sa.UniqueConstraint('training_id', 'position', name='uq_training_review_steps_position')
    )
    with op.batch_alter_table('training_review_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_review_steps_org_id'), ['org_id'], unique=False)


def downgrade():
    with op.batch_alter_table('training_review_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_review_steps_org_id'))

    op.drop_table('training_review_steps')
    with op.batch_alter_table('training_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_decisions_training_id'))

    op.drop_table('training_decisions')
    with op.batch_alter_table('training_attendees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_attendees_user_id'))

    op.drop_table('training_attendees')
    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trainings_status'))
        batch_op.drop_index(batch_op.f('ix_trainings_org_id'))

    op.drop_table('trainings')

    with op.batch_alter_table('declaration_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step', sa.Enum('first', 'second', name='reviewstep', native_enum=False, length=20), nullable=True))
    # A chain of three steps cannot be told in two: every step after the first reads as 复审.
    op.execute("UPDATE declaration_decisions SET step = CASE WHEN step_index = 0 THEN 'first' "
               "WHEN step_index > 0 THEN 'second' END")
    with op.batch_alter_table('declaration_decisions', schema=None) as batch_op:
        batch_op.drop_column('step_label')
        batch_op.drop_column('step_index')

    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step', sa.Enum('first', 'second', name='reviewstep', native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column('second_org_id', sa.Integer(), nullable=True))
    op.execute("UPDATE declarations SET step = CASE WHEN step_index = 0 THEN 'first' WHEN step_index > 0 THEN 'second' END, "
               "second_org_id = (SELECT org_id FROM declaration_review_steps s "
               "WHERE s.declaration_id = declarations.id AND s.position = 1)")
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_declarations_second_org_id_orgs'), 'orgs', ['second_org_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_declarations_second_org_id'), ['second_org_id'], unique=False)
        batch_op.drop_column('step_index')

    with op.batch_alter_table('declaration_review_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declaration_review_steps_org_id'))
    op.drop_table('declaration_review_steps')
