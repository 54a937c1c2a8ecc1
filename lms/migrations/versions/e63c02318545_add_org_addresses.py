"""Add organisations' known network addresses (registered and learned)

Revision ID: e63c02318545
Revises: 3e5a7c9b1d2f
Create Date: 2026-12-07 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'e63c02318545'
down_revision = '3e5a7c9b1d2f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('org_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('cidr', sa.String(length=50), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('covers_subtree', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_addresses_org_id_orgs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_org_addresses_requested_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_org_addresses_decided_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_addresses')),
    )
    op.create_index(op.f('ix_org_addresses_org_id'), 'org_addresses', ['org_id'], unique=False)
    op.create_index(op.f('ix_org_addresses_state'), 'org_addresses', ['state'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_org_addresses_state'), table_name='org_addresses')
    op.drop_index(op.f('ix_org_addresses_org_id'), table_name='org_addresses')
    op.drop_table('org_addresses')
