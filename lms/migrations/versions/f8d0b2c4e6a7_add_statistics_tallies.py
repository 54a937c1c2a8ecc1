"""Add the statistics tallies per person and organisation and year, filled from the ledger

Revision ID: f8d0b2c4e6a7
Revises: e7c9a1b3d5f6
Create Date: 2026-12-07 16:10:00.000000

The organisation rows are rolled up: each holds its whole subtree. The backfill uses the requirement both rule
sets had when this was written (公需 30, 专业 60, total 90, close from 72); ``lms.statistics.tally.rebuild``
recomputes everything with the live rule sets.
An index with text_pattern_ops lets PostgreSQL answer "path LIKE '/1/4/%'" from the index whatever the
database's collation.
"""
from alembic import op
import sqlalchemy as sa


revision = 'f8d0b2c4e6a7'
down_revision = 'e7c9a1b3d5f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person_year_hours',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('public_hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('professional_hours', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('standing', sa.Enum('none', 'short', 'close', 'met', 'voided', name='standing', native_enum=False,
                                  length=20), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_person_year_hours_org_id_orgs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_person_year_hours_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'year', name=op.f('pk_person_year_hours'))
    )
    op.create_index('ix_person_year_hours_org_year', 'person_year_hours', ['org_id', 'year'], unique=False)
    op.create_table('org_people_counts',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('registered', sa.Integer(), nullable=False),
    sa.Column('approved', sa.Integer(), nullable=False),
    sa.Column('pending', sa.Integer(), nullable=False),
    sa.Column('disabled', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_people_counts_org_id_orgs')),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_org_people_counts'))
    )
    op.create_table('org_year_tallies',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('short', sa.Integer(), nullable=False),
    sa.Column('close', sa.Integer(), nullable=False),
    sa.Column('met', sa.Integer(), nullable=False),
    sa.Column('voided', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_year_tallies_org_id_orgs')),
    sa.PrimaryKeyConstraint('org_id', 'year', name=op.f('pk_org_year_tallies'))
    )
    op.create_table('org_year_source_hours',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('hours', sa.Numeric(precision=14, scale=1), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_year_source_hours_org_id_orgs')),
    sa.PrimaryKeyConstraint('org_id', 'year', 'category', 'source', name=op.f('pk_org_year_source_hours'))
    )
    op.create_index('ix_orgs_path_pattern', 'orgs', ['path'], unique=False,
                    postgresql_ops={'path': 'text_pattern_ops'})
    _backfill()


def _backfill():
    op.execute("""
        INSERT INTO person_year_hours (user_id, year, org_id, public_hours, professional_hours, standing)
        SELECT e.user_id, e.year, u.org_id,
               COALESCE(SUM(CASE WHEN e.category = 'public' THEN e.hours END), 0),
               COALESCE(SUM(CASE WHEN e.category = 'professional' THEN e.hours END), 0), 'none'
        FROM ledger_entries e JOIN users u ON u.id = e.user_id
        GROUP BY e.user_id, e.year, u.org_id""")
    op.execute("""
        UPDATE person_year_hours SET standing = CASE
            WHEN EXISTS (SELECT 1 FROM ledger_adjustments a WHERE a.user_id = person_year_hours.user_id
                         AND a.year = person_year_hours.year AND a.kind = 'void_year') THEN 'voided'
            WHEN public_hours + professional_hours >= 90 AND public_hours >= 30 AND professional_hours >= 60
                THEN 'met'
            WHEN public_hours + professional_hours >= 72 THEN 'close'
            WHEN public_hours + professional_hours > 0 THEN 'short'
            ELSE 'none' END""")
    bind = op.get_bind()
    paths = dict(bind.execute(sa.text("SELECT id, path FROM orgs")).all())

    def ancestry(org_id):
        return [int(part) for part in (paths.get(org_id) or "").strip("/").split("/") if part]

    def rolled(rows, width):
        """Own rows (org_id, *key, *values) summed into every ancestor, as dicts keyed by (org_id, *key)."""
        sums = {}
        for row in rows:
            org_id, key, values = row[0], tuple(row[1:len(row) - width]), row[len(row) - width:]
            for ancestor in ancestry(org_id):
                current = sums.setdefault((ancestor, *key), [0] * width)
                for i, value in enumerate(values):
                    current[i] += value or 0
        return sums

    tallies = rolled(bind.execute(sa.text("""
        SELECT org_id, year, SUM(CASE WHEN standing = 'short' THEN 1 ELSE 0 END),
               SUM(CASE WHEN standing = 'close' THEN 1 ELSE 0 END), SUM(CASE WHEN standing = 'met' THEN 1 ELSE 0 END),
               SUM(CASE WHEN standing = 'voided' THEN 1 ELSE 0 END)
        FROM person_year_hours GROUP BY org_id, year""")).all(), 4)
    _insert(bind, "org_year_tallies", ("org_id", "year", "short", "close", "met", "voided"), tallies)
    sources = rolled(bind.execute(sa.text("""
        SELECT u.org_id, e.year, e.category,
               CASE WHEN e.source_type = 'declaration' THEN 'declaration:' || COALESCE(e.kind, 'other')
                    ELSE e.source_type END, SUM(e.hours)
        FROM ledger_entries e JOIN users u ON u.id = e.user_id
        GROUP BY u.org_id, e.year, e.category,
                 CASE WHEN e.source_type = 'declaration' THEN 'declaration:' || COALESCE(e.kind, 'other')
                      ELSE e.source_type END""")).all(), 1)
    _insert(bind, "org_year_source_hours", ("org_id", "year", "category", "source", "hours"), sources)
    people = rolled(bind.execute(sa.text("""
        SELECT org_id, COUNT(*), SUM(CASE WHEN status = 'approved' THEN 1 ELSE 0 END),
               SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END),
               SUM(CASE WHEN disabled_at IS NOT NULL THEN 1 ELSE 0 END)
        FROM users WHERE role = 'learner' GROUP BY org_id""")).all(), 4)
    _insert(bind, "org_people_counts", ("org_id", "registered", "approved", "pending", "disabled"), people)


def _insert(bind, table, columns, sums):
    rows = [dict(zip(columns, (*key, *values), strict=True)) for key, values in sums.items()]
    statement = sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
    for start in range(0, len(rows), 5000):
        if rows[start:start + 5000]:
            bind.execute(statement, rows[start:start + 5000])


def downgrade():
    op.drop_index('ix_orgs_path_pattern', table_name='orgs')
    op.drop_table('org_year_source_hours')
    op.drop_table('org_year_tallies')
    op.drop_table('org_people_counts')
    op.drop_index('ix_person_year_hours_org_year', table_name='person_year_hours')
    op.drop_table('person_year_hours')
