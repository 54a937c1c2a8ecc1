"""Courses, their coursewares, the media behind each courseware, and enrolments."""

from __future__ import annotations

import datetime as dt
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import enum_column, utcnow
from lms.extensions import db
from lms.orgs.models import Org

# 学时管理办法 第四条: one hour (学时) is at least 45 minutes of study.
SECONDS_PER_CREDIT_HOUR = 45 * 60


class Category(enum.StrEnum):
    PUBLIC = "public"  # 公需科目
    PROFESSIONAL = "professional"  # 专业科目

    @property
    def label(self) -> str:
        return {"public": "公需科目", "professional": "专业科目"}[self.value]


class CourseState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"draft": "草稿", "published": "已发布", "withdrawn": "已下架"}[self.value]


class MediaStatus(enum.StrEnum):
    UPLOADING = "uploading"  # multipart upload open, original not complete yet
    QUEUED = "queued"  # original complete in storage, job waiting
    PROCESSING = "processing"
    READY = "ready"  # HLS published (hls_version points at it)
    FAILED = "failed"  # not a playable video; the original is kept

    @property
    def label(self) -> str:
        return {"uploading": "上传中", "queued": "排队处理", "processing": "转码中", "ready": "可播放",
                "failed": "处理失败"}[self.value]


class Course(db.Model):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    category: Mapped[Category] = mapped_column(enum_column(Category))
    year: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[CourseState] = mapped_column(enum_column(CourseState), default=CourseState.DRAFT, index=True)
    published_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    base: Mapped[Org] = relationship()
    coursewares: Mapped[list[Courseware]] = relationship(
        back_populates="course", order_by="Courseware.position", cascade="all, delete-orphan"
    )

    @property
    def labelled_hours(self) -> decimal.Decimal:
        return sum((c.labelled_hours for c in self.coursewares), decimal.Decimal(0))


class MediaAsset(db.Model):
    """One uploaded video: its original in storage and, once processed, its published HLS version."""

    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The courseware this video was uploaded for; the courseware points at it only once the upload completes,
    # so the previous video keeps playing until then.
    courseware_id: Mapped[int | None] = mapped_column(sa.ForeignKey("coursewares.id", use_alter=True), index=True)
    original_key: Mapped[str] = mapped_column(sa.String(512))
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    content_type: Mapped[str] = mapped_column(sa.String(100), default="application/octet-stream")
    # The S3 multipart upload id (or the local store's upload folder) while status is "uploading".
    upload_id: Mapped[str | None] = mapped_column(sa.String(255))
    part_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    status: Mapped[MediaStatus] = mapped_column(enum_column(MediaStatus), default=MediaStatus.UPLOADING)
    error_message: Mapped[str | None] = mapped_column(sa.String(500))
    progress_percent: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    duration_s: Mapped[float | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    video_codec: Mapped[str | None] = mapped_column(sa.String(30))
    audio_codec: Mapped[str | None] = mapped_column(sa.String(30))
    # Published output lives under media/<id>/v<hls_version>/; a retried job writes a new version and
    # the row points at it only once everything is in storage, so nothing is ever half-published.
    hls_version: Mapped[int | None]
    renditions: Mapped[list | None] = mapped_column(sa.JSON)
    encrypted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]

    @property
    def hls_prefix(self) -> str | None:
        return None if self.hls_version is None else f"media/{self.id}/v{self.hls_version}/"

    @property
    def max_labelled_hours(self) -> decimal.Decimal | None:
        """The most hours this video can carry: its duration ÷ 45 minutes, rounded down to 0.1."""
        if not self.duration_s:
            return None
        tenths = int(self.duration_s * 10 // SECONDS_PER_CREDIT_HOUR)
        return decimal.Decimal(tenths) / 10


class Courseware(db.Model):
    __tablename__ = "coursewares"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(100))
    # 标定学时, in tenths of an hour at most; never more than the video's duration ÷ 45 minutes.
    labelled_hours: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(4, 1))
    media_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id"))

    course: Mapped[Course] = relationship(back_populates="coursewares")
    media: Mapped[MediaAsset | None] = relationship(foreign_keys=[media_id])

    __table_args__ = (
        sa.UniqueConstraint("course_id", "position", name="uq_coursewares_course_position"),
        sa.CheckConstraint("labelled_hours > 0", name="positive_hours"),
    )


class Enrollment(db.Model):
    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "course_id", name="uq_enrollments_user_course"),)
