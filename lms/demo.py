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
from lms.orgs.admins import ensure_default_membership
from lms.orgs.models import Org, OrgKind, ReviewStatus
from lms.orgs.service import credit_code_check_char, set_path

DEMO_PASSWORD = "Demo2026lms"
# The district learner whose playback is held for the district's own reviewer.
COUNTY_LEARNER_LOGIN = make_id_number("421002", dt.date(1990, 3, 8), 456)
# The learner whose demo playback is held for review (a learner logs in with the ID-card number).
HELD_LEARNER_LOGIN = make_id_number("421002", dt.date(1991, 9, 3), 246)


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
        ensure_default_membership(user)
    return user


MOVE_TARGET = "荆州市教育局"
MOVING_UNIT = "荆州市卫生学校"


def seed_demo_data() -> list[DemoLogin]:
    """Create (or find) the demo tree and accounts; safe to run again."""
    province = _org(OrgKind.PROVINCE_HR, "湖北省人力资源和社会保障厅", None)
    city = _org(OrgKind.CITY_HR, "荆州市人力资源和社会保障局", province)
    county = _org(OrgKind.COUNTY_HR, "沙市区人力资源和社会保障局", city)
    department = _org(OrgKind.DEPARTMENT, "荆州市卫生健康委员会", city, serial=1)
    unit = _org(OrgKind.UNIT, "荆州市中心医院", department, serial=2)
    base = _org(OrgKind.BASE, "长江大学继续教育基地", department, serial=3)
    # A second department and a school that asks to move under it (更换上级部门, waiting for both departments).
    education = _org(OrgKind.DEPARTMENT, MOVE_TARGET, city, serial=6)
    school = _org(OrgKind.UNIT, MOVING_UNIT, department, serial=7)
    admins = [
        (province, "province_admin", "省厅管理员", "13900000001"),
        (city, "city_admin", "市人社局管理员", "13900000002"),
        (county, "county_admin", "区人社局管理员", "13900000003"),
        (department, "dept_admin", "卫健委管理员", "13900000004"),
        (unit, "unit_admin", "医院管理员", "13900000005"),
        (base, "base_admin", "基地管理员", "13900000006"),
        (education, "dept2_admin", "教育局管理员", "13900000009"),
        (school, "unit3_admin", "卫生学校管理员", "13900000010"),
    ]
    logins = []
    for org, login, name, phone in admins:
        _user(org, ADMIN_ROLE_FOR_KIND[org.kind], login, name, phone)
        logins.append(DemoLogin(ADMIN_ROLE_FOR_KIND[org.kind].label, login, org.name))
    _user(province, Role.REVIEWER, "reviewer", "防作弊审核员", "13900000007")
    logins.append(DemoLogin(Role.REVIEWER.label, "reviewer", province.name))
    # Review close to the people (issue 16): the district bureau's own reviewer sees only the district's sessions.
    county_health = _org(OrgKind.DEPARTMENT, "沙市区卫生健康局", county, serial=8)
    county_hospital = _org(OrgKind.UNIT, "沙市区人民医院", county_health, serial=9)
    _user(county, Role.REVIEWER, "county_reviewer", "区防作弊审核员", "13900000008")
    logins.append(DemoLogin(Role.REVIEWER.label + "（区级）", "county_reviewer", county.name))
    _user(county_hospital, Role.LEARNER, COUNTY_LEARNER_LOGIN, "陈刚", "13800009012", id_number=COUNTY_LEARNER_LOGIN,
          title_series="卫生技术人员", professional_post="主管护师")
    logins.append(DemoLogin(Role.LEARNER.label + "（区级，观看记录待审核）", COUNTY_LEARNER_LOGIN,
                            county_hospital.name))
    # A second learner, whose one playback went at double speed for a while: the reviewer's queue has a real case.
    _user(unit, Role.LEARNER, HELD_LEARNER_LOGIN, "李华", "13800005678", id_number=HELD_LEARNER_LOGIN,
          title_series="卫生技术人员", professional_post="住院医师")
    logins.append(DemoLogin(Role.LEARNER.label + "（观看记录待审核）", HELD_LEARNER_LOGIN, unit.name))
    learner_id = make_id_number("421002", dt.date(1988, 5, 17), 123)
    _user(unit, Role.LEARNER, learner_id, "张明", "13800001234", id_number=learner_id,
          title_series="卫生技术人员", professional_post="主治医师", title_level="中级", education="大学本科")
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


