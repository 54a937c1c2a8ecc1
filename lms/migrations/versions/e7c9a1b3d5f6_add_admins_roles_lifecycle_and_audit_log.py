"""Add organisation admins with roles, disabling of accounts and organisations, and the audit log

Revision ID: e7c9a1b3d5f6
Revises: c5a7e9f1d3b4
Create Date: 2026-12-05 21:30:00.000000

Every existing admin account becomes its organisation's super admin (the earliest one when an
organisation had several; the others keep every permission through a role); every anti-cheat
reviewer gets the built-in reviewer role at their organisation.
"""
from alembic import op
import sqlalchemy as sa


revision = 'e7c9a1b3d5f6'
down_revision = "c5a7e9f1d3b4"
branch_labels = None
depends_on = None

ADMIN_ROLES = ("unit_admin", "department_admin", "hr_admin", "base_admin")
# What a super admin of each kind held when this migration was written (lms.orgs.permissions).
_HR = ("approve_orgs edit_org_settings lookup_certificates manage_admins manage_people manage_sub_orgs "
       "reset_passwords review_declarations view_audit_log view_full_id_numbers view_sessions view_statistics "
       "void_declarations")
SUPER_PERMISSIONS = {
    "province_hr": "create_bureaus " + _HR, "city_hr": _HR, "county_hr": _HR,
    "department": ("approve_orgs lookup_certificates manage_admins manage_people manage_sub_orgs reset_passwords "
                   "review_declarations view_audit_log view_full_id_numbers view_statistics void_declarations"),
    "unit": ("approve_people grant_deferrals host_archives import_people lookup_certificates manage_admins "
             "manage_people reset_passwords review_declarations view_audit_log view_full_id_numbers view_statistics"),
    "base": "manage_admins manage_courses manage_people reset_passwords view_audit_log view_statistics",
}


def upgrade():
    op.create_table('admin_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('permission_codes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_admin_roles_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_roles')),
    sa.UniqueConstraint('code', name=op.f('uq_admin_roles_code')),
    sa.UniqueConstraint('org_id', 'name', name='uq_admin_roles_org_name'),
    )
    op.create_index(op.f('ix_admin_roles_org_id'), 'admin_roles', ['org_id'], unique=False)
    op.create_table('org_admins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('is_super', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_org_admins_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_admins_org_id_orgs')),
    sa.ForeignKeyConstraint(['role_id'], ['admin_roles.id'], name=op.f('fk_org_admins_role_id_admin_roles')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_org_admins_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_admins')),
    sa.UniqueConstraint('user_id', name=op.f('uq_org_admins_user_id')),
    )
    op.create_index(op.f('ix_org_admins_org_id'), 'org_admins', ['org_id'], unique=False)
    op.create_index(op.f('ix_org_admins_role_id'), 'org_admins', ['role_id'], unique=False)
    op.create_index('uq_org_admins_one_super', 'org_admins', ['org_id'], unique=True,
                    postgresql_where=sa.text('is_super'), sqlite_where=sa.text('is_super'))
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('disabled_reason', sa.String(length=200), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('disabled_reason', sa.String(length=200), nullable=True))
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=50), nullable=False),
    sa.Column('actor_role', sa.String(length=60), nullable=False),
    sa.Column('actor_org_id', sa.Integer(), nullable=True),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=40), nullable=True),
    sa.Column('object_label', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_entries_actor_id_users')),
    sa.ForeignKeyConstraint(['actor_org_id'], ['orgs.id'], name=op.f('fk_audit_entries_actor_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries')),
    )
    op.create_index(op.f('ix_audit_entries_created_at'), 'audit_entries', ['created_at'], unique=False)
    op.create_index(op.f('ix_audit_entries_actor_id'), 'audit_entries', ['actor_id'], unique=False)
    op.create_index(op.f('ix_audit_entries_org_path'), 'audit_entries', ['org_path'], unique=False)
    op.create_index(op.f('ix_audit_entries_action'), 'audit_entries', ['action'], unique=False)
    op.create_index('ix_audit_entries_org_path_created', 'audit_entries', ['org_path', 'created_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # The app never changes a row; the database makes that true for every client, not only the ORM.
        op.execute("""
            CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_entries is append-only'; END $$;
            CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
            FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
        """)
    _backfill_memberships()


def _backfill_memberships():
    bind = op.get_bind()
    users = sa.table('users', sa.column('id'), sa.column('org_id'), sa.column('role'))
    orgs = sa.table('orgs', sa.column('id'), sa.column('kind'))
    admins = bind.execute(sa.select(users.c.id, users.c.org_id, orgs.c.kind).join(orgs, orgs.c.id == users.c.org_id)
                          .where(users.c.role.in_(ADMIN_ROLES)).order_by(users.c.org_id, users.c.id)).all()
    seen = set()
    for user_id, org_id, kind in admins:
        is_super = org_id not in seen
        seen.add(org_id)
        role_id = None
        if not is_super:
            role_id = bind.execute(sa.text(
                "INSERT INTO admin_roles (org_id, name, permission_codes, created_at) "
                "VALUES (:org, :name, :codes, CURRENT_TIMESTAMP) RETURNING id"),
                {"org": org_id, "name": f"原管理员{user_id}", "codes": SUPER_PERMISSIONS[kind]}).scalar()
        bind.execute(sa.text("INSERT INTO org_admins (user_id, org_id, is_super, role_id, created_at) "
                             "VALUES (:u, :o, :s, :r, CURRENT_TIMESTAMP)"),
                     {"u": user_id, "o": org_id, "s": is_super, "r": role_id})
    reviewers = bind.execute(sa.select(users.c.id, users.c.org_id).where(users.c.role == 'reviewer')).all()
    if reviewers:
        role_id = bind.execute(sa.text(
            "INSERT INTO admin_roles (code, name, permission_codes, created_at) "
            "VALUES ('session_reviewer', '防作弊审核员', 'view_sessions review_sessions', CURRENT_TIMESTAMP) "
            "RETURNING id")).scalar()
        for user_id, org_id in reviewers:
            bind.execute(sa.text("INSERT INTO org_admins (user_id, org_id, is_super, role_id, created_at) "
                                 "VALUES (:u, :o, false, :r, CURRENT_TIMESTAMP)"),
                         {"u": user_id, "o": org_id, "r": role_id})


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries;"
                   "DROP FUNCTION IF EXISTS audit_entries_append_only();")
    op.drop_table('audit_entries')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled_reason')
        batch_op.drop_column('disabled_at')
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_column('disabled_reason')
        batch_op.drop_column('disabled_at')
    op.drop_table('org_admins')
    op.drop_table('admin_roles')
