"""Add the material each evidence file is, and deferral attachments and title-extension notes

Revision ID: b7d3e1f9a2c4
Revises: b7e4c2a9d1f3
Create Date: 2026-12-08 00:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d3e1f9a2c4'
down_revision = 'b7e4c2a9d1f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('declaration_evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('material', sa.String(length=40), nullable=True))

    with op.batch_alter_table('deferrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('attachment_filename', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('attachment_content_type', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('attachment_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('title_extension_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('title_extension_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('title_extension_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_deferrals_attachment_key'), ['attachment_key'])
        batch_op.create_foreign_key(batch_op.f('fk_deferrals_title_extension_by_id_users'), 'users',
                                    ['title_extension_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('deferrals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deferrals_title_extension_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_deferrals_attachment_key'), type_='unique')
        batch_op.drop_column('title_extension_at')
        batch_op.drop_column('title_extension_by_id')
        batch_op.drop_column('title_extension_reason')
        batch_op.drop_column('attachment_size')
        batch_op.drop_column('attachment_content_type')
        batch_op.drop_column('attachment_filename')
        batch_op.drop_column('attachment_key')

    with op.batch_alter_table('declaration_evidence', schema=None) as batch_op:
        batch_op.drop_column('material')