DEMO_QUESTIONS = {
    # course title → (kind, prompt, options, answer) in the bank's own notation (letters, 正确/错误)
    "专业技术人员职业道德与诚信建设": [
        ("单选题", "专业技术人员在科研活动中发现数据造假，正确的做法是：",
         ["视而不见", "按规定如实报告", "私下修改数据", "删除原始记录"], "B"),
        ("判断题", "学术不端行为只包括抄袭，不包括伪造数据。", [], "错误"),
        ("多选题", "以下属于学术诚信要求的有：",
         ["如实标注引用", "不重复发表", "署名与贡献相符", "为通过评审夸大成果"], "ABC"),
        ("单选题", "继续教育学时认定中，提供虚假材料的后果是：",
         ["不影响当年学时", "仅扣除该项学时", "当年度学时全部作废", "下一年补足即可"], "C"),
    ],
    "医疗质量安全核心制度解读": [
        ("单选题", "首诊负责制度中，首诊医师对患者的责任持续到：",
         ["挂号结束", "患者离开诊室", "转诊或会诊交接完成", "当日下班"], "C"),
        ("判断题", "三级查房制度要求主任（副主任）医师定期查房。", [], "正确"),
        ("多选题", "病历书写应当做到：",
         ["客观", "真实", "及时", "事后集中补写"], "ABC"),
        ("单选题", "三级查房中，住院医师对所管患者应：",
         ["每周查房一次", "每日至少查房两次", "仅在病情变化时查房", "由护士代为查房"], "B"),
    ],
}


def seed_demo_quizzes(base_admin: User) -> list[str]:
    """Give each demo course a small question bank and an open quiz (draw 3, pass at 60, 15 minutes, 3 tries)."""
    from lms.courses.models import Course
    from lms.exams import service as exams

    opened = []
    for title, questions in DEMO_QUESTIONS.items():
        course = db.session.scalar(sa.select(Course).where(Course.title == title, Course.base_id == base_admin.org_id))
        if course is None or exams.bank_size(course.id):
            continue
        for kind, prompt, options, answer in questions:
            data = {"kind": kind, "prompt": prompt, "answer": answer}
            data.update({exams.option_field(index): text for index, text in enumerate(options)})
            exams.add_question(base_admin, course.id, data)
        exams.save_settings(base_admin, course.id, {"draw_count": 3, "pass_percent": 60, "time_limit_minutes": 15,
                                                    "max_attempts": 3, "wait_minutes": 0})
        exams.set_open(base_admin, course.id, True)
        db.session.commit()
        opened.append(title)
    return opened


