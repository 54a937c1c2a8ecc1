"""Rules of courses: authoring by a continuing-education base, the 45-minute rule for labelled hours
(学时管理办法 第四条), publishing, the learners' catalogue and enrolment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import unicodedata

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from lms.accounts.models import Role, User
from lms.core.clock import CHINA_TIME
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound, joined_sentences
from lms.core.validation import clean_text, collect, text_problem
from lms.courses.models import (
    SECONDS_PER_CREDIT_HOUR,
    Category,
    Course,
    CourseState,
    Courseware,
    Enrollment,
    MediaAsset,
    MediaStatus,
)
from lms.extensions import db
from lms.orgs.access import require, scope_org
from lms.orgs.models import Org, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission
from lms.plans import vetting

TITLE_MAX = 100
DESCRIPTION_MAX = 2000
COURSEWARE_TITLE_MAX = 100
# The year a course counts for: the current year in China, one year either side (planning ahead, late entry).
YEAR_SPAN = 1
HOURS_STEP = decimal.Decimal("0.1")
CATALOGUE_PER_PAGE = 20
CATALOGUE_MAX_PER_PAGE = 50

# Learners who enrolled study what was published, so coursewares and hours freeze at publication.
DRAFT_ONLY_MESSAGE = "课程已{state}，课件和学时只能在草稿状态修改；如需调整，请新建课程。"


def current_year() -> int:
    """Return the current calendar year in China (the year hours are counted in)."""
    return dt.datetime.now(CHINA_TIME).year


def year_choices(extra: int | None = None) -> list[int]:
    """Return the years a course may be set to, plus a course's existing year when it lies outside them."""
    now = current_year()
    years = list(range(now - YEAR_SPAN, now + YEAR_SPAN + 1))
    if extra is not None and extra not in years:
        years.append(extra)
    return sorted(years)


# ------------------------------------------------------------------------------------------------ field checks


def _description_problem(value: str) -> str | None:
    if len(value) > DESCRIPTION_MAX:
        return f"课程简介不能超过 {DESCRIPTION_MAX} 个字符（当前 {len(value)} 个）。"
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
        return "课程简介含有不可见的控制字符。"
    return None


def _clean_description(value) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u3000", " ").strip()


def _parse_category(raw) -> tuple[Category | None, str | None]:
    try:
        return Category(raw), None
    except ValueError:
        labels = "或".join(c.label for c in Category)
        return None, f"请选择课程类别：{labels}。"


def _parse_year(raw) -> tuple[int | None, str | None]:
    years = year_choices()
    problem = f"年度应为 {years[0]}–{years[-1]} 年之间（当年及前后各一年）。"
    if isinstance(raw, bool):
        return None, problem
    try:
        year = int(str(raw).strip())
    except (TypeError, ValueError):
        return None, problem
    return (year, None) if year in years else (None, problem)


