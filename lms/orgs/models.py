"""Organisations and the tree they form."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import enum_column, utcnow
from lms.extensions import db


class OrgKind(enum.StrEnum):
    PROVINCE_HR = "province_hr"
    CITY_HR = "city_hr"
    COUNTY_HR = "county_hr"
    DEPARTMENT = "department"
    UNIT = "unit"
    BASE = "base"

    @property
    def label(self) -> str:
        return ORG_KIND_LABELS[self]

    @property
    def is_hr(self) -> bool:
        return self in HR_KINDS


ORG_KIND_LABELS = {
    OrgKind.PROVINCE_HR: "省人力资源和社会保障厅",
    OrgKind.CITY_HR: "市（州）人社部门",
    OrgKind.COUNTY_HR: "县（市、区）人社部门",
    OrgKind.DEPARTMENT: "主管部门",
    OrgKind.UNIT: "用人单位",
    OrgKind.BASE: "继续教育基地",
}

HR_KINDS = frozenset({OrgKind.PROVINCE_HR, OrgKind.CITY_HR, OrgKind.COUNTY_HR})

# Which kind may hang under which (鄂人社函〔2026〕35号 二(二)): competent departments under an HR
# bureau of their level, units and bases under a competent department.
ALLOWED_PARENTS = {
    OrgKind.PROVINCE_HR: frozenset(),
    OrgKind.CITY_HR: frozenset({OrgKind.PROVINCE_HR}),
    OrgKind.COUNTY_HR: frozenset({OrgKind.CITY_HR}),
    OrgKind.DEPARTMENT: HR_KINDS,
    OrgKind.UNIT: frozenset({OrgKind.DEPARTMENT}),
    OrgKind.BASE: frozenset({OrgKind.DEPARTMENT}),
}

SELF_REGISTERING_KINDS = (OrgKind.DEPARTMENT, OrgKind.UNIT, OrgKind.BASE)


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {"pending": "待审核", "approved": "已通过", "rejected": "未通过"}[self.value]


class Org(db.Model):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind))
    name: Mapped[str] = mapped_column(sa.String(100))
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    # Materialised path "/1/4/9/" so that "is X inside Y's subtree" is one indexed prefix test.
    path: Mapped[str] = mapped_column(sa.String(255), index=True, default="")
    status: Mapped[ReviewStatus] = mapped_column(enum_column(ReviewStatus), default=ReviewStatus.PENDING)
    reject_reason: Mapped[str | None] = mapped_column(sa.String(200))
    reviewed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The rule-set region of the people under it ("hubei", "hunan"); None inherits the nearest ancestor's.
    region: Mapped[str | None] = mapped_column(sa.String(20))
    # 学时管理办法第十四条 (lms.declarations): a unit that is a personnel-archive agency (人事档案管理服务机构)
    # first-reviews the hours of the people whose archives it hosts; a central unit in the province
    # (中央在鄂单位) reviews its own people's hours, with no second review.
    archive_agency: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    reviews_own_hours: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # 停用 (admin manual 5.1.2): a disabled organisation's admins and people cannot log in; data stays.
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Contact details (基本信息管理, admin manual 5.1.1.1): the organisation's admin changes them at once;
    # the name and credit code change only through an OrgChange the level above approves (lms.orgs.changes).
    address: Mapped[str | None] = mapped_column(sa.String(200))
    contact_name: Mapped[str | None] = mapped_column(sa.String(50))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))

    parent: Mapped[Org | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Org]] = relationship(back_populates="parent", order_by="Org.id")

    __table_args__ = (
        sa.UniqueConstraint("parent_id", "name", name="uq_orgs_parent_name"),
        # A subtree is "path LIKE '/1/4/%'"; text_pattern_ops lets PostgreSQL use the index whatever the collation.
        sa.Index("ix_orgs_path_pattern", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    def is_within(self, ancestor: Org) -> bool:
        """Return whether this organisation is ``ancestor`` or lies under it."""
        return self.path.startswith(ancestor.path)

    @property
    def is_active(self) -> bool:
        return self.status == ReviewStatus.APPROVED and self.disabled_at is None

    @property
    def ancestor_ids(self) -> list[int]:
        """The ids along the path, from the root down to this organisation itself."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def __repr__(self) -> str:
        return f"<Org {self.id} {self.kind.value} {self.name!r}>"


