"""Add session review decisions

Revision ID: b4f6d8e0c2a3
Revises: a3e5c7d9b1f2
Create Date: 2026-11-23 15:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4f6d8e0c2a3'
down_revision = "a3e5c7d9b1f2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('session_review_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Enum('release', 'void', name='reviewoutcome', native_enum=False, length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_session_review_decisions_reviewer_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['playback_sessions.id'], name=op.f('fk_session_review_decisions_session_id_playback_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_review_decisions')),
    sa.UniqueConstraint('session_id', name='uq_session_review_decisions_session')
    )
    with op.batch_alter_table('session_review_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_review_decisions_reviewer_id'), ['reviewer_id'], unique=False)

    # A decision is never edited: the database refuses to change one (as for ledger entries). PostgreSQL also
    # refuses to delete one (the tests' TRUNCATE fires no row trigger); SQLite refuses updates only, because its
    # test clean-up deletes rows.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION session_review_decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'session_review_decisions is append-only: a decision is never edited';
            END $$""")
        op.execute("""
            CREATE TRIGGER session_review_decisions_append_only BEFORE UPDATE OR DELETE ON session_review_decisions
            FOR EACH ROW EXECUTE FUNCTION session_review_decisions_append_only()""")
    else:
        op.execute("""
            CREATE TRIGGER session_review_decisions_append_only BEFORE UPDATE ON session_review_decisions
            BEGIN SELECT RAISE(ABORT, 'session_review_decisions is append-only: a decision is never edited'); END""")


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS session_review_decisions_append_only" + (
        " ON session_review_decisions" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS session_review_decisions_append_only()")
    with op.batch_alter_table('session_review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_review_decisions_reviewer_id'))

    op.drop_table('session_review_decisions')