def parse_hours(raw) -> tuple[decimal.Decimal | None, str | None]:
    """Parse labelled hours: a number greater than 0 in steps of 0.1; return (hours, problem)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "请填写标定学时。"
    if isinstance(raw, bool):
        return None, "标定学时应为数字，如 1.5。"
    try:
        # repr of a float is its shortest exact decimal form (1.1, not 1.100000000000000088817841970012523).
        hours = decimal.Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
    except decimal.InvalidOperation:
        return None, "标定学时应为数字，如 1.5。"
    if not hours.is_finite():
        return None, "标定学时应为数字，如 1.5。"
    if hours <= 0:
        return None, "标定学时必须大于 0。"
    if hours != hours.quantize(HOURS_STEP, rounding=decimal.ROUND_DOWN):
        return None, "标定学时以 0.1 学时为单位，最多保留一位小数。"
    hours = hours.quantize(HOURS_STEP)
    ceiling = max_hours_of_any_video()
    if hours > ceiling:
        longest = current_app.extensions["lms.config"].media_max_seconds / 3600
        return None, f"单个课件视频最长 {longest:g} 小时，标定学时不能超过 {ceiling} 学时。"
    return hours, None


def max_hours_of_any_video() -> decimal.Decimal:
    """Return the hours the longest video the pipeline accepts could carry (duration ÷ 45 minutes)."""
    seconds = current_app.extensions["lms.config"].media_max_seconds
    return decimal.Decimal(seconds * 10 // SECONDS_PER_CREDIT_HOUR) / 10


def hours_limit_problem(hours: decimal.Decimal, asset: MediaAsset | None) -> str | None:
    """Return why hours exceed what the courseware's video can carry (学时管理办法 第四条), or None.

    One hour (学时) needs at least 45 minutes of study, so a video carries at most its duration ÷ 45 minutes,
    rounded down to 0.1. A video whose duration is not known yet is checked again when it becomes ready.
    """
    if asset is None or asset.max_labelled_hours is None or hours <= asset.max_labelled_hours:
        return None
    minutes = int(asset.duration_s // 60)
    if asset.max_labelled_hours == 0:
        return f"视频时长 {minutes} 分钟，不足 4.5 分钟，无法标定学时（每学时不少于 45 分钟）。"
    return f"视频时长 {minutes} 分钟，最多可标定 {asset.max_labelled_hours} 学时（每学时不少于 45 分钟）。"


def courseware_problem(courseware: Courseware) -> str | None:
    """Return what keeps this courseware from being published, or None when it is ready."""
    asset = courseware.media
    if asset is None:
        return "还没有上传视频。"
    if asset.status == MediaStatus.FAILED:
        return f"视频处理失败：{(asset.error_message or '请重新上传').rstrip('。')}。"
    if asset.status != MediaStatus.READY or asset.hls_version is None:
        return f"视频{asset.status.label}，处理完成后才能发布。"
    problem = hours_limit_problem(courseware.labelled_hours, asset)
    if problem:
        return f"当前标定 {courseware.labelled_hours} 学时，超出上限：{problem}"
    return None


def publish_problems(course: Course) -> dict[str, str]:
    """Return, per courseware (or the course), what must be fixed before the course can be published."""
    if not course.coursewares:
        return {"coursewares": "课程还没有课件，至少添加一个课件后才能发布。"}
    problems = {}
    for courseware in course.coursewares:
        problem = courseware_problem(courseware)
        if problem:
            problems[f"courseware_{courseware.id}"] = f"课件“{courseware.title}”{problem}"
    return problems


def coursewares_exceeding(asset: MediaAsset) -> list[Courseware]:
    """Return the coursewares whose labelled hours this (newly ready) video cannot carry."""
    coursewares = db.session.scalars(sa.select(Courseware).where(Courseware.media_id == asset.id)).all()
    return [c for c in coursewares if hours_limit_problem(c.labelled_hours, asset)]


# ------------------------------------------------------------------------------------------------ authoring


def is_base_admin_of(user: User, base_id: int) -> bool:
    """Tell whether the user is an admin of this continuing-education base who manages its courses."""
    home = scope_org(user, Permission.MANAGE_COURSES)
    return home is not None and home.id == base_id


def managed_base(actor: User, message: str = "只有已通过审核的继续教育基地管理员可以管理课程。") -> Org:
    """Return the base whose courses the actor manages, or refuse."""
    return require(actor, Permission.MANAGE_COURSES, message=message)


def _require_base_admin(actor: User) -> None:
    managed_base(actor)


def course_for_author(actor: User, course_id: int) -> Course:
    """Load a course its base's admin may edit; anyone else is refused."""
    _require_base_admin(actor)
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound("课程不存在。")
    if course.base_id != managed_base(actor).id:
        raise NotAllowed("只能管理本基地的课程。")
    return course


def courseware_for_author(actor: User, courseware_id: int) -> Courseware:
    """Load a courseware its base's admin may edit; anyone else is refused."""
    _require_base_admin(actor)
    courseware = db.session.get(Courseware, courseware_id)
    if courseware is None:
        raise NotFound("课件不存在。")
    if courseware.course.base_id != managed_base(actor).id:
        raise NotAllowed("只能管理本基地的课件。")
    return courseware


def editable_courseware(actor: User, courseware_id: int) -> Courseware:
    """Load a courseware whose video or hours may change now: own base and the course still a draft."""
    courseware = courseware_for_author(actor, courseware_id)
    _require_draft(courseware.course)
    return courseware


def _require_draft(course: Course) -> None:
    if course.state != CourseState.DRAFT:
        raise Conflict(DRAFT_ONLY_MESSAGE.format(state=course.state.label))


def base_courses_query(actor: User):
    """Select the courses of the admin's base, newest first."""
    _require_base_admin(actor)
    return (sa.select(Course).where(Course.base_id == managed_base(actor).id)
            .options(selectinload(Course.coursewares)).order_by(Course.created_at.desc(), Course.id.desc()))


