"""Review close to the people (issue 16): reviewers of a city or county bureau, who is expected to act, waiting
times, figures by organisation, and what the learner is told; on both backends."""

from __future__ import annotations

import datetime as dt

import pytest

from lms.accounts.models import Role
from lms.core.db import utcnow
from lms.extensions import db
from lms.review import routing, service
from lms.tracking.models import HoldState
from tests.conftest import api_token, login, make_user
from tests.review import make_session
from tests.tracking import make_ready_courseware


@pytest.fixture
def held(tree):
    courseware = make_ready_courseware(tree.base_a, [tree.learner_a, tree.learner_b], duration_s=300.0)
    sessions = {"a": make_session(tree.learner_a, courseware), "b": make_session(tree.learner_b, courseware)}
    db.session.commit()
    return sessions


@pytest.fixture
def reviewers(tree):
    return {"county": make_user(tree.county, Role.REVIEWER, login="county_reviewer"),
            "city": make_user(tree.city, Role.REVIEWER, login="city_reviewer"), "province": tree.reviewer}


# Who sees (queue, session) and decides which held session: the county's learner_b, the city's learner_a.
MATRIX = {"county": {"b"}, "city": {"a", "b"}, "province": {"a", "b"}}


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_a_reviewer_sees_and_decides_only_the_held_sessions_of_its_subtree(client, tree, held, reviewers, who):
    headers = api_token(client, reviewers[who])
    listed = {item["id"] for item in client.get("/api/v1/review/sessions", headers=headers).get_json()["items"]}
    assert listed == {held[k].id for k in MATRIX[who]}
    for key, session in held.items():
        inside = key in MATRIX[who]
        assert client.get(f"/api/v1/review/sessions/{session.id}", headers=headers).status_code == (
            200 if inside else 403)
    outside = [held[k].id for k in held if k not in MATRIX[who]]
    if outside:
        answer = client.post("/api/v1/review/decisions", headers=headers,
                             json={"ids": outside, "decision": "release", "reason": "越权测试"})
        assert answer.status_code == 403
    inside_ids = [held[k].id for k in sorted(MATRIX[who])]
    answer = client.post("/api/v1/review/decisions", headers=headers,
                         json={"ids": inside_ids, "decision": "release", "reason": "核实为本人学习"})
    assert answer.status_code == 201, answer.get_json()


def test_a_county_hr_admin_without_the_role_still_cannot_decide(client, tree, held):
    headers = api_token(client, tree.admins["county"])
    answer = client.post("/api/v1/review/decisions", headers=headers,
                         json={"ids": [held["b"].id], "decision": "release", "reason": "试图放行"})
    assert answer.status_code == 403


def test_a_held_session_goes_to_the_nearest_reviewer_above_the_person(client, tree, held, reviewers):
    expected = routing.expected_reviewers(list(held.values()))
    assert expected[held["b"].id].id == tree.county.id
    assert expected[held["a"].id].id == tree.city.id
    items = client.get("/api/v1/review/sessions", headers=api_token(client, tree.reviewer)).get_json()["items"]
    by_id = {item["id"]: item for item in items}
    assert by_id[held["b"].id]["expected_reviewer"]["id"] == tree.county.id
    assert by_id[held["a"].id]["waiting_s"] > 0


def test_without_a_nearer_reviewer_the_province_is_expected_to_act(tree, held):
    expected = routing.expected_reviewers(list(held.values()))
    assert {org.id for org in expected.values()} == {tree.province.id}


def test_the_queue_page_shows_waiting_time_and_who_acts(app, client, tree, held, reviewers):
    login(client, reviewers["county"])
    html = client.get("/review/sessions").get_data(as_text=True)
    assert "已等待" in html and "本级审核" in html
    assert tree.learner_a.name not in html


def test_figures_show_holds_releases_and_voids_by_organisation(client, tree, held, reviewers):
    service.decide_sessions(reviewers["county"], [held["b"].id], "void", "确认代学")
    db.session.commit()
    figures = {f.org.id: f for f in routing.figures_by_org(tree.reviewer)}
    assert (figures[tree.city.id].held, figures[tree.city.id].voided, figures[tree.city.id].waiting) == (2, 1, 1)
    answer = client.get("/api/v1/review/figures", headers=api_token(client, reviewers["city"])).get_json()
    rows = {row["org"]["id"]: row for row in answer["items"]}
    assert rows[tree.county.id]["voided"] == 1 and rows[tree.dept_a.id]["waiting"] == 1
    assert client.get("/api/v1/review/figures", headers=api_token(client, tree.learner_a)).status_code == 403


def test_a_held_learner_is_told_how_long_review_usually_takes(client, tree, held, reviewers):
    courseware = held["b"].courseware
    for hours in (2, 4, 30):  # earlier decisions in the county: median 4 hours
        earlier = make_session(tree.learner_b, courseware)
        earlier.held_at = utcnow() - dt.timedelta(hours=hours, minutes=1)
        db.session.commit()
        service.decide_sessions(reviewers["county"], [earlier.id], "release", "核实")
        db.session.commit()
    typical = routing.typical_review_seconds(tree.learner_b)
    assert 4 * 3600 < typical < 4 * 3600 + 120
    login(client, tree.learner_b)
    assert "近期审核通常在约 4 小时" in client.get("/my/watch-records").get_data(as_text=True)
    records = client.get("/api/v1/my/watch-records", headers=api_token(client, tree.learner_b)).get_json()
    assert 4 * 3600 < records[0]["typical_review_s"] < 4 * 3600 + 120
    assert held["b"].hold_state == HoldState.HELD
