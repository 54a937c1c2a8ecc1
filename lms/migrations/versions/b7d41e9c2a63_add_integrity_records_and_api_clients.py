"""Add integrity records (诚信档案, 第二十一条) and the title-review interface's machine clients

Revision ID: b7d41e9c2a63
Revises: b7d3e1f9a2c4
Create Date: 2026-12-08 00:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d41e9c2a63'
down_revision = 'b7d3e1f9a2c4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('integrity_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('declaration_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('article', sa.String(length=100), nullable=False),
    sa.Column('found_by_id', sa.Integer(), nullable=False),
    sa.Column('found_by_org_id', sa.Integer(), nullable=False),
    sa.Column('found_at', sa.DateTime(), nullable=False),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_integrity_records_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['found_by_id'], ['users.id'], name=op.f('fk_integrity_records_found_by_id_users')),
    sa.ForeignKeyConstraint(['found_by_org_id'], ['orgs.id'], name=op.f('fk_integrity_records_found_by_org_id_orgs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_integrity_records_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_records')),
    sa.UniqueConstraint('declaration_id', name=op.f('uq_integrity_records_declaration_id'))
    )
    with op.batch_alter_table('integrity_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integrity_records_user_id'), ['user_id'], unique=False)

    op.create_table('api_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secret_hash', sa.String(length=255), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
    sa.UniqueConstraint('client_id', name=op.f('uq_api_clients_client_id'))
    )


def downgrade():
    op.drop_table('api_clients')
    with op.batch_alter_table('integrity_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integrity_records_user_id'))

    op.drop_table('integrity_records')