def create_course(actor: User, data: dict) -> Course:
    """Create a draft course in the admin's base."""
    _require_base_admin(actor)
    category, category_problem = _parse_category(data.get("category"))
    year, year_problem = _parse_year(data.get("year"))
    title = clean_text(data.get("title"))
    description = _clean_description(data.get("description"))
    problems = collect({
        "category": category_problem,
        "year": year_problem,
        "title": text_problem(title, "课程名称", TITLE_MAX),
        "description": _description_problem(description),
    })
    if problems:
        raise InvalidInput(problems)
    course = Course(base_id=managed_base(actor).id, category=category, year=year, title=title, description=description,
                    state=CourseState.DRAFT)
    db.session.add(course)
    db.session.flush()
    return course


def update_course(actor: User, course_id: int, data: dict) -> Course:
    """Change the given fields of a course; category and year only while it is a draft."""
    course = course_for_author(actor, course_id)
    problems, changes = {}, {}
    if "category" in data and data["category"] != course.category.value:
        changes["category"], problems["category"] = _parse_category(data["category"])
    # An unchanged year is always accepted: an older course stays editable once its year is out of range.
    if "year" in data and str(data["year"]).strip() != str(course.year):
        changes["year"], problems["year"] = _parse_year(data["year"])
    if "title" in data:
        changes["title"] = clean_text(data["title"])
        problems["title"] = text_problem(changes["title"], "课程名称", TITLE_MAX)
    if "description" in data:
        changes["description"] = _clean_description(data["description"])
        problems["description"] = _description_problem(changes["description"])
    problems = collect(problems)
    if course.state != CourseState.DRAFT:
        for field in ("category", "year"):
            if field in changes and field not in problems:
                problems[field] = f"课程已{course.state.label}，类别和年度只能在草稿状态修改。"
    if problems:
        raise InvalidInput(problems)
    for field, value in changes.items():
        setattr(course, field, value)
    db.session.flush()
    return course


def _courseware_fields(data: dict, asset: MediaAsset | None, partial: bool) -> tuple[dict, dict[str, str]]:
    cleaned, problems = {}, {}
    if not partial or "title" in data:
        cleaned["title"] = clean_text(data.get("title"))
        problems["title"] = text_problem(cleaned["title"], "课件名称", COURSEWARE_TITLE_MAX)
    if not partial or "labelled_hours" in data:
        hours, problems["labelled_hours"] = parse_hours(data.get("labelled_hours"))
        if hours is not None:
            cleaned["labelled_hours"] = hours
            problems["labelled_hours"] = hours_limit_problem(hours, asset)
    return cleaned, collect(problems)


def add_courseware(actor: User, course_id: int, data: dict) -> Courseware:
    """Append a courseware (title and labelled hours) to a draft course; its video is uploaded next."""
    course = course_for_author(actor, course_id)
    _require_draft(course)
    cleaned, problems = _courseware_fields(data, None, partial=False)
    if problems:
        raise InvalidInput(problems)
    last = db.session.scalar(sa.select(sa.func.max(Courseware.position)).where(Courseware.course_id == course.id))
    courseware = Courseware(course=course, position=(last or 0) + 1, **cleaned)
    db.session.add(courseware)
    db.session.flush()
    return courseware


def update_courseware(actor: User, courseware_id: int, data: dict) -> Courseware:
    """Change a draft course's courseware title or labelled hours, within what its video can carry."""
    courseware = editable_courseware(actor, courseware_id)
    cleaned, problems = _courseware_fields(data, courseware.media, partial=True)
    if problems:
        raise InvalidInput(problems)
    for field, value in cleaned.items():
        setattr(courseware, field, value)
    db.session.flush()
    return courseware


def remove_courseware(actor: User, courseware_id: int) -> Course:
    """Remove a courseware from a draft course (its uploaded video stays in the base's storage)."""
    courseware = editable_courseware(actor, courseware_id)
    course = courseware.course
    # An upload remembers the courseware it was made for; the video outlives the courseware it leaves.
    db.session.execute(sa.update(MediaAsset).where(MediaAsset.courseware_id == courseware.id)
                       .values(courseware_id=None))
    course.coursewares.remove(courseware)
    db.session.flush()
    _renumber(course.coursewares)
    return course


