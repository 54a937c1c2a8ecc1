"""Demo data for a first run: a small organisation tree, one admin of each role, a learner and a base."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from lms.accounts.models import ADMIN_ROLE_FOR_KIND, Role, User
from lms.accounts.passwords import hash_password
from lms.core.db import utcnow
from lms.core.idcard import make_id_number
from lms.extensions import db
from lms.orgs.models import Org, OrgKind, ReviewStatus
from lms.orgs.service import credit_code_check_char, set_path

DEMO_PASSWORD = "Demo2026lms"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    login: str
    org: str


def credit_code(serial: int) -> str:
    """Build a valid unified social credit code for demo organisations."""
    first17 = f"12420000{serial:09d}"
    return first17 + credit_code_check_char(first17)


def _org(kind: OrgKind, name: str, parent: Org | None, serial: int | None = None) -> Org:
    org = db.session.scalar(sa.select(Org).where(Org.name == name, Org.kind == kind))
    if org is None:
        org = Org(kind=kind, name=name, parent=parent, status=ReviewStatus.APPROVED, reviewed_at=utcnow(),
                  credit_code=credit_code(serial) if serial else None)
        db.session.add(org)
        db.session.flush()
        set_path(org)
    return org


def _user(org: Org, role: Role, login: str, name: str, phone: str, **extra) -> User:
    user = db.session.scalar(sa.select(User).where(User.login == login))
    if user is None:
        user = User(login=login, org=org, role=role, name=name, phone=phone, status=ReviewStatus.APPROVED,
                    password_hash=hash_password(DEMO_PASSWORD), reviewed_at=utcnow(), **extra)
        db.session.add(user)
        db.session.flush()
    return user


def seed_demo_data() -> list[DemoLogin]:
    """Create (or find) the demo tree and accounts; safe to run again."""
    province = _org(OrgKind.PROVINCE_HR, "湖北省人力资源和社会保障厅", None)
    city = _org(OrgKind.CITY_HR, "荆州市人力资源和社会保障局", province)
    county = _org(OrgKind.COUNTY_HR, "沙市区人力资源和社会保障局", city)
    department = _org(OrgKind.DEPARTMENT, "荆州市卫生健康委员会", city, serial=1)
    unit = _org(OrgKind.UNIT, "荆州市中心医院", department, serial=2)
    base = _org(OrgKind.BASE, "长江大学继续教育基地", department, serial=3)
    admins = [
        (province, "province_admin", "省厅管理员", "13900000001"),
        (city, "city_admin", "市人社局管理员", "13900000002"),
        (county, "county_admin", "区人社局管理员", "13900000003"),
        (department, "dept_admin", "卫健委管理员", "13900000004"),
        (unit, "unit_admin", "医院管理员", "13900000005"),
        (base, "base_admin", "基地管理员", "13900000006"),
    ]
    logins = []
    for org, login, name, phone in admins:
        _user(org, ADMIN_ROLE_FOR_KIND[org.kind], login, name, phone)
        logins.append(DemoLogin(ADMIN_ROLE_FOR_KIND[org.kind].label, login, org.name))
    _user(province, Role.REVIEWER, "reviewer", "防作弊审核员", "13900000007")
    logins.append(DemoLogin(Role.REVIEWER.label, "reviewer", province.name))
    learner_id = make_id_number("421002", dt.date(1988, 5, 17), 123)
    _user(unit, Role.LEARNER, learner_id, "张明", "13800001234", id_number=learner_id,
          title_series="卫生技术人员", professional_post="主治医师")
    logins.append(DemoLogin(Role.LEARNER.label, learner_id, unit.name))
    db.session.flush()
    return logins


DEMO_COURSES = (
    # (category, title, description, [(courseware title, video minutes, labelled hours)])
    ("public", "专业技术人员职业道德与诚信建设", "公需科目示例课程：职业道德、学术诚信与法律责任。",
     [("第一讲 职业道德概述", 5, "0.1"), ("第二讲 学术诚信", 5, "0.1")]),
    ("professional", "医疗质量安全核心制度解读", "专业科目示例课程：首诊负责、三级查房与病历书写规范。",
     [("第一讲 首诊负责制度", 5, "0.1"), ("第二讲 三级查房制度", 5, "0.1")]),
)


def generate_lecture_video(path, minutes: int, label: str) -> None:
    """Make a small H.264/AAC lecture stand-in with ffmpeg (test pattern, a tone, and its title burnt in)."""
    import subprocess

    seconds = minutes * 60
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=15:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
         "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k", "-shortest", "-metadata",
         f"title={label}", "-movflags", "+faststart", str(path)],
        check=True,
    )


def seed_demo_courses(base_admin: User) -> list[str]:
    """Create the demo's published 公需 and 专业 courses; their videos go through the real media pipeline."""
    import decimal
    import tempfile
    from pathlib import Path

    from flask import current_app

    from lms.courses import service as courses
    from lms.courses.models import Course, Courseware, MediaAsset, MediaStatus
    from media_worker.jobs import process_media

    store = current_app.extensions["lms.storage"]
    made = []
    for category, title, description, lectures in DEMO_COURSES:
        if db.session.scalar(sa.select(Course.id).where(Course.title == title, Course.base_id == base_admin.org_id)):
            continue
        course = courses.create_course(base_admin, {"category": category, "year": courses.current_year(),
                                                    "title": title, "description": description})
        for lecture, minutes, hours in lectures:
            courseware = Courseware(course=course, position=len(course.coursewares) + 1, title=lecture,
                                    labelled_hours=decimal.Decimal(hours))
            db.session.add(courseware)
            db.session.flush()
            with tempfile.TemporaryDirectory() as folder:
                video = Path(folder) / "lecture.mp4"
                generate_lecture_video(video, minutes, lecture)
                asset = MediaAsset(base_id=base_admin.org_id, uploaded_by_id=base_admin.id, original_key="",
                                   original_filename=f"{lecture}.mp4", size_bytes=video.stat().st_size,
                                   content_type="video/mp4", status=MediaStatus.QUEUED, courseware_id=courseware.id)
                db.session.add(asset)
                db.session.flush()
                asset.original_key = f"media/{asset.id}/original/lecture.mp4"
                with video.open("rb") as stream:
                    store.put(asset.original_key, stream, asset.size_bytes, "video/mp4")
                courseware.media_id = asset.id
                db.session.commit()
            process_media(asset.id)  # the same job the worker runs, here in the foreground
        courses.publish_course(base_admin, course.id)
        db.session.commit()
        made.append(title)
    return made
