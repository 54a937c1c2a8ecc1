"""Demo data for Hunan's rules: a unit under Hunan's table, whose learner declared a 2024 paper inside the 2026
核认 window (2026-05-25 to 2026-07-25) and had it filed.

The window lies in May–July, and the demo may be seeded on any day; the paper is therefore submitted as of
2026-06-15 (``today=`` of ``submit``, a date inside the window) so that the seeded record is one the rules accept,
and its title says so. Anyone trying the form for 2024 outside the window sees the refusal with the dates, which
is what the rule set says. The record's own time stamps are those of the seeding.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from lms.accounts.models import ADMIN_ROLE_FOR_KIND, Role, User
from lms.core.idcard import make_id_number
from lms.extensions import db
from lms.orgs.models import Org, OrgKind

HUNAN_UNIT = "长沙市第一医院（湖南规则演示）"
HUNAN_LEARNER_LOGIN = make_id_number("430102", dt.date(1986, 11, 2), 318)
WINDOW_DAY = dt.date(2026, 6, 15)  # inside hunan-2026's window; see the module docstring
PAPER_TITLE = "基层高血压管理路径研究（2024 年发表；2026-06-15 核认期间申报）"


def seed_demo_hunan_window(org_factory, user_factory, image) -> list[str]:
    """Create the Hunan unit, its admin and learner, and the filed 2024 paper; return lines for the console.

    ``org_factory``, ``user_factory`` and ``image`` are the demo's own helpers (``lms.demo._org``, ``_user``,
    ``_evidence_image``), so that credit codes, passwords and memberships follow the rest of the demo.
    """
    from lms.declarations import service as declarations
    from lms.declarations.models import Declaration

    department = db.session.scalar(sa.select(Org).where(Org.name == "荆州市卫生健康委员会"))
    unit = org_factory(OrgKind.UNIT, HUNAN_UNIT, department, serial=210)
    unit.region = "hunan"
    admin = user_factory(unit, ADMIN_ROLE_FOR_KIND[OrgKind.UNIT], "hunan_unit_admin", "湖南演示单位管理员",
                         "13900000210")
    learner = user_factory(unit, Role.LEARNER, HUNAN_LEARNER_LOGIN, "刘芳", "13800000210",
                           id_number=HUNAN_LEARNER_LOGIN, title_series="卫生技术人员", professional_post="主治医师")
    db.session.flush()
    lines = [f"湖南规则演示：{HUNAN_UNIT}（单位管理员 hunan_unit_admin，专业技术人员 {HUNAN_LEARNER_LOGIN}）"]
    if db.session.scalar(sa.select(Declaration.id).where(Declaration.user_id == learner.id,
                                                          Declaration.title == PAPER_TITLE)) is None:
        materials = {item: [(image(label), f"{label}.png")]
                     for item, label in (("journal_cover", "刊物封面"), ("issn", "刊号"), ("contents", "目录"))}
        declaration, _keys = declarations.submit(
            learner, kind_id="paper", title=PAPER_TITLE, start_date="2024-09-20", end_date="2024-09-20", year="",
            facts={"author": "first"}, uploads=[], materials=materials, today=WINDOW_DAY)
        for step in declaration.review_steps:  # hunan-2026: 用人单位初审, then the nearest bureau files it
            declarations.decide(admin if step.org_id == unit.id else _super_admin_of(step.org_id), declaration.id,
                                "approve", None)
    db.session.commit()
    lines.append(f"{learner.name} 2024 年度论文（第一作者 30 学时）已于核认期间申报并备案："
                 "湖南 2026 年核认期限 2026-05-25 至 2026-07-25，期限外申报 2021–2025 年度学时会被拒绝并说明期限")
    return lines


def _super_admin_of(org_id: int) -> User:
    from lms.orgs.models import OrgAdmin

    return db.session.scalar(sa.select(User).join(OrgAdmin, OrgAdmin.user_id == User.id)
                             .where(OrgAdmin.org_id == org_id, OrgAdmin.is_super))
