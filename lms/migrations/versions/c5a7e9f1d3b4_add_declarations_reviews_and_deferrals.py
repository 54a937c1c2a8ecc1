"""Add declarations of off-platform hours, their evidence and decisions, deferrals and archive hosting

Revision ID: c5a7e9f1d3b4
Revises: d6b8f0a2e4c5
Create Date: 2026-11-23 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c5a7e9f1d3b4"
down_revision = "d6b8f0a2e4c5"
branch_labels = None
depends_on = None


def _step():
    return sa.Enum("first", "second", name="reviewstep", native_enum=False, length=20)


def upgrade():
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archive_agency", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("reviews_own_hours", sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table("deferrals",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("year", sa.Integer(), nullable=False),
    sa.Column("reason_kind", sa.Enum("illness", "injury", "pregnancy", name="deferralreason", native_enum=False, length=20), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("ends_on", sa.Date(), nullable=False),
    sa.Column("granted_by_id", sa.Integer(), nullable=False),
    sa.Column("granted_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["granted_by_id"], ["users.id"], name=op.f("fk_deferrals_granted_by_id_users")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_deferrals_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_deferrals")),
    sa.UniqueConstraint("user_id", "year", name="uq_deferrals_user_year")
    )
    with op.batch_alter_table("deferrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deferrals_user_id"), ["user_id"], unique=False)

    op.create_table("archive_hostings",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("agency_id", sa.Integer(), nullable=False),
    sa.Column("recorded_by_id", sa.Integer(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["agency_id"], ["orgs.id"], name=op.f("fk_archive_hostings_agency_id_orgs")),
    sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"], name=op.f("fk_archive_hostings_recorded_by_id_users")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_archive_hostings_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_hostings")),
    sa.UniqueConstraint("user_id", name=op.f("uq_archive_hostings_user_id"))
    )
    with op.batch_alter_table("archive_hostings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_archive_hostings_agency_id"), ["agency_id"], unique=False)

    op.create_table("declarations",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("year", sa.Integer(), nullable=False),
    sa.Column("rule_set_id", sa.String(length=40), nullable=False),
    sa.Column("kind", sa.String(length=40), nullable=False),
    sa.Column("kind_label", sa.String(length=200), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("start_date", sa.Date(), nullable=False),
    sa.Column("end_date", sa.Date(), nullable=False),
    sa.Column("facts", sa.JSON(), nullable=False),
    sa.Column("status", sa.Enum("pending", "returned", "rejected", "filed", "voided", name="declarationstatus", native_enum=False, length=20), nullable=False),
    sa.Column("step", _step(), nullable=True),
    sa.Column("first_org_id", sa.Integer(), nullable=False),
    sa.Column("second_org_id", sa.Integer(), nullable=True),
    sa.Column("hours", sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column("category", sa.String(length=20), nullable=False),
    sa.Column("outcome", sa.JSON(), nullable=False),
    sa.Column("final_hours", sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column("final_outcome", sa.JSON(), nullable=True),
    sa.Column("deferral_id", sa.Integer(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["deferral_id"], ["deferrals.id"], name=op.f("fk_declarations_deferral_id_deferrals")),
    sa.ForeignKeyConstraint(["first_org_id"], ["orgs.id"], name=op.f("fk_declarations_first_org_id_orgs")),
    sa.ForeignKeyConstraint(["second_org_id"], ["orgs.id"], name=op.f("fk_declarations_second_org_id_orgs")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_declarations_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_declarations"))
    )
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declarations_first_org_id"), ["first_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_declarations_second_org_id"), ["second_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_declarations_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_declarations_user_id"), ["user_id"], unique=False)

    op.create_table("declaration_decisions",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("declaration_id", sa.Integer(), nullable=False),
    sa.Column("step", _step(), nullable=True),
    sa.Column("action", sa.Enum("submitted", "approved", "rejected", "returned", "resubmitted", "filed", "voided", name="decisionaction", native_enum=False, length=20), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("hours", sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column("actor_id", sa.Integer(), nullable=False),
    sa.Column("actor_org_id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_declaration_decisions_actor_id_users")),
    sa.ForeignKeyConstraint(["actor_org_id"], ["orgs.id"], name=op.f("fk_declaration_decisions_actor_org_id_orgs")),
    sa.ForeignKeyConstraint(["declaration_id"], ["declarations.id"], name=op.f("fk_declaration_decisions_declaration_id_declarations")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration_decisions"))
    )
    with op.batch_alter_table("declaration_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declaration_decisions_declaration_id"), ["declaration_id"], unique=False)

    op.create_table("declaration_evidence",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("declaration_id", sa.Integer(), nullable=False),
    sa.Column("key", sa.String(length=200), nullable=False),
    sa.Column("filename", sa.String(length=200), nullable=False),
    sa.Column("content_type", sa.String(length=40), nullable=False),
    sa.Column("size_bytes", sa.Integer(), nullable=False),
    sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["declaration_id"], ["declarations.id"], name=op.f("fk_declaration_evidence_declaration_id_declarations")),
    sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"], name=op.f("fk_declaration_evidence_uploaded_by_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration_evidence")),
    sa.UniqueConstraint("key", name=op.f("uq_declaration_evidence_key"))
    )
    with op.batch_alter_table("declaration_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declaration_evidence_declaration_id"), ["declaration_id"], unique=False)


def downgrade():
    with op.batch_alter_table("declaration_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declaration_evidence_declaration_id"))
    op.drop_table("declaration_evidence")
    with op.batch_alter_table("declaration_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declaration_decisions_declaration_id"))
    op.drop_table("declaration_decisions")
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declarations_user_id"))
        batch_op.drop_index(batch_op.f("ix_declarations_status"))
        batch_op.drop_index(batch_op.f("ix_declarations_second_org_id"))
        batch_op.drop_index(batch_op.f("ix_declarations_first_org_id"))
    op.drop_table("declarations")
    with op.batch_alter_table("archive_hostings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_archive_hostings_agency_id"))
    op.drop_table("archive_hostings")
    with op.batch_alter_table("deferrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deferrals_user_id"))
    op.drop_table("deferrals")
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_column("reviews_own_hours")
        batch_op.drop_column("archive_agency")
