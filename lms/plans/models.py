"""Bases' plan filings with every submitted version, course vetting (课程审核) and departments' annual materials."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.extensions import db
from lms.orgs.models import Org


class FilingKind(enum.StrEnum):
    """The three things a base files with its competent department (admin manual 5.1.5)."""

    ANNUAL_PLAN = "annual_plan"  # 年度培训计划: the courses and trainings of a year
    TRAINING = "training"  # 培训计划申报: one training the base plans to run
    SUMMARY = "summary"  # 年度工作总结

    @property
    def label(self) -> str:
        return {"annual_plan": "年度培训计划", "training": "培训计划申报", "summary": "年度工作总结"}[self.value]


# One annual plan and one summary per base and year; a base may file any number of single trainings.
ONE_PER_YEAR = (FilingKind.ANNUAL_PLAN, FilingKind.SUMMARY)


class FilingStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # waiting for the department
    RETURNED = "returned"  # sent back with a reason: the base revises and submits again
    APPROVED = "approved"
    REJECTED = "rejected"  # final; the base may file anew for the year

    @property
    def label(self) -> str:
        return {"submitted": "待主管部门审核", "returned": "已退回修改", "approved": "已通过",
                "rejected": "未通过"}[self.value]


class PlanFiling(db.Model):
    """One plan, training or summary of a base for a year; its content lives in its versions."""

    __tablename__ = "plan_filings"

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    # The competent department that decides, fixed when first submitted (a later parent move keeps it).
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    kind: Mapped[FilingKind] = mapped_column(enum_column(FilingKind))
    year: Mapped[int]
    status: Mapped[FilingStatus] = mapped_column(enum_column(FilingStatus), default=FilingStatus.SUBMITTED)
    version_count: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # of the latest version
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # of the latest decision

    base: Mapped[Org] = relationship(foreign_keys=[base_id])
    department: Mapped[Org] = relationship(foreign_keys=[department_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    versions: Mapped[list[PlanVersion]] = relationship(back_populates="filing", order_by="PlanVersion.number")

    @property
    def latest(self) -> PlanVersion:
        return self.versions[-1]

    @property
    def title(self) -> str:
        return self.latest.title

    __table_args__ = (
        sa.Index("uq_plan_filings_one_per_year", "base_id", "kind", "year", unique=True,
                 postgresql_where=sa.text("kind IN ('annual_plan', 'summary') AND status <> 'rejected'"),
                 sqlite_where=sa.text("kind IN ('annual_plan', 'summary') AND status <> 'rejected'")),
        sa.Index("ix_plan_filings_department_status", "department_id", "status"),
    )


class PlanVersion(db.Model):
    """What the base submitted once, kept as it was; a revision adds a version, it never changes one."""

    __tablename__ = "plan_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_filings.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(100))
    # Annual plan and training: {"items": [{title, kind, category, start_date, end_date, hours, expected}]};
    # summary: {"text": ..., "trained_people": n}. Always what the service validated.
    content: Mapped[dict] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The department's answer to this version (None while it waits).
    decision: Mapped[FilingStatus | None] = mapped_column(enum_column(FilingStatus))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.String(500))

    filing: Mapped[PlanFiling] = relationship(back_populates="versions")
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    attachments: Mapped[list[PlanAttachment]] = relationship(back_populates="version", order_by="PlanAttachment.id")

    __table_args__ = (sa.UniqueConstraint("filing_id", "number", name="uq_plan_versions_filing_number"),)


class PlanAttachment(db.Model):
    """A file of one version; a revision that keeps a file points at the same stored object (never deleted)."""

    __tablename__ = "plan_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(200))
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    version: Mapped[PlanVersion] = relationship(back_populates="attachments")


class VettingStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {"pending": "待主管部门审核", "approved": "主管部门已通过", "rejected": "主管部门未通过"}[self.value]


class CourseVetting(db.Model):
    """The competent department's vetting of a base's course (课程审核, 学时管理办法第十五条).

    A row exists only for a course published where the rule set asks for vetting; such a course reaches the
    learners' catalogue only once the row is approved. Courses published where it does not (or before the gate
    existed) have no row and are listed as before.
    """

    __tablename__ = "course_vettings"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"), unique=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    status: Mapped[VettingStatus] = mapped_column(enum_column(VettingStatus), default=VettingStatus.PENDING)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.String(500))

    course = relationship("Course")
    department: Mapped[Org] = relationship()
    decided_by: Mapped[User | None] = relationship()


class MaterialKind(enum.StrEnum):
    GUIDE = "guide"
    NOTICE = "notice"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"guide": "学习指南", "notice": "工作通知", "other": "其他材料"}[self.value]


class WorkMaterial(db.Model):
    """A competent department's annual work material (年度工作材料报送, admin manual 5.3) for the HR bureau above."""

    __tablename__ = "work_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    bureau_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    year: Mapped[int] = mapped_column(index=True)
    kind: Mapped[MaterialKind] = mapped_column(enum_column(MaterialKind))
    title: Mapped[str] = mapped_column(sa.String(100))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    department: Mapped[Org] = relationship(foreign_keys=[department_id])
    bureau: Mapped[Org] = relationship(foreign_keys=[bureau_id])
    submitted_by: Mapped[User] = relationship()
    files: Mapped[list[WorkMaterialFile]] = relationship(back_populates="material", order_by="WorkMaterialFile.id")


class WorkMaterialFile(db.Model):
    __tablename__ = "work_material_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(sa.ForeignKey("work_materials.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    material: Mapped[WorkMaterial] = relationship(back_populates="files")
