"""Add notices (信息发布), their attachments and read marks

Revision ID: 11f7ffe1d781
Revises: 6c2cfa717e15
Create Date: 2026-12-07 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '11f7ffe1d781'
down_revision = '6c2cfa717e15'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('pinned', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('publish_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_notices_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_notices_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    )
    op.create_index(op.f('ix_notices_org_id'), 'notices', ['org_id'], unique=False)
    op.create_index(op.f('ix_notices_publish_at'), 'notices', ['publish_at'], unique=False)
    op.create_table('notice_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_attachments_notice_id_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_attachments')),
    sa.UniqueConstraint('key', name=op.f('uq_notice_attachments_key')),
    )
    op.create_index(op.f('ix_notice_attachments_notice_id'), 'notice_attachments', ['notice_id'], unique=False)
    op.create_table('notice_reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_reads_notice_id_notices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notice_reads_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_reads')),
    sa.UniqueConstraint('notice_id', 'user_id', name='uq_notice_reads_notice_user'),
    )
    op.create_index(op.f('ix_notice_reads_user_id'), 'notice_reads', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_notice_reads_user_id'), table_name='notice_reads')
    op.drop_table('notice_reads')
    op.drop_index(op.f('ix_notice_attachments_notice_id'), table_name='notice_attachments')
    op.drop_table('notice_attachments')
    op.drop_index(op.f('ix_notices_publish_at'), table_name='notices')
    op.drop_index(op.f('ix_notices_org_id'), table_name='notices')
    op.drop_table('notices')
