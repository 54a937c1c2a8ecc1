"""Organisation settings (/orgs/<id>/settings): an HR admin sets the rule-set region of an organisation strictly
below their bureau (the province also its own), and for a unit whether it is an archive agency or a central unit
(学时管理办法第十四条). Everyone else is refused with 403, an organisation outside the subtree too; a refusal or bad
input changes nothing."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lms.core.errors import InvalidInput
from lms.declarations import service as declarations
from lms.declarations.models import Declaration, DeclarationStatus
from lms.extensions import db
from lms.ledger import service as ledger
from lms.orgs import service
from lms.orgs.models import Org, OrgKind
from tests.conftest import csrf_token, make_org, make_user
from tests.declarations import client_for, decide, declare, declared_id

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def settings_url(org: Org) -> str:
    return f"/orgs/{org.id}/settings"


def save(client, org: Org, region: str = "", archive_agency: bool = False, reviews_own_hours: bool = False,
         token: str | None = None):
    """Post the settings form as a browser does (checkboxes absent when unticked)."""
    url = settings_url(org)
    data = {"csrf_token": csrf_token(client, url) if token is None else token, "region": region}
    if archive_agency:
        data["archive_agency"] = "y"
    if reviews_own_hours:
        data["reviews_own_hours"] = "y"
    return client.post(url, data=data)


def snapshot() -> dict:
    db.session.rollback()  # read what the requests committed
    rows = db.session.execute(sa.select(Org.id, Org.region, Org.archive_agency, Org.reviews_own_hours)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def person(tree, key: str):
    return tree.admins[key] if key in tree.admins else getattr(tree, key)


def test_a_city_admin_sets_a_department_to_hunan_and_the_people_below_follow_the_hunan_rule_set(app, tree):
    city = client_for(app, tree.admins["city"])
    page = city.get(settings_url(tree.dept_a)).get_data(as_text=True)
    assert "继承上级（湖北省）" in page and "湖南省" in page and 'id="effective-region">湖北省<' in page
    assert "人事档案管理服务机构" not in page  # the unit-only flags are not offered for a department

    response = save(city, tree.dept_a, region="hunan")
    assert response.status_code == 302 and response.headers["Location"].endswith("/orgs")
    assert "学时规则地区为湖南省" in city.get("/orgs").get_data(as_text=True)
    assert db.session.get(Org, tree.dept_a.id).region == "hunan"
    assert ledger.rule_set_of(tree.learner_a, 2026).id == "hunan-2026"  # unit_a hangs under dept_a
    assert ledger.rule_set_of(tree.learner_b, 2026).id == "hubei-2026"  # the other branch is untouched
    assert 'id="effective-region">湖南省<' in city.get(settings_url(tree.unit_a)).get_data(as_text=True)
    kinds = client_for(app, tree.learner_a).get("/declarations/new?year=2026").get_data(as_text=True)
    assert "（湖南省，2026 年度）" in kinds

    assert save(city, tree.dept_a, region="").status_code == 302  # back to inheriting
    assert db.session.get(Org, tree.dept_a.id).region is None
    assert ledger.rule_set_of(tree.learner_a, 2026).id == "hubei-2026"


def test_the_province_admin_may_set_the_province_itself_and_a_unit_deep_below(app, tree):
    province = client_for(app, tree.admins["province"])
    assert "默认（湖北省）" in province.get(settings_url(tree.province)).get_data(as_text=True)
    assert save(province, tree.province, region="hunan").status_code == 302
    assert ledger.rule_set_of(tree.learner_b, 2026).id == "hunan-2026"
    # A nearer organisation's own region wins over the province's.
    assert save(province, tree.unit_b, region="hubei").status_code == 302
    assert ledger.rule_set_of(tree.learner_b, 2026).id == "hubei-2026"
    assert ledger.rule_set_of(tree.learner_a, 2026).id == "hunan-2026"


# actor -> targets: every one refused with 403 and a Chinese message, GET and POST alike.
REFUSED = {
    "unit_a": ["unit_a"],  # a unit admin, even for their own unit
    "dept_a": ["unit_a"],  # the unit's competent department is not an HR bureau
    "base_a": ["base_a"],
    "learner_a": ["unit_a"],
    "reviewer": ["unit_a"],  # a reviewer of the province is not its HR admin
    "county": ["unit_a", "city", "county"],  # outside the subtree, an ancestor, and itself
    "city": ["city"],  # a bureau does not set itself; the level above does
}


@pytest.mark.parametrize("actor", list(REFUSED))
def test_everyone_else_is_refused_and_nothing_changes(app, tree, actor):
    client = client_for(app, person(tree, actor))
    # A token from a page the actor may open, so that only the permission check refuses.
    token = csrf_token(client, "/password")
    for target in REFUSED[actor]:
        org = getattr(tree, target)
        page = client.get(settings_url(org))
        assert page.status_code == 403 and CHINESE.search(page.get_data(as_text=True)), target
        before = snapshot()
        response = save(client, org, region="hunan", token=token)
        assert response.status_code == 403, (target, response.get_data(as_text=True)[:500])
        assert snapshot() == before, target


def test_an_organisation_that_does_not_exist_is_404_for_an_hr_admin(app, tree):
    assert client_for(app, tree.admins["province"]).get("/orgs/999999/settings").status_code == 404


def whole_tree(client) -> str:
    """The tree loads one level at a time: open every level below the admin's organisation, as a person would."""
    pages, todo, seen = [], ["/orgs"], set()
    while todo:
        url = todo.pop()
        html = client.get(url).get_data(as_text=True)
        pages.append(html)
        for under in re.findall(r'href="/orgs\?under=(\d+)"', html):
            if under not in seen:
                seen.add(under)
                todo.append(f"/orgs?under={under}")
    return "\n".join(pages)


