"""Declarations of off-platform hours, their evidence files, every review decision, and deferrals.

A declaration's decisions are rows that are only ever added (``DeclarationDecision``): who decided what, when
and why. The declaration row carries the current state, changed only by a conditional update on ``version`` so
that two reviewers deciding at once cannot both win.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.extensions import db
from lms.orgs.models import Org

HOURS = sa.Numeric(6, 1)


class DeclarationStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the reviewer of ``step``
    RETURNED = "returned"  # sent back to the learner for more evidence
    REJECTED = "rejected"
    FILED = "filed"  # approved at the last step (备案) and posted to the ledger
    VOIDED = "voided"  # found false (第二十一条): the person's hours of the year are voided

    @property
    def label(self) -> str:
        return {"pending": "审核中", "returned": "退回补充材料", "rejected": "未通过", "filed": "已备案入账",
                "voided": "弄虚作假，已取消当年度学时"}[self.value]


class DecisionAction(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    RESUBMITTED = "resubmitted"
    FILED = "filed"
    VOIDED = "voided"

    @property
    def label(self) -> str:
        return {"submitted": "提交申报", "approved": "审核通过", "rejected": "审核不通过",
                "returned": "退回补充材料", "resubmitted": "补充材料后重新提交", "filed": "备案并入账",
                "voided": "认定弄虚作假（第二十一条）"}[self.value]


class DeferralReason(enum.StrEnum):
    ILLNESS = "illness"
    INJURY = "injury"
    PREGNANCY = "pregnancy"
    OTHER = "other"  # "伤、病、孕等": another special reason, explained and certified by an attached unit document

    @property
    def label(self) -> str:
        return {"illness": "病", "injury": "伤", "pregnancy": "孕", "other": "其他特殊原因"}[self.value]


class Declaration(db.Model):
    __tablename__ = "declarations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # The year the hours count in: the year they were earned, or a deferred year (第十七条).
    year: Mapped[int]
    rule_set_id: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(40))
    kind_label: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]  # the day the hours were earned (ledger ``earned_on``)
    facts: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[DeclarationStatus] = mapped_column(enum_column(DeclarationStatus), index=True)
    # The position in ``review_steps`` waiting (pending) or that sent it back (returned); None once decided.
    step_index: Mapped[int | None]
    # The first step's organisation (the unit or archive agency): whose subtree sees the declaration.
    first_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    # What the engine computed when the learner submitted, and again at final approval.
    hours: Mapped[decimal.Decimal] = mapped_column(HOURS)
    category: Mapped[str] = mapped_column(sa.String(20))
    outcome: Mapped[dict] = mapped_column(sa.JSON)
    final_hours: Mapped[decimal.Decimal | None] = mapped_column(HOURS)
    final_outcome: Mapped[dict | None] = mapped_column(sa.JSON)
    deferral_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deferrals.id"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    first_org: Mapped[Org] = relationship(foreign_keys=[first_org_id])
    review_steps: Mapped[list[DeclarationReviewStep]] = relationship(order_by="DeclarationReviewStep.position")
    evidence: Mapped[list[DeclarationEvidence]] = relationship(back_populates="declaration",
                                                               order_by="DeclarationEvidence.id")
    decisions: Mapped[list[DeclarationDecision]] = relationship(order_by="DeclarationDecision.id")
    deferral: Mapped[Deferral | None] = relationship()

    @property
    def current_step(self) -> DeclarationReviewStep | None:
        """The step waiting for its reviewer (or that sent the declaration back); None once decided."""
        if self.step_index is None or self.step_index >= len(self.review_steps):
            return None
        return self.review_steps[self.step_index]


class DeclarationReviewStep(db.Model):
    """One step of a declaration's chain, its reviewing organisation fixed at submission (第十四条, rule set)."""

    __tablename__ = "declaration_review_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declarations.id"))
    position: Mapped[int]
    reviewer: Mapped[str] = mapped_column(sa.String(20))  # the rule set's reviewer kind: unit, department, hr, …
    label: Mapped[str] = mapped_column(sa.String(40))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)

    org: Mapped[Org] = relationship()

    __table_args__ = (sa.UniqueConstraint("declaration_id", "position", name="uq_declaration_review_steps_position"),)


class DeclarationEvidence(db.Model):
    """One evidence file (PDF, PNG or JPEG, checked by content) kept in object storage."""

    __tablename__ = "declaration_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declarations.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    # Which of the kind's required materials (rule set ``materials.items``) the file is; None: another file.
    material: Mapped[str | None] = mapped_column(sa.String(40))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    declaration: Mapped[Declaration] = relationship(back_populates="evidence")


class DeclarationDecision(db.Model):
    """One step in a declaration's history, kept for good and never edited."""

    __tablename__ = "declaration_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declarations.id"), index=True)
    step_index: Mapped[int | None]  # the chain position decided, None for the learner's own actions
    step_label: Mapped[str | None] = mapped_column(sa.String(40))
    action: Mapped[DecisionAction] = mapped_column(enum_column(DecisionAction))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    hours: Mapped[decimal.Decimal | None] = mapped_column(HOURS)  # what the engine computed at this decision
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    actor_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor: Mapped[User] = relationship(foreign_keys=[actor_id])
    actor_org: Mapped[Org] = relationship(foreign_keys=[actor_org_id])


class Deferral(db.Model):
    """第十七条: the unit certifies illness, injury or pregnancy; the year may be completed until ``ends_on``."""

    __tablename__ = "deferrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    year: Mapped[int]
    reason_kind: Mapped[DeferralReason] = mapped_column(enum_column(DeferralReason))
    reason: Mapped[str] = mapped_column(sa.Text)
    ends_on: Mapped[dt.date]
    granted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The unit's certificate (第十七条 "由所在单位出具证明"), required for a reason outside the text's list.
    attachment_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    attachment_filename: Mapped[str | None] = mapped_column(sa.String(200))
    attachment_content_type: Mapped[str | None] = mapped_column(sa.String(40))
    attachment_size: Mapped[int | None]
    # 第十七条 "无正当理由不参加补学的，用人单位应在其申报职称时延长相应年限": the unit records it on the failed year.
    title_extension_reason: Mapped[str | None] = mapped_column(sa.Text)
    title_extension_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    title_extension_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    granted_by: Mapped[User] = relationship(foreign_keys=[granted_by_id])
    title_extension_by: Mapped[User | None] = relationship(foreign_keys=[title_extension_by_id])

    __table_args__ = (sa.UniqueConstraint("user_id", "year", name="uq_deferrals_user_year"),)


class ArchiveHosting(db.Model):
    """档案托管 (第十四条): a person whose archive an agency hosts; that agency first-reviews their hours."""

    __tablename__ = "archive_hostings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    agency: Mapped[Org] = relationship()
