"""User accounts and the log of registration decisions."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import enum_column, utcnow
from lms.core.idcard import mask_id_number, mask_phone
from lms.extensions import db
from lms.orgs.models import Org, OrgAdmin, OrgKind, ReviewStatus


class Role(enum.StrEnum):
    LEARNER = "learner"
    UNIT_ADMIN = "unit_admin"
    DEPARTMENT_ADMIN = "department_admin"
    HR_ADMIN = "hr_admin"
    BASE_ADMIN = "base_admin"
    REVIEWER = "reviewer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.LEARNER: "专业技术人员",
    Role.UNIT_ADMIN: "用人单位管理员",
    Role.DEPARTMENT_ADMIN: "主管部门管理员",
    Role.HR_ADMIN: "人社部门管理员",
    Role.BASE_ADMIN: "继续教育基地管理员",
    Role.REVIEWER: "防作弊审核员",
}

# The organisation kind each role belongs to; an account's org must be of that kind.
ROLE_ORG_KINDS = {
    Role.LEARNER: frozenset({OrgKind.UNIT}),
    Role.UNIT_ADMIN: frozenset({OrgKind.UNIT}),
    Role.DEPARTMENT_ADMIN: frozenset({OrgKind.DEPARTMENT}),
    Role.HR_ADMIN: frozenset({OrgKind.PROVINCE_HR, OrgKind.CITY_HR, OrgKind.COUNTY_HR}),
    Role.BASE_ADMIN: frozenset({OrgKind.BASE}),
    Role.REVIEWER: frozenset({OrgKind.PROVINCE_HR}),
}

ADMIN_ROLE_FOR_KIND = {
    OrgKind.PROVINCE_HR: Role.HR_ADMIN,
    OrgKind.CITY_HR: Role.HR_ADMIN,
    OrgKind.COUNTY_HR: Role.HR_ADMIN,
    OrgKind.DEPARTMENT: Role.DEPARTMENT_ADMIN,
    OrgKind.UNIT: Role.UNIT_ADMIN,
    OrgKind.BASE: Role.BASE_ADMIN,
}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Learners log in with their ID-card number; admins with the account name they chose.
    login: Mapped[str] = mapped_column(sa.String(40), unique=True)
    id_number: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    phone: Mapped[str] = mapped_column(sa.String(11))
    # active_history: a change loads the old value first, so the statistics' people counts
    # (lms.statistics.tally) know what the account was counted as, even when it was expired.
    role: Mapped[Role] = mapped_column(enum_column(Role), active_history=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True, active_history=True)
    status: Mapped[ReviewStatus] = mapped_column(enum_column(ReviewStatus), default=ReviewStatus.PENDING,
                                                 active_history=True)
    reject_reason: Mapped[str | None] = mapped_column(sa.String(200))
    title_series: Mapped[str | None] = mapped_column(sa.String(30))
    professional_post: Mapped[str | None] = mapped_column(sa.String(50))
    # 职称级别 (正高级 … 初级) and 学历: like the series and the post, changed only through a reviewed request
    # (lms.accounts.changes) once the account is approved.
    title_level: Mapped[str | None] = mapped_column(sa.String(10))
    education: Mapped[str | None] = mapped_column(sa.String(20))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    # Bumped on every password change so that old sessions and API tokens stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    reviewed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # 停用 (admin manual 5.1.2): a disabled account cannot log in; its ledger and history stay.
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Set by an admin's password reset: the temporary password works only to choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    org: Mapped[Org] = relationship()
    admin_membership: Mapped[OrgAdmin | None] = relationship(foreign_keys="OrgAdmin.user_id", uselist=False,
                                                            lazy="selectin", viewonly=True)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        # Pending and rejected people may log in, but only to see and correct their registration.
        return True

    @property
    def is_approved(self) -> bool:
        return (self.status == ReviewStatus.APPROVED and self.disabled_at is None
                and self.org.status == ReviewStatus.APPROVED and self.org.disabled_at is None)

    @property
    def is_admin(self) -> bool:
        """Whether the account administers an organisation (its rights: ``lms.orgs.access``)."""
        return self.admin_membership is not None

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value} {self.login!r}>"


class DecisionAction(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RESUBMITTED = "resubmitted"
    CREATED = "created"
    IMPORTED = "imported"

    @property
    def label(self) -> str:
        return {"submitted": "提交注册", "approved": "审核通过", "rejected": "审核不通过",
                "resubmitted": "修改后重新提交", "created": "由上级创建", "imported": "由单位批量导入"}[self.value]


class RegistrationDecision(db.Model):
    """Every step of a registration (submitted, approved, rejected, resubmitted), kept for good."""

    __tablename__ = "registration_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    action: Mapped[DecisionAction] = mapped_column(enum_column(DecisionAction))
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class PasswordResetCode(db.Model):
    """A code sent to a person's registered phone to choose a new password (忘记密码); only its hash is kept."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[dt.datetime | None]
    # A newer code, too many wrong guesses, or a password set otherwise ends a code before it expires.
    voided_at: Mapped[dt.datetime | None]


class PersonChange(db.Model):
    """A learner's request to change reviewed personal data (人员信息修改审核, admin manual 5.1.4.1).

    ``before`` and ``after`` hold only the fields asked for: the values when asked and the values wanted.
    """

    __tablename__ = "person_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[ReviewStatus] = mapped_column(enum_column(ReviewStatus), default=ReviewStatus.PENDING)
    before: Mapped[dict] = mapped_column(sa.JSON)
    after: Mapped[dict] = mapped_column(sa.JSON)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.String(200))  # why the unit rejected it; the learner reads it

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        # One open request per person, held by the database so that two concurrent requests cannot make two.
        sa.Index("uq_person_changes_one_open", "user_id", unique=True,
                 postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
        sa.Index("ix_person_changes_status", "status"),
    )