def test_the_tree_links_the_settings_only_where_the_admin_may_change_them(app, tree):
    city_tree = whole_tree(client_for(app, tree.admins["city"]))
    linked = {int(i) for i in re.findall(r'href="/orgs/(\d+)/settings"', city_tree)}
    assert linked == {o.id for o in (tree.county, tree.dept_a, tree.dept_b, tree.unit_a, tree.unit_b, tree.base_a)}
    province_tree = whole_tree(client_for(app, tree.admins["province"]))
    assert f'href="/orgs/{tree.province.id}/settings"' in province_tree
    dept_tree = whole_tree(client_for(app, tree.admins["dept_a"]))
    assert "/settings" not in dept_tree


def test_an_unknown_region_is_refused_with_422_naming_the_choices(app, tree):
    city = client_for(app, tree.admins["city"])
    before = snapshot()
    for region in ("shanghai", "HUNAN", "hunan-2026", "x" * 300):
        response = save(city, tree.dept_a, region=region)
        assert response.status_code == 422, region
        assert "请选择学时规则地区：湖北省、湖南省，或继承上级" in response.get_data(as_text=True), region
        assert snapshot() == before, region


def test_the_review_flags_are_refused_on_anything_but_a_unit(app, tree):
    city = client_for(app, tree.admins["city"])
    before = snapshot()
    for target in ("dept_a", "county", "base_a"):
        for flag in ("archive_agency", "reviews_own_hours"):
            response = save(city, getattr(tree, target), region="hunan", **{flag: True})
            assert response.status_code == 422, (target, flag)
            assert "只有用人单位可以设为人事档案管理服务机构或中央在鄂单位" in response.get_data(as_text=True)
            assert snapshot() == before, (target, flag)  # the valid region was not saved either


def test_a_unit_becomes_an_archive_agency_or_a_central_unit_but_not_both(app, tree):
    city = client_for(app, tree.admins["city"])
    page = city.get(settings_url(tree.unit_a)).get_data(as_text=True)
    assert "人事档案管理服务机构" in page and "中央在鄂单位" in page

    before = snapshot()
    response = save(city, tree.unit_a, archive_agency=True, reviews_own_hours=True)
    assert response.status_code == 422 and "不能同时设为自行审核学时的中央在鄂单位" in response.get_data(as_text=True)
    assert snapshot() == before

    assert save(city, tree.unit_a, archive_agency=True).status_code == 302
    unit = db.session.get(Org, tree.unit_a.id)
    assert (unit.region, unit.archive_agency, unit.reviews_own_hours) == (None, True, False)
    assert "· 人事档案管理服务机构" in whole_tree(city)

    assert save(city, tree.unit_a, reviews_own_hours=True).status_code == 302  # unticking the other one
    db.session.rollback()
    unit = db.session.get(Org, tree.unit_a.id)
    assert (unit.archive_agency, unit.reviews_own_hours) == (False, True)
    assert declarations.review_orgs(tree.learner_a) == (unit,)


def test_an_agency_still_hosting_archives_cannot_be_unflagged(app, tree):
    city = client_for(app, tree.admins["city"])
    agency = make_org(OrgKind.UNIT, tree.dept_b, name="人才交流服务中心")
    assert save(city, agency, archive_agency=True).status_code == 302
    db.session.rollback()
    agency = db.session.get(Org, agency.id)
    declarations.record_archive_hosting(make_user(agency, login="agency_admin"), tree.learner_a, agency)
    db.session.commit()
    before = snapshot()
    response = save(city, agency)
    assert response.status_code == 409 and "还登记托管着 1 人的档案" in response.get_data(as_text=True)
    assert snapshot() == before


def test_a_region_change_waits_until_the_declarations_under_review_below_are_decided(app, tree):
    declaration_id = declared_id(declare(client_for(app, tree.learner_a), facts={"presented_paper": "y"}))
    city = client_for(app, tree.admins["city"])
    before = snapshot()
    response = save(city, tree.dept_a, region="hunan")
    assert response.status_code == 409
    assert "还有 1 份审核中或退回补充材料的学时申报按原地区的规则计算" in response.get_data(as_text=True)
    assert snapshot() == before
    # A change that keeps every open declaration's rule set is fine (hubei set explicitly), and so is the other
    # branch, where nobody has one open.
    assert save(city, tree.dept_a, region="hubei").status_code == 302
    assert save(city, tree.dept_b, region="hunan").status_code == 302

    decide(client_for(app, tree.admins["unit_a"]), declaration_id, "approve")
    decide(client_for(app, tree.admins["dept_a"]), declaration_id, "approve")
    decide(city, declaration_id, "approve")
    assert db.session.get(Declaration, declaration_id).status == DeclarationStatus.FILED
    assert save(city, tree.dept_a, region="hunan").status_code == 302
    assert ledger.rule_set_of(tree.learner_a, 2026).id == "hunan-2026"


def test_a_missing_csrf_token_is_refused_and_changes_nothing(app, tree):
    city = client_for(app, tree.admins["city"])
    before = snapshot()
    response = city.post(settings_url(tree.dept_a), data={"region": "hunan"})
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)
    assert snapshot() == before


def test_the_service_refuses_a_flag_that_is_neither_ticked_nor_unticked(app, tree):
    for value in ("maybe", "2", "yes please"):
        with pytest.raises(InvalidInput) as refused:
            service.update_org_settings(tree.admins["city"], tree.unit_a.id, {"region": "", "archive_agency": value})
        assert refused.value.fields == {"archive_agency": "“人事档案管理服务机构”只能勾选或不勾选。"}, value
