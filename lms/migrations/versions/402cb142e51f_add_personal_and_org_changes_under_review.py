"""Add changes under review: personal-data and organisation-information changes, title level, contacts

Revision ID: 402cb142e51f
Revises: fa51abc56962
Create Date: 2026-12-07 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '402cb142e51f'
down_revision = 'fa51abc56962'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_level', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('education', sa.String(length=20), nullable=True))
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('contact_name', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=20), nullable=True))
    op.create_table('person_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_person_changes_user_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_person_changes_decided_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_changes')),
    )
    op.create_index(op.f('ix_person_changes_user_id'), 'person_changes', ['user_id'], unique=False)
    op.create_index('ix_person_changes_status', 'person_changes', ['status'], unique=False)
    op.create_index('uq_person_changes_one_open', 'person_changes', ['user_id'], unique=True,
                    postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.create_table('org_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_changes_org_id_orgs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_org_changes_requested_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_org_changes_decided_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_changes')),
    )
    op.create_index(op.f('ix_org_changes_org_id'), 'org_changes', ['org_id'], unique=False)
    op.create_index('uq_org_changes_one_open', 'org_changes', ['org_id'], unique=True,
                    postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))


def downgrade():
    op.drop_index('uq_org_changes_one_open', table_name='org_changes')
    op.drop_index(op.f('ix_org_changes_org_id'), table_name='org_changes')
    op.drop_table('org_changes')
    op.drop_index('uq_person_changes_one_open', table_name='person_changes')
    op.drop_index('ix_person_changes_status', table_name='person_changes')
    op.drop_index(op.f('ix_person_changes_user_id'), table_name='person_changes')
    op.drop_table('person_changes')
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_name')
        batch_op.drop_column('address')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('education')
        batch_op.drop_column('title_level')
