"""Add yearly certificates with their signed verification codes

Revision ID: d6b8f0a2e4c5
Revises: b4f6d8e0c2a3
Create Date: 2026-11-23 15:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd6b8f0a2e4c5'
down_revision = "b4f6d8e0c2a3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=30), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('holder_name', sa.String(length=50), nullable=False),
    sa.Column('holder_id_number', sa.String(length=18), nullable=False),
    sa.Column('public_hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('professional_hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('total_hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('rule_set_id', sa.String(length=40), nullable=False),
    sa.Column('issuing_authority', sa.String(length=100), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_certificates_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('code', name=op.f('uq_certificates_code')),
    sa.UniqueConstraint('serial', name=op.f('uq_certificates_serial')),
    sa.UniqueConstraint('user_id', 'year', name='uq_certificates_user_year')
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_user_id'))

    op.drop_table('certificates')