def reorder_coursewares(actor: User, course_id: int, ordered_ids) -> Course:
    """Put a draft course's coursewares in the given order (every courseware exactly once)."""
    course = course_for_author(actor, course_id)
    _require_draft(course)
    try:
        ids = [int(i) for i in ordered_ids]
    except (TypeError, ValueError):
        raise InvalidInput({"ids": "课件顺序应为课件编号的列表。"}) from None
    by_id = {c.id: c for c in course.coursewares}
    if sorted(ids) != sorted(by_id):
        raise InvalidInput({"ids": "课件顺序必须恰好包含本课程的每个课件各一次。"})
    _renumber([by_id[i] for i in ids])
    return course


def move_courseware(actor: User, courseware_id: int, direction: str) -> Course:
    """Move a courseware one place up or down in its draft course."""
    courseware = editable_courseware(actor, courseware_id)
    order = list(courseware.course.coursewares)
    index = order.index(courseware)
    target = index - 1 if direction == "up" else index + 1 if direction == "down" else None
    if target is None:
        raise InvalidInput({"direction": "移动方向应为 up 或 down。"})
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        _renumber(order)
    return courseware.course


def _renumber(coursewares: list[Courseware]) -> None:
    # (course_id, position) is unique and checked per statement, so go through negative positions first.
    for index, courseware in enumerate(coursewares, start=1):
        courseware.position = -index
    db.session.flush()
    for index, courseware in enumerate(coursewares, start=1):
        courseware.position = index
    db.session.flush()
    if coursewares:
        db.session.expire(coursewares[0].course, ["coursewares"])


def publish_course(actor: User, course_id: int) -> Course:
    """Publish a draft (or withdrawn) course once every courseware has a ready video that carries its hours."""
    course = course_for_author(actor, course_id)
    if course.state == CourseState.PUBLISHED:
        raise Conflict("课程已经发布。")
    problems = publish_problems(course)
    if problems:
        raise Conflict("课程暂不能发布：" + joined_sentences(problems.values()), problems)
    course.state = CourseState.PUBLISHED
    course.published_at = course.published_at or utcnow()
    db.session.flush()
    vetting.on_publish(actor, course)
    return course


def withdraw_course(actor: User, course_id: int) -> Course:
    """Take a published course out of the catalogue; learners already enrolled keep it."""
    course = course_for_author(actor, course_id)
    if course.state != CourseState.PUBLISHED:
        raise Conflict(f"只有已发布的课程可以下架（当前为{course.state.label}）。")
    course.state = CourseState.WITHDRAWN
    db.session.flush()
    return course


def media_states(course: Course) -> list[dict]:
    """Return each courseware's media status, progress and blocking problem, for the live course page."""
    states = []
    for courseware in course.coursewares:
        asset = courseware.media
        states.append({
            "courseware_id": courseware.id,
            "asset_id": asset.id if asset else None,
            "status": asset.status.value if asset else None,
            "status_label": asset.status.label if asset else "未上传",
            "percent": asset.progress_percent if asset else 0,
            "message": asset.error_message if asset and asset.status == MediaStatus.FAILED else None,
            "duration_s": asset.duration_s if asset else None,
            "max_labelled_hours": str(asset.max_labelled_hours) if asset and asset.max_labelled_hours is not None
            else None,
            "problem": courseware_problem(courseware),
        })
    return states


# ------------------------------------------------------------------------------------------------ catalogue


@dataclasses.dataclass(frozen=True)
class CatalogueFilters:
    category: Category | None = None
    year: int | None = None
    base_id: int | None = None
    q: str = ""
    page: int = 1
    per_page: int = CATALOGUE_PER_PAGE


def parse_catalogue_filters(args) -> CatalogueFilters:
    """Read the catalogue's filters from query arguments; raise InvalidInput naming a bad one."""
    problems, values = {}, {}
    if args.get("category"):
        values["category"], problems["category"] = _parse_category(args["category"])
    for name, label in (("year", "年度"), ("base_id", "基地"), ("page", "页码"), ("per_page", "每页条数")):
        raw = args.get(name)
        if raw in (None, ""):
            continue
        try:
            values[name] = int(str(raw).strip())
        except ValueError:
            problems[name] = f"{label}应为整数。"
            continue
        if values[name] < 1:
            problems[name] = f"{label}应为正整数。"
    if values.get("per_page", 1) > CATALOGUE_MAX_PER_PAGE:
        problems["per_page"] = f"每页最多 {CATALOGUE_MAX_PER_PAGE} 条。"
    q = clean_text(args.get("q"))
    if len(q) > 50:
        problems["q"] = "关键词最多 50 个字符。"
    problems = collect(problems)
    if problems:
        raise InvalidInput(problems)
    return CatalogueFilters(q=q, **values)


