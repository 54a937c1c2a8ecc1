"""Transfers asked for by the new unit (申请调入, completed on the old unit's silence) and out of the province

Revision ID: 3e5a7c9b1d2f
Revises: 11f7ffe1d781
Create Date: 2026-12-07 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '3e5a7c9b1d2f'
down_revision = '11f7ffe1d781'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person_transfers') as batch:
        batch.alter_column('to_org_id', existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column('outside_destination', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('initiated_by', sa.Enum('out', 'in', name='transferside', native_enum=False,
                                                           length=20), server_default='out', nullable=False))
        batch.add_column(sa.Column('answer_due_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('completed_by_silence', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_person_transfers_status_from_org', 'person_transfers', ['status', 'from_org_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_person_transfers_status_from_org', table_name='person_transfers')
    op.execute("DELETE FROM person_transfers WHERE to_org_id IS NULL")
    with op.batch_alter_table('person_transfers') as batch:
        batch.drop_column('completed_by_silence')
        batch.drop_column('answer_due_at')
        batch.drop_column('initiated_by')
        batch.drop_column('outside_destination')
        batch.alter_column('to_org_id', existing_type=sa.Integer(), nullable=False)
