"""Add quiz integrity: per-question timing, where an attempt started, its evidence, hold state and reviews

Revision ID: fa51abc56962
Revises: e63c02318545
Create Date: 2026-12-07 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'fa51abc56962'
down_revision = 'e63c02318545'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exam_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shown_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('ip', sa.String(length=45), server_default='', nullable=False))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('device_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('risk_score', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('hold_state', sa.Enum('none', 'held', 'released', 'voided', name='holdstate',
                                                            native_enum=False, length=20),
                                      server_default='none', nullable=False))
        batch_op.add_column(sa.Column('held_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_exam_attempts_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exam_attempts_hold_state'), ['hold_state'], unique=False)
    with op.batch_alter_table('exam_attempt_answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_saved_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE exam_attempt_answers SET first_saved_at = saved_at")

    op.create_table('exam_attempt_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['exam_attempts.id'],
                            name=op.f('fk_exam_attempt_events_attempt_id_exam_attempts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exam_attempt_events')),
    )
    op.create_index(op.f('ix_exam_attempt_events_attempt_id'), 'exam_attempt_events', ['attempt_id'], unique=False)

    op.create_table('attempt_review_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Enum('release', 'void', name='reviewoutcome', native_enum=False, length=20),
              nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['exam_attempts.id'],
                            name=op.f('fk_attempt_review_decisions_attempt_id_exam_attempts')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_attempt_review_decisions_reviewer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_review_decisions')),
    sa.UniqueConstraint('attempt_id', name='uq_attempt_review_decisions_attempt'),
    )
    op.create_index(op.f('ix_attempt_review_decisions_reviewer_id'), 'attempt_review_decisions', ['reviewer_id'],
                    unique=False)
    # As for sessions' decisions: never edited (PostgreSQL: nor deleted; SQLite's test clean-up deletes rows).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION attempt_review_decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'attempt_review_decisions is append-only: a decision is never edited';
            END $$""")
        op.execute("""
            CREATE TRIGGER attempt_review_decisions_append_only BEFORE UPDATE OR DELETE ON attempt_review_decisions
            FOR EACH ROW EXECUTE FUNCTION attempt_review_decisions_append_only()""")
    else:
        op.execute("""
            CREATE TRIGGER attempt_review_decisions_append_only BEFORE UPDATE ON attempt_review_decisions
            BEGIN SELECT RAISE(ABORT, 'attempt_review_decisions is append-only: a decision is never edited'); END""")


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS attempt_review_decisions_append_only" + (
        " ON attempt_review_decisions" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS attempt_review_decisions_append_only()")
    op.drop_index(op.f('ix_attempt_review_decisions_reviewer_id'), table_name='attempt_review_decisions')
    op.drop_table('attempt_review_decisions')
    op.drop_index(op.f('ix_exam_attempt_events_attempt_id'), table_name='exam_attempt_events')
    op.drop_table('exam_attempt_events')
    with op.batch_alter_table('exam_attempt_answers', schema=None) as batch_op:
        batch_op.drop_column('first_saved_at')
    with op.batch_alter_table('exam_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exam_attempts_hold_state'))
        batch_op.drop_index(batch_op.f('ix_exam_attempts_device_id'))
        for column in ('held_at', 'hold_state', 'risk_score', 'device_id', 'user_agent', 'ip', 'shown_at'):
            batch_op.drop_column(column)