def _require_learner(user: User) -> None:
    if user.role != Role.LEARNER or not user.is_approved:
        raise NotAllowed("课程目录和选课只对已通过审核的专业技术人员开放。")


def catalogue_query(user: User, filters: CatalogueFilters):
    """Select the published courses matching the filters, newest first, with their coursewares and base."""
    _require_learner(user)
    query = (sa.select(Course).where(Course.state == CourseState.PUBLISHED, vetting.listed_condition())
             .options(selectinload(Course.coursewares), selectinload(Course.base))
             .order_by(Course.published_at.desc(), Course.id.desc()))
    if filters.category is not None:
        query = query.where(Course.category == filters.category)
    if filters.year is not None:
        query = query.where(Course.year == filters.year)
    if filters.base_id is not None:
        query = query.where(Course.base_id == filters.base_id)
    if filters.q:
        query = query.where(sa.or_(Course.title.icontains(filters.q, autoescape=True),
                                   Course.description.icontains(filters.q, autoescape=True)))
    return query


def catalogue_page(user: User, filters: CatalogueFilters):
    """Return one page (Flask-SQLAlchemy Pagination) of the catalogue."""
    return db.paginate(catalogue_query(user, filters), page=filters.page, per_page=filters.per_page,
                       error_out=False)


def catalogue_bases() -> list[Org]:
    """Return the bases that have courses in the catalogue, for the catalogue's filter."""
    return list(db.session.scalars(
        sa.select(Org).where(Org.kind == OrgKind.BASE, Org.status == ReviewStatus.APPROVED,
                             Org.id.in_(sa.select(Course.base_id).where(Course.state == CourseState.PUBLISHED,
                                                                        vetting.listed_condition())))
        .order_by(Org.name)
    ))


def catalogue_years() -> list[int]:
    """Return the years of the catalogue's courses, newest first."""
    return list(db.session.scalars(
        sa.select(Course.year).where(Course.state == CourseState.PUBLISHED, vetting.listed_condition()).distinct()
        .order_by(Course.year.desc())
    ))


def is_enrolled(user: User, course: Course) -> bool:
    """Tell whether the user is enrolled in the course."""
    return db.session.scalar(sa.select(Enrollment.id).where(Enrollment.user_id == user.id,
                                                            Enrollment.course_id == course.id)) is not None


def course_for_learner(user: User, course_id: int) -> Course:
    """Load a course a learner may see: in the catalogue (published and vetted), or withdrawn but enrolled in."""
    _require_learner(user)
    course = db.session.get(Course, course_id)
    if course is None or course.state == CourseState.DRAFT or (
            (course.state == CourseState.WITHDRAWN or not vetting.is_listed(course)) and not is_enrolled(user, course)):
        raise NotFound("课程不存在或已下架。")
    return course


def enroll(user: User, course_id: int) -> tuple[Enrollment, bool]:
    """Enrol the learner in a published course; enrolling again changes nothing. Return (enrolment, created)."""
    # A withdrawn course is found only by those already enrolled, for whom this changes nothing.
    course = course_for_learner(user, course_id)
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # ON CONFLICT DO NOTHING: two concurrent clicks both succeed and the unique constraint keeps one row.
    statement = (insert(Enrollment).values(user_id=user.id, course_id=course.id, created_at=utcnow())
                 .on_conflict_do_nothing(index_elements=["user_id", "course_id"]).returning(Enrollment.id))
    created = db.session.execute(statement).first() is not None
    enrollment = db.session.scalar(sa.select(Enrollment).where(Enrollment.user_id == user.id,
                                                               Enrollment.course_id == course.id))
    return enrollment, created


def my_enrollments(user: User) -> list[Enrollment]:
    """Return the learner's enrolments, newest first, withdrawn courses included."""
    _require_learner(user)
    return list(db.session.scalars(
        sa.select(Enrollment).where(Enrollment.user_id == user.id)
        .options(selectinload(Enrollment.course).selectinload(Course.coursewares),
                 selectinload(Enrollment.course).selectinload(Course.base))
        .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())
    ))