def _evidence_image(text: str):
    """A small PNG standing in for a scanned certificate (evidence must be a real image or PDF)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 320), "white")
    ImageDraw.Draw(image).rectangle((10, 10, 470, 310), outline="black", width=4)
    ImageDraw.Draw(image).text((30, 150), text, fill="black")
    stream = io.BytesIO()
    image.save(stream, format="PNG")
    stream.seek(0)
    return stream


def _super_admin_of(org_id: int) -> User:
    from lms.orgs.models import OrgAdmin

    return db.session.scalar(sa.select(User).join(OrgAdmin, OrgAdmin.user_id == User.id)
                             .where(OrgAdmin.org_id == org_id, OrgAdmin.is_super))


def seed_demo_declarations(learner: User, unit_admin: User, dept_admin: User) -> list[str]:
    """File two declarations for the demo learner so their year is nearly complete.

    A qualification exam (60 专业) and a 公需 training course of 29.8 hours leave 0.2 公需 hours to earn: the
    demo 公需 course's quiz then completes the year and the certificate can be issued.
    """
    from lms.declarations import service as declarations
    from lms.declarations.models import Declaration
    from lms.ledger.service import china_today

    today = china_today()
    year = today.year
    start = max(dt.date(year, 1, 5), today - dt.timedelta(days=30))
    filings = [
        dict(kind_id="qualification_exam", title="主治医师资格考试（合格）", start_date=str(start),
             end_date=str(start), facts={}, materials={"certificate": "资格证书.png"}),
        dict(kind_id="org_training", title="全省卫生健康系统公需科目集中培训班",
             start_date=str(start + dt.timedelta(days=1)), end_date=str(start + dt.timedelta(days=4)),
             facts={"hours": "29.8", "travel_days": "0", "category": "public", "organiser": "hr"},
             materials={"attendance_proof": "结业证书.png"}),
    ]
    made = []
    for filing in filings:
        if db.session.scalar(sa.select(Declaration.id).where(Declaration.user_id == learner.id,
                                                              Declaration.title == filing["title"])):
            continue
        kind = declarations.kind_of(declarations.rule_set_for_person(learner, year), filing["kind_id"])
        form = {f"fact-{name}": value for name, value in filing.pop("facts").items()}
        facts = declarations.facts_from_form(kind, form, dt.date.fromisoformat(filing["start_date"]),
                                             dt.date.fromisoformat(filing["end_date"]))
        named = {material: [(_evidence_image("EVIDENCE"), name)] for material, name in filing.pop("materials").items()}
        declaration, _keys = declarations.submit(learner, year="", facts=facts, uploads=[], materials=named, **filing)
        for step in declaration.review_steps:  # hubei-2026: 单位审核, 主管部门审查, 人社部门审验
            declarations.decide(_super_admin_of(step.org_id), declaration.id, "approve", None)
        db.session.commit()
        made.append(filing["title"])
    return made


# The held demo playback, in stretches of (seconds of real time, playback rate, starts back at the furthest
# verified position), a heartbeat about every 5 s.
HELD_PLAYBACK = ((60, 1.0, False), (40, 2.0, False), (45, 1.0, True))
HELD_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0"


def seed_demo_hunan() -> list[str]:
    """A unit under Hunan's rules whose learner's 2024 paper was declared inside the 核认 window.

    See ``lms/declarations/demo.py``."""
    from lms.declarations.demo import seed_demo_hunan_window

    return seed_demo_hunan_window(_org, _user, _evidence_image)


def seed_demo_held_session(learner: User) -> str | None:
    """Play one session of the 专业 course's first lecture through the real tracking rules, on a simulated clock.

    A minute at the allowed rate, then 40 s at double speed (the page reporting its rate, as the player does),
    then back to the furthest verified position and honest again, starting an hour ago. The rules refuse the
    double-speed stretch and its evidence holds the session, so the reviewer's queue has a real case whose chart
    tells what happened. Only the clock is simulated (the store's test seam): every heartbeat goes through the
    service and the Lua scripts as a real one does.
    Return what was made, or None when the learner has sessions already.
    """
    import random

    from flask import current_app

    from lms.courses import service as courses
    from lms.courses.models import Course, Courseware
    from lms.tracking import service as tracking
    from lms.tracking import tasks
    from lms.tracking.models import PlaybackSession
    from lms.tracking.store import TrackingStore

    if db.session.scalar(sa.select(PlaybackSession.id).where(PlaybackSession.user_id == learner.id).limit(1)):
        return None
    title = DEMO_COURSES[1][1]
    course = db.session.scalar(sa.select(Course).where(Course.title == title))
    courseware = db.session.scalar(sa.select(Courseware).where(Courseware.course_id == course.id)
                                   .order_by(Courseware.position).limit(1))
    courses.enroll(learner, course.id)
    db.session.commit()

    app = current_app._get_current_object()
    now_ms = [int((utcnow().replace(tzinfo=dt.UTC) - dt.timedelta(hours=1)).timestamp() * 1000)]
    saved_store = app.extensions.get("lms.tracking.store")
    saved_settings = app.config.get("LMS_TRACKING")
    # No attention check in so short a playback (it would only wait for an answer nobody gives).
    app.config["LMS_TRACKING"] = {**(saved_settings or {}), "check_min_gap_s": 10 * 365 * 86400.0}
    app.extensions["lms.tracking.store"] = TrackingStore(app.extensions["lms.redis"], clock=lambda: now_ms[0])
    draw = random.Random(20261204)
    try:
        ack = tracking.open_session(learner, courseware.id, ip="10.12.3.45", user_agent=HELD_USER_AGENT,
                                    device=f"demo-device-{learner.id}x").ack
        sid, token, position = ack["sid"], ack["token"], 0.0
        for seconds, rate, from_verified in HELD_PLAYBACK:
            for index in range(round(seconds / 5)):
                step = draw.uniform(4.2, 5.8)
                now_ms[0] += int(step * 1000)
                if from_verified and index == 0:
                    # The player puts the media back where verified playing got to, just before this heartbeat.
                    position = ack["courseware"]["furthest_verified_s"]
                else:
                    position += step * rate
                ack = tracking.heartbeat(learner.id, {"sid": sid, "token": token, "position_s": round(position, 3),
                                                      "playing": True, "hints": {"rate": rate, "hidden": False}}).ack
                if not ack["ok"]:
                    raise RuntimeError(f"demo heartbeat refused: {ack}")
                token = ack["token"]
        now_ms[0] += 1500
        tasks.flush_now(tracking.close_session(learner.id, {"sid": sid}).flush)
    finally:
        app.extensions["lms.tracking.store"] = saved_store
        app.config["LMS_TRACKING"] = saved_settings
    session = db.session.scalar(sa.select(PlaybackSession).where(PlaybackSession.public_id == sid))
    return f"{learner.name}《{courseware.title}》观看记录 #{session.id}（{session.hold_state.label}）"


def seed_demo_held_attempt(learner: User) -> str | None:
    """Pass the 公需 course's quiz as a script would, each answer 200 ms after the last, half an hour ago.

    The learner's watching of the course is recorded as complete (as a flush would after watching it); the quiz
    then goes through the real attempt rules on moments the demo chooses, and the integrity rules hold it, so the
    reviewer's 测验审核 queue has a real case with its per-question timeline. None when the learner has one.
    """
    from lms.courses import service as courses
    from lms.courses.models import Course
    from lms.exams import integrity
    from lms.exams import service as exams
    from lms.exams.models import Attempt
    from lms.tracking.models import CoursewareProgress

    course = db.session.scalar(sa.select(Course).where(Course.title == DEMO_COURSES[0][1]))
    if course is None or exams.quiz_of(course.id) is None or db.session.scalar(
            sa.select(Attempt.id).where(Attempt.user_id == learner.id, Attempt.course_id == course.id).limit(1)):
        return None
    courses.enroll(learner, course.id)
    for courseware in course.coursewares:
        if db.session.scalar(sa.select(CoursewareProgress.id).where(
                CoursewareProgress.user_id == learner.id, CoursewareProgress.courseware_id == courseware.id)) is None:
            db.session.add(CoursewareProgress(user_id=learner.id, courseware_id=courseware.id, completed_at=utcnow(),
                                              verified_watch_seconds=float(courseware.labelled_hours) * 2700))
    db.session.flush()
    moment = utcnow() - dt.timedelta(minutes=30)
    attempt = exams.start_attempt(learner, course.id, moment, ip="10.12.3.45", user_agent=HELD_USER_AGENT,
                                  device="demo-device-lihua")
    integrity.mark_shown(attempt, moment)
    for position, question in enumerate(attempt.questions, start=1):
        moment += dt.timedelta(milliseconds=200)
        exams.save_answer(learner, attempt.id, position, list(question["correct"]), moment)
    exams.submit_attempt(learner, attempt.id, moment + dt.timedelta(seconds=1))
    db.session.commit()
    return f"{learner.name}《{course.title}》测验记录 #{attempt.id}（{attempt.hold_state.label}）"


# Units of the demo department with staff at every stage of the year, so that the statistics have something to
# show: (unit, serial, [(name, 公需 hours, 专业 hours)]). 中心医院's staff join 张明 and 李华.
DEMO_STAFF = (
    ("荆州市中心医院", 2, [("王芳", 30, 60), ("刘洋", 30, 45), ("陈静", 12, 20), ("杨磊", 0, 0), ("赵敏", 28, 50)]),
    ("荆州市第一人民医院", 4, [("黄勇", 30, 60), ("周杰", 32, 62), ("吴婷", 30, 60), ("徐鹏", 30, 42),
                           ("孙丽", 30, 60), ("马超", 20, 30)]),
    ("荆州市妇幼保健院", 5, [("朱红", 6, 10), ("胡斌", 0, 0), ("郭琳", 10, 12), ("何峰", 30, 20), ("林燕", 0, 4)]),
)


TRANSFER_UNIT = "荆州市第一人民医院"


def seed_demo_staff_progress(department_admin: User) -> list[str]:
    """Give the demo units staff with this year's hours at every stage, and certificates to those who met it.

    The hours go in as the department's corrections (学时更正, reason 演示数据), through the ledger's own posting,
    so the statistics' tallies see them exactly as they see real postings. Safe to run again.
    """
    from lms.certificates import service as certificates
    from lms.courses.models import Category
    from lms.ledger import service as ledger
    from lms.ledger.models import AdjustmentKind

    department = department_admin.org
    year = ledger.china_today().year
    password_hash = hash_password(DEMO_PASSWORD)
    summary = []
    for unit_number, (unit_name, serial, staff) in enumerate(DEMO_STAFF):
        unit = _org(OrgKind.UNIT, unit_name, department, serial=serial)
        if unit_name == TRANSFER_UNIT:  # a second unit admin, so a transfer can be started and confirmed
            _user(unit, ADMIN_ROLE_FOR_KIND[OrgKind.UNIT], "unit2_admin", "人民医院管理员", "13900000008")
        met = 0
        for number, (name, public, professional) in enumerate(staff, start=1):
            id_number = make_id_number("421002", dt.date(1980 + number, 1 + unit_number, 10 + number),
                                       500 + 10 * unit_number + number)
            person = db.session.scalar(sa.select(User).where(User.login == id_number))
            if person is None:
                person = User(login=id_number, id_number=id_number, org=unit, role=Role.LEARNER, name=name,
                              phone=f"1380000{unit_number}{number:03d}", status=ReviewStatus.APPROVED,
                              password_hash=password_hash, reviewed_at=utcnow(), title_series="卫生技术人员",
                              professional_post="主治医师" if number % 2 else "护师")
                db.session.add(person)
                db.session.flush()
                postings = [ledger.Posting(Category.PUBLIC, public), ledger.Posting(Category.PROFESSIONAL,
                                                                                    professional)]
                if public or professional:
                    ledger.adjust(person, year=year, kind=AdjustmentKind.CORRECTION, decided_by=department_admin,
                                  reason="演示数据：本年度已完成的学习", postings=[p for p in postings if p.hours])
            if ledger.year_summary(person, year).met:
                met += 1
                if certificates.certificate_of(person.id, year) is None:
                    certificates.issue(person, year)
        summary.append(f"{unit_name}：{len(staff)} 人，{met} 人已达标")
    db.session.commit()
    return summary


def seed_demo_transfer_request() -> str | None:
    """Have 荆州市第一人民医院 ask for one of 荆州市中心医院's staff (申请调入), for unit_admin to answer.

    Safe to run again: nothing is added once the person has any transfer.
    """
    from lms.transfers import service as transfers
    from lms.transfers.models import PersonTransfer

    asking = db.session.scalar(sa.select(User).where(User.login == "unit2_admin"))
    home = db.session.scalar(sa.select(Org).where(Org.name == DEMO_STAFF[0][0], Org.kind == OrgKind.UNIT))
    person = home and db.session.scalar(sa.select(User).where(User.org_id == home.id, User.name == "赵敏"))
    if asking is None or person is None or db.session.scalar(
            sa.select(PersonTransfer.id).where(PersonTransfer.user_id == person.id)):
        return None
    transfer = transfers.request_transfer_in(asking, id_number=person.id_number, name=person.name,
                                             note="演示数据：本人申请调入")
    db.session.commit()
    return f"{transfer.to_org.name}申请调入{home.name}的{person.name}，待 unit_admin 答复"


DEMO_NOTICES = (
    # (publisher login, title, audience, pinned, body)
    ("province_admin", "关于做好2026年度专业技术人员继续教育工作的通知", "all", True,
     "<p>各市（州）人社局、省直各主管部门：</p><p>请组织专业技术人员在<strong>本年度12月31日前</strong>完成"
     "不少于90学时的继续教育，其中公需科目不少于30学时。</p><ul><li>网上学习：登录本平台选课学习</li>"
     "<li>线下学习：按《学时管理办法》第十四条申报</li></ul>"),
    ("city_admin", "荆州市2026年度公需科目学习安排", "learners", False,
     "<h2>学习安排</h2><p>本市专业技术人员可选学平台上的公需科目课程，学时按课程标定学时计入。</p>"
     "<p>咨询：<a href=\"mailto:jxjy@example.cn\">jxjy@example.cn</a></p>"),
)


# 荆州市中心医院's egress address, registered by the hospital and approved by its department (issue 16): its staff
# studying from it are at home there, however many at once.
HOSPITAL_ADDRESS = "202.103.24.68"


def seed_demo_addresses() -> list[str]:
    """Register the demo hospital's egress address and have its department approve it (idempotent)."""
    from lms.addresses import service as addresses
    from lms.addresses.models import OrgAddress

    unit_admin, dept_admin = (db.session.scalar(sa.select(User).where(User.login == login))
                              for login in ("unit_admin", "dept_admin"))
    if db.session.scalar(sa.select(OrgAddress.id).where(OrgAddress.org_id == unit_admin.org_id).limit(1)):
        return []
    address = addresses.register_address(unit_admin, HOSPITAL_ADDRESS, "医院全院上网统一出口", False)
    addresses.decide_address(dept_admin, address.id, True, "经核实为医院出口地址")
    db.session.commit()
    return [f"{unit_admin.org.name} {address.cidr}"]


def seed_demo_notices() -> list[str]:
    """Publish the demo notices (the province's public one, the city's to its learners); safe to run again."""
    from lms.notices import service as notices
    from lms.notices.models import Notice

    published = []
    for login, title, audience, pinned, body in DEMO_NOTICES:
        publisher = db.session.scalar(sa.select(User).where(User.login == login))
        if db.session.scalar(sa.select(Notice.id).where(Notice.org_id == publisher.org_id, Notice.title == title)):
            continue
        notices.publish(publisher, {"title": title, "body": body, "audience": audience, "pinned": pinned})
        published.append(title)
    db.session.commit()
    return published


def seed_demo_person_change(learner: User) -> str | None:
    """The demo learner has asked to change their title (主治医师, 中级 → 副主任医师, 副高级): the unit admin's
    to-do list and 人员信息修改审核 show it, ready to approve or reject. Nothing when they asked before."""
    from lms.accounts import changes
    from lms.accounts.models import PersonChange

    if db.session.scalar(sa.select(PersonChange.id).where(PersonChange.user_id == learner.id)) is not None:
        return None
    changes.request_change(learner, {"professional_post": "副主任医师", "title_level": "副高级"})
    return f"{learner.name}：专业技术职务 主治医师 → 副主任医师，职称级别 中级 → 副高级"


# 荆州市中心医院's internal departments (内设部门) and who works where: (department, parent, [people's names]).
DEMO_DEPARTMENTS = (
    ("内科", None, ["赵敏"]), ("心内科", "内科", ["张明", "王芳"]), ("消化内科", "内科", ["李华"]),
    ("外科", None, ["刘洋", "杨磊"]), ("护理部", None, ["陈静"]),
)


def seed_demo_structure() -> list[str]:
    """Give the central hospital internal departments with staff in them, and leave the health school's request to
    move under the education bureau waiting for both departments' approval. Safe to run again."""
    from lms.orgs import departments, moves
    from lms.orgs.models import InternalDepartment, ParentMove

    unit_admin, school_admin = (db.session.scalar(sa.select(User).where(User.login == login))
                                for login in ("unit_admin", "unit3_admin"))
    unit = unit_admin.org
    existing = db.session.scalars(sa.select(InternalDepartment).where(InternalDepartment.org_id == unit.id))
    made: dict[str, InternalDepartment] = {department.name: department for department in existing}
    for position, (name, parent, people) in enumerate(DEMO_DEPARTMENTS):
        if name not in made:
            made[name] = departments.create_department(
                unit_admin, {"name": name, "parent_id": made[parent].id if parent else None, "position": position})
        for person in db.session.scalars(sa.select(User).where(User.org_id == unit.id, User.name.in_(people))):
            if departments.department_of(person.id) is None:
                departments.assign_person(unit_admin, person.id, made[name].id)
    summary = [f"{unit.name}内设部门：" + "、".join(name for name, _parent, _people in DEMO_DEPARTMENTS)]
    school = school_admin.org
    if db.session.scalar(sa.select(ParentMove.id).where(ParentMove.org_id == school.id)) is None:
        target = db.session.scalar(sa.select(Org).where(Org.name == MOVE_TARGET))
        moves.request_move(school_admin, target.id, "学校划归教育部门主管")
    move = db.session.scalar(sa.select(ParentMove).where(ParentMove.org_id == school.id)
                             .order_by(ParentMove.id.desc()))
    summary.append(f"{school.name}申请更换上级部门：{move.from_parent.name} → {move.to_parent.name}"
                   f"（{move.status.label}）")
    db.session.commit()
    return summary
