"""Add person transfers (人员调转)

Revision ID: 6c2cfa717e15
Revises: b2d4f6a8c0e1
Create Date: 2026-12-07 16:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '6c2cfa717e15'
down_revision = 'b2d4f6a8c0e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('from_org_id', sa.Integer(), nullable=False),
    sa.Column('to_org_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'refused', 'cancelled', name='transferstatus',
                                native_enum=False, length=20), nullable=False),
    sa.Column('person_name', sa.String(length=50), nullable=False),
    sa.Column('title_series', sa.String(length=30), nullable=True),
    sa.Column('professional_post', sa.String(length=50), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_person_transfers_user_id_users')),
    sa.ForeignKeyConstraint(['from_org_id'], ['orgs.id'], name=op.f('fk_person_transfers_from_org_id_orgs')),
    sa.ForeignKeyConstraint(['to_org_id'], ['orgs.id'], name=op.f('fk_person_transfers_to_org_id_orgs')),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_person_transfers_started_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_person_transfers_decided_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_transfers')),
    )
    op.create_index(op.f('ix_person_transfers_user_id'), 'person_transfers', ['user_id'], unique=False)
    op.create_index(op.f('ix_person_transfers_from_org_id'), 'person_transfers', ['from_org_id'], unique=False)
    op.create_index(op.f('ix_person_transfers_to_org_id'), 'person_transfers', ['to_org_id'], unique=False)
    op.create_index('ix_person_transfers_status_to_org', 'person_transfers', ['status', 'to_org_id'], unique=False)
    op.create_index('uq_person_transfers_one_open', 'person_transfers', ['user_id'], unique=True,
                    postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))


def downgrade():
    op.drop_index('uq_person_transfers_one_open', table_name='person_transfers')
    op.drop_index('ix_person_transfers_status_to_org', table_name='person_transfers')
    op.drop_index(op.f('ix_person_transfers_to_org_id'), table_name='person_transfers')
    op.drop_index(op.f('ix_person_transfers_from_org_id'), table_name='person_transfers')
    op.drop_index(op.f('ix_person_transfers_user_id'), table_name='person_transfers')
    op.drop_table('person_transfers')
