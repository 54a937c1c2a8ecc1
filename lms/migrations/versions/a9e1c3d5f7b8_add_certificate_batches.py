"""Add certificate batch prints, made by a background job

Revision ID: a9e1c3d5f7b8
Revises: f8d0b2c4e6a7
Create Date: 2026-12-07 16:20:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'a9e1c3d5f7b8'
down_revision = 'f8d0b2c4e6a7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificate_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('format', sa.Enum('pdf', 'zip', name='batchformat', native_enum=False, length=20), nullable=False),
    sa.Column('certificate_ids', sa.JSON(), nullable=False),
    sa.Column('base_url', sa.String(length=200), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='batchstate', native_enum=False,
                               length=20), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_certificate_batches_org_id_orgs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                            name=op.f('fk_certificate_batches_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_batches'))
    )
    op.create_index(op.f('ix_certificate_batches_requested_by_id'), 'certificate_batches', ['requested_by_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_certificate_batches_requested_by_id'), table_name='certificate_batches')
    op.drop_table('certificate_batches')
