"""Add parent moves (更换上级部门) and internal departments (内设部门) with their members

Revision ID: 98c2e5b5bf71
Revises: 402cb142e51f
Create Date: 2026-12-07 20:25:30.360118

"""
from alembic import op
import sqlalchemy as sa


revision = '98c2e5b5bf71'
down_revision = '402cb142e51f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('internal_departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_internal_departments_org_id_orgs')),
    sa.ForeignKeyConstraint(['parent_id'], ['internal_departments.id'], name=op.f('fk_internal_departments_parent_id_internal_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_internal_departments'))
    )
    with op.batch_alter_table('internal_departments', schema=None) as batch_op:
        batch_op.create_index('ix_internal_departments_org_path', ['org_id', 'path'], unique=False)
        batch_op.create_index(batch_op.f('ix_internal_departments_parent_id'), ['parent_id'], unique=False)

    op.create_table('internal_department_members',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_internal_department_members_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['department_id'], ['internal_departments.id'], name=op.f('fk_internal_department_members_department_id_internal_departments')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_internal_department_members_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_internal_department_members'))
    )
    with op.batch_alter_table('internal_department_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_internal_department_members_department_id'), ['department_id'], unique=False)

    op.create_table('org_parent_moves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('from_parent_id', sa.Integer(), nullable=False),
    sa.Column('to_parent_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'completed', 'refused', 'withdrawn', name='movestatus', native_enum=False, length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('old_approved_by_id', sa.Integer(), nullable=True),
    sa.Column('old_approved_at', sa.DateTime(), nullable=True),
    sa.Column('new_approved_by_id', sa.Integer(), nullable=True),
    sa.Column('new_approved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('refusal_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_org_parent_moves_closed_by_id_users')),
    sa.ForeignKeyConstraint(['from_parent_id'], ['orgs.id'], name=op.f('fk_org_parent_moves_from_parent_id_orgs')),
    sa.ForeignKeyConstraint(['new_approved_by_id'], ['users.id'], name=op.f('fk_org_parent_moves_new_approved_by_id_users')),
    sa.ForeignKeyConstraint(['old_approved_by_id'], ['users.id'], name=op.f('fk_org_parent_moves_old_approved_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_parent_moves_org_id_orgs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_org_parent_moves_requested_by_id_users')),
    sa.ForeignKeyConstraint(['to_parent_id'], ['orgs.id'], name=op.f('fk_org_parent_moves_to_parent_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_parent_moves'))
    )
    with op.batch_alter_table('org_parent_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_parent_moves_from_parent_id'), ['from_parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_parent_moves_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_parent_moves_to_parent_id'), ['to_parent_id'], unique=False)
        batch_op.create_index('uq_org_parent_moves_one_open', ['org_id'], unique=True, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))



def downgrade():
    with op.batch_alter_table('org_parent_moves', schema=None) as batch_op:
        batch_op.drop_index('uq_org_parent_moves_one_open', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_org_parent_moves_to_parent_id'))
        batch_op.drop_index(batch_op.f('ix_org_parent_moves_org_id'))
        batch_op.drop_index(batch_op.f('ix_org_parent_moves_from_parent_id'))

    op.drop_table('org_parent_moves')
    with op.batch_alter_table('internal_department_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_internal_department_members_department_id'))

    op.drop_table('internal_department_members')
    with op.batch_alter_table('internal_departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_internal_departments_parent_id'))
        batch_op.drop_index('ix_internal_departments_org_path')

    op.drop_table('internal_departments')