class OrgChange(db.Model):
    """A change of an organisation's identifying fields (机构信息修改审核, admin manual 5.1.4.2).

    Asked by the organisation's admin, decided by the admin of its direct parent; ``before`` and ``after``
    hold only the fields asked for.
    """

    __tablename__ = "org_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    status: Mapped[ReviewStatus] = mapped_column(enum_column(ReviewStatus), default=ReviewStatus.PENDING)
    before: Mapped[dict] = mapped_column(sa.JSON)
    after: Mapped[dict] = mapped_column(sa.JSON)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.String(200))

    org: Mapped[Org] = relationship()
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __table_args__ = (
        # One pending change per organisation, held by the database against two concurrent requests.
        sa.Index("uq_org_changes_one_open", "org_id", unique=True,
                 postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
    )


class AdminRole(db.Model):
    """A bundle of permissions (自定义角色, admin manual 5.1.1.3.1): an organisation's own, or built in."""

    __tablename__ = "admin_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    # Built-in roles are found by code ("session_reviewer"); an organisation's own roles have none.
    code: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    # Space-separated permission codes of lms.orgs.permissions.Permission.
    permission_codes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_admin_roles_org_name"),)

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permission_codes.split())


class OrgAdmin(db.Model):
    """An account's admin rights over one organisation and its subtree (管理员, admin manual 5.1.1.3).

    An account administers at most one organisation; the organisation has exactly one super admin.
    """

    __tablename__ = "org_admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    is_super: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    role_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin_roles.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    org: Mapped[Org] = relationship()
    role: Mapped[AdminRole | None] = relationship()

    __table_args__ = (
        # At most one super admin per organisation, enforced by the database so that two concurrent
        # hand-overs cannot leave two.
        sa.Index("uq_org_admins_one_super", "org_id", unique=True, postgresql_where=sa.text("is_super"),
                 sqlite_where=sa.text("is_super")),
    )


class MoveStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the old parent, the new parent, or both
    COMPLETED = "completed"  # both approved: the organisation hangs under the new parent since closed_at
    REFUSED = "refused"  # one of the two parents refused, with a reason
    WITHDRAWN = "withdrawn"  # the organisation withdrew it before both approved

    @property
    def label(self) -> str:
        return {"pending": "待审核", "completed": "已生效", "refused": "未通过", "withdrawn": "已撤回"}[self.value]


class ParentMove(db.Model):
    """An organisation's request to hang under another parent (更换上级部门, admin manual 5.1.1.1).

    It takes effect when both the old and the new parent approved, in either order; either may refuse with a reason.
    """

    __tablename__ = "org_parent_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    from_parent_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    to_parent_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    status: Mapped[MoveStatus] = mapped_column(enum_column(MoveStatus), default=MoveStatus.PENDING)
    note: Mapped[str | None] = mapped_column(sa.String(500))  # why the organisation asks
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    old_approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    old_approved_at: Mapped[dt.datetime | None]
    new_approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    new_approved_at: Mapped[dt.datetime | None]
    # Who ended it (the second approver, the refusing parent's admin, or the withdrawing admin), when and why.
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None]
    refusal_reason: Mapped[str | None] = mapped_column(sa.String(500))

    org: Mapped[Org] = relationship(foreign_keys=[org_id])
    from_parent: Mapped[Org] = relationship(foreign_keys=[from_parent_id])
    to_parent: Mapped[Org] = relationship(foreign_keys=[to_parent_id])
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    old_approved_by = relationship("User", foreign_keys=[old_approved_by_id])
    new_approved_by = relationship("User", foreign_keys=[new_approved_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])

    __table_args__ = (
        # One open move per organisation, held by the database so that two concurrent requests cannot make two.
        sa.Index("uq_org_parent_moves_one_open", "org_id", unique=True,
                 postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
    )


class InternalDepartment(db.Model):
    """A department inside an organisation (内设部门, admin manual 5.1.1.2): people are assigned to one.

    Not an organisation: it approves nothing and has no admins. Its materialised path ("/3/7/", ids of internal
    departments) makes "this department and its sub-departments" one prefix test.
    """

    __tablename__ = "internal_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))  # indexed first in (org_id, path)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("internal_departments.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    path: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    org: Mapped[Org] = relationship()
    parent: Mapped[InternalDepartment | None] = relationship(remote_side=[id])

    __table_args__ = (sa.Index("ix_internal_departments_org_path", "org_id", "path",
                               postgresql_ops={"path": "varchar_pattern_ops"}),)


class DepartmentMember(db.Model):
    """Which internal department a person belongs to: at most one, of their own organisation."""

    __tablename__ = "internal_department_members"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("internal_departments.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    department: Mapped[InternalDepartment] = relationship()
