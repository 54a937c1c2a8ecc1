"""Link media assets to the courseware they were uploaded for

Revision ID: b5e2c41d9a07
Revises: 1208363a3c02
Create Date: 2026-11-23 13:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b5e2c41d9a07'
down_revision = '1208363a3c02'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('courseware_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_media_assets_courseware_id'), ['courseware_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_media_assets_courseware_id_coursewares'), 'coursewares',
                                    ['courseware_id'], ['id'])


def downgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_media_assets_courseware_id_coursewares'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_media_assets_courseware_id'))
        batch_op.drop_column('courseware_id')
