"""The review's JSON API: the same rules as its pages, through bearer tokens."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lms.extensions import db
from lms.review.models import SessionReviewDecision
from lms.tracking.models import HoldState, PlaybackSession
from lms.tracking.service import HOLD_REASONS
from tests.conftest import api_token
from tests.review import make_session, speed_up_events, speed_up_trace
from tests.tracking import make_ready_courseware

API = "/api/v1/review"


@pytest.fixture
def courseware(tree):
    return make_ready_courseware(tree.base_a, [tree.learner_a, tree.learner_b], duration_s=300.0,
                                 labelled_hours="0.1")


def chinese(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def hold_state_of(session) -> HoldState:
    db.session.expire_all()
    return db.session.get(PlaybackSession, session.id).hold_state


def test_reviewer_lists_the_queue_filtered_and_paged(client, tree, courseware):
    high = make_session(tree.learner_b, courseware, risk=180)
    low = make_session(tree.learner_a, courseware, risk=100)
    make_session(tree.learner_a, courseware, hold_state=HoldState.NONE)
    released = make_session(tree.learner_a, courseware, hold_state=HoldState.RELEASED)
    headers = api_token(client, tree.reviewer)

    body = client.get(f"{API}/sessions", headers=headers).get_json()
    assert [item["id"] for item in body["items"]] == [high.id, low.id]
    assert body["total"] == 2
    first = body["items"][0]
    assert first["hold_state"] == "held" and first["hold_state_label"] == "待审核"
    assert first["learner"]["name"] == tree.learner_b.name
    assert "*" in first["learner"]["id_number"]  # masked
    assert first["courseware"]["id"] == courseware.id and first["risk_score"] == 180

    assert [i["id"] for i in client.get(f"{API}/sessions?state=released", headers=headers).get_json()["items"]] \
        == [released.id]
    paged = client.get(f"{API}/sessions?per_page=1&page=2", headers=headers).get_json()
    assert [i["id"] for i in paged["items"]] == [low.id] and paged["pages"] == 2


@pytest.mark.parametrize("query, field", [("risk_min=abc", "risk_min"), ("state=maybe", "state"),
                                           ("per_page=1000", "per_page"), ("date_from=2026-13-01", "date_from")])
def test_bad_queue_filters_get_a_chinese_message_per_field(client, tree, courseware, query, field):
    response = client.get(f"{API}/sessions?{query}", headers=api_token(client, tree.reviewer))
    assert response.status_code == 422
    assert chinese(response.get_json()["error"]["fields"][field])


def test_who_may_read_the_review(client, tree, courseware):
    in_county = make_session(tree.learner_b, courseware)  # unit_b lies under the county
    outside = make_session(tree.learner_a, courseware)  # unit_a lies under the city, beside the county

    assert client.get(f"{API}/sessions").status_code == 401
    assert client.get(f"{API}/sessions", headers={"Authorization": "Bearer forged"}).status_code == 401
    for who in (tree.learner_a, tree.admins["unit_a"], tree.admins["base_a"], tree.admins["dept_a"]):
        response = client.get(f"{API}/sessions", headers=api_token(client, who))
        assert response.status_code == 403, who.role
        assert chinese(response.get_json()["error"]["message"])

    county = api_token(client, tree.admins["county"])
    assert [i["id"] for i in client.get(f"{API}/sessions", headers=county).get_json()["items"]] == [in_county.id]
    assert client.get(f"{API}/sessions/{in_county.id}", headers=county).status_code == 200
    response = client.get(f"{API}/sessions/{outside.id}", headers=county)
    assert response.status_code == 403 and "管辖范围" in response.get_json()["error"]["message"]
    assert client.get(f"{API}/sessions/999999", headers=county).status_code == 404


def test_a_session_comes_with_its_trace_events_other_sessions_and_chart(client, tree, courseware):
    earlier = make_session(tree.learner_a, courseware, hold_state=HoldState.NONE)
    session = make_session(tree.learner_a, courseware, trace=speed_up_trace(), events=speed_up_events())
    body = client.get(f"{API}/sessions/{session.id}", headers=api_token(client, tree.reviewer)).get_json()

    assert body["id"] == session.id and body["ip"] == session.ip and body["hold_threshold"] > 0
    assert body["trace"][0] == {"t_ms": 5000, "position_ms": 5000, "credited_ms": 5000, "reason": None}
    assert [p["reason"] for p in body["trace"]].count("rate") == 6
    assert len(body["trace"]) == session.trace_points
    rate = next(e for e in body["events"] if e["type"] == "rate")
    assert rate["values"] == {"dt_ms": 5000, "advance_ms": 10000, "drift_ms": 5000}
    assert chinese(rate["label"]) and rate["offset_s"] == 65.0 and rate["points"] > 0
    assert [e["seq"] for e in body["events"]] == list(range(1, len(speed_up_events()) + 1))
    assert [o["id"] for o in body["other_sessions"]] == [earlier.id]
    assert body["decision"] is None
    assert body["chart_url"].endswith(f"/review/sessions/{session.id}")
    # The chart page it points at draws the same session.
    assert client.get(body["chart_url"]).status_code in (302, 401)  # a page: it wants the login session


def test_a_reviewer_decides_through_the_api_and_the_learner_reads_the_outcome(client, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    other = make_session(tree.learner_b, courseware, events=[(0.0, "opened", {"resume_ms": 0}),
                                                             (3.0, "automation", {"source": "webdriver"})])
    reviewer = api_token(client, tree.reviewer)

    response = client.post(f"{API}/decisions", headers=reviewer,
                           json={"ids": [session.id], "decision": "release", "reason": "复核录屏，确为本人正常观看"})
    assert response.status_code == 201, response.get_json()
    [decision] = response.get_json()
    assert decision["session_id"] == session.id and decision["decision"] == "release"
    assert decision["reviewer"] == tree.reviewer.name
    assert hold_state_of(session) == HoldState.RELEASED

    again = client.post(f"{API}/decisions", headers=reviewer,
                        json={"ids": [session.id], "decision": "void", "reason": "改判"})
    assert again.status_code == 409 and "不能重复审核" in again.get_json()["error"]["message"]

    detail = client.get(f"{API}/sessions/{session.id}", headers=reviewer).get_json()
    assert detail["decision"]["reason"] == "复核录屏，确为本人正常观看"

    records = client.get("/api/v1/my/watch-records", headers=api_token(client, tree.learner_a)).get_json()
    [record] = records
    assert record["courseware"]["id"] == courseware.id and record["held_count"] == 0
    [mine] = record["sessions"]
    assert mine["id"] == session.id and mine["hold_state_label"] == "审核通过"
    assert mine["decision"] == {"decision": "release", "decision_label": "审核通过（计入学时）",
                                "reason": "复核录屏，确为本人正常观看", "decided_at": mine["decision"]["decided_at"]}
    assert "reviewer" not in mine["decision"]
    # The other learner's records hold only their own, still waiting.
    [theirs] = client.get("/api/v1/my/watch-records", headers=api_token(client, tree.learner_b)).get_json()
    assert [s["id"] for s in theirs["sessions"]] == [other.id] and theirs["held_count"] == 1
    assert theirs["sessions"][0]["decision"] is None
    assert theirs["sessions"][0]["hold_reasons"] == [HOLD_REASONS["automation"]]  # why, never the points


HELD = "the held session's id"


@pytest.mark.parametrize("body, field", [
    ({"ids": [], "decision": "void", "reason": "倍速"}, "ids"),
    ({"ids": ["x"], "decision": "void", "reason": "倍速"}, "ids"),
    ({"ids": "1", "decision": "void", "reason": "倍速"}, "ids"),
    ({"decision": "void", "reason": "倍速"}, "ids"),
    ({"ids": [HELD], "decision": "maybe", "reason": "倍速"}, "decision"),
    ({"ids": [HELD], "reason": "倍速"}, "decision"),
    ({"ids": [HELD], "decision": "void", "reason": "  "}, "reason"),
    ({"ids": [HELD], "decision": "void", "reason": "长" * 501}, "reason"),
])
def test_a_bad_decision_is_refused_field_by_field(client, tree, courseware, body, field):
    session = make_session(tree.learner_a, courseware)
    if body.get("ids") == [HELD]:
        body = {**body, "ids": [session.id]}
    response = client.post(f"{API}/decisions", headers=api_token(client, tree.reviewer), json=body)
    assert response.status_code == 422, response.get_json()
    assert chinese(response.get_json()["error"]["fields"][field])
    assert hold_state_of(session) == HoldState.HELD
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionReviewDecision)) == 0


def test_a_batch_with_one_bad_session_changes_nothing(client, tree, courseware):
    held = make_session(tree.learner_a, courseware)
    not_held = make_session(tree.learner_a, courseware, hold_state=HoldState.NONE)
    response = client.post(f"{API}/decisions", headers=api_token(client, tree.reviewer),
                           json={"ids": [held.id, not_held.id], "decision": "void", "reason": "倍速播放"})
    assert response.status_code == 409 and "未做任何修改" in response.get_json()["error"]["message"]
    assert hold_state_of(held) == HoldState.HELD
    missing = client.post(f"{API}/decisions", headers=api_token(client, tree.reviewer),
                          json={"ids": [held.id, 999999], "decision": "void", "reason": "倍速播放"})
    assert missing.status_code == 404 and hold_state_of(held) == HoldState.HELD


def test_hr_admins_read_but_never_decide(client, tree, courseware):
    session = make_session(tree.learner_b, courseware)
    for who in (tree.admins["county"], tree.admins["province"], tree.learner_b):
        response = client.post(f"{API}/decisions", headers=api_token(client, who),
                               json={"ids": [session.id], "decision": "release", "reason": "看过了"})
        assert response.status_code == 403 and chinese(response.get_json()["error"]["message"])
    assert hold_state_of(session) == HoldState.HELD
    assert client.get("/api/v1/my/watch-records", headers=api_token(client, tree.reviewer)).status_code == 403
