"""The reviewers' queue of held sessions, who may see and decide what, and what a decision does to the ledger."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from lms.accounts.models import Role
from lms.core.db import utcnow
from lms.core.errors import Conflict, NotAllowed
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import CreditState, LedgerEntry
from lms.orgs.models import ReviewStatus
from lms.review import service
from lms.review.models import ReviewOutcome, SessionReviewDecision
from lms.tracking import service as tracking
from lms.tracking.models import CoursewareProgress, HoldState, PlaybackSession, PlaybackState
from tests.conftest import csrf_token, login, make_org, make_user
from tests.ledger import mark_watched
from tests.review import make_session, speed_up_events, speed_up_trace
from tests.tracking import make_ready_courseware

QUEUE = "/review/sessions"


@pytest.fixture
def courseware(tree):
    return make_ready_courseware(tree.base_a, [tree.learner_a, tree.learner_b], duration_s=300.0,
                                 labelled_hours="0.1")


def page_url(session) -> str:
    return f"/review/sessions/{session.id}"


def decide(client, session, decision: str, reason: str):
    token = csrf_token(client, page_url(session))
    return client.post(f"{page_url(session)}/decide",
                       data={"decision": decision, "reason": reason, "csrf_token": token})


def queue_ids(client, query: str = "") -> list[int]:
    response = client.get(f"{QUEUE}{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [int(i) for i in re.findall(r'href="/review/sessions/(\d+)"', response.get_data(as_text=True))]


def progress_of(user, courseware) -> CoursewareProgress | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(CoursewareProgress).where(CoursewareProgress.user_id == user.id,
                                                                 CoursewareProgress.courseware_id == courseware.id))


# ------------------------------------------------------------------------------------------------ queue


def test_queue_lists_held_sessions_riskiest_then_oldest(client, tree, courseware):
    now = utcnow()
    low_old = make_session(tree.learner_a, courseware, risk=100, started_at=now - dt.timedelta(days=3))
    high = make_session(tree.learner_b, courseware, risk=180, started_at=now - dt.timedelta(days=1))
    low_new = make_session(tree.learner_a, courseware, risk=100, started_at=now - dt.timedelta(days=1))
    make_session(tree.learner_a, courseware, hold_state=HoldState.NONE, risk=20)
    released = make_session(tree.learner_a, courseware, hold_state=HoldState.RELEASED)
    login(client, tree.reviewer)
    assert queue_ids(client) == [high.id, low_old.id, low_new.id]
    assert queue_ids(client, "?state=released") == [released.id]


def test_queue_filters_by_course_person_dates_risk_and_event_type(client, tree, courseware):
    other = make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0)
    now = utcnow()
    a = make_session(tree.learner_a, courseware, risk=120, started_at=now - dt.timedelta(days=10),
                     events=[(0.0, "opened", {"resume_ms": 0}), (30.0, "automation", {"source": "webdriver"})])
    b = make_session(tree.learner_b, courseware, risk=150, started_at=now - dt.timedelta(days=2),
                     trace=speed_up_trace(), events=speed_up_events())
    c = make_session(tree.learner_a, other, risk=300, started_at=now - dt.timedelta(days=2))
    login(client, tree.reviewer)
    assert queue_ids(client, f"?courseware_id={courseware.id}") == [b.id, a.id]
    assert queue_ids(client, f"?course_id={other.course_id}") == [c.id]
    assert queue_ids(client, f"?person={tree.learner_b.name}") == [b.id]
    assert queue_ids(client, f"?person={tree.learner_a.id_number}") == [c.id, a.id]
    since = (now - dt.timedelta(days=5)).date().isoformat()
    assert queue_ids(client, f"?date_from={since}") == [c.id, b.id]
    assert queue_ids(client, f"?date_to={since}") == [a.id]
    assert queue_ids(client, "?risk_min=130&risk_max=200") == [b.id]
    assert queue_ids(client, "?event_type=rate") == [b.id]
    assert queue_ids(client, "?event_type=automation&risk_max=120") == [a.id]
    assert queue_ids(client, "?per_page=1&page=2") == [b.id]


@pytest.mark.parametrize(("query", "message"), [
    ("?risk_min=abc", "最低风险分应为整数"),
    ("?risk_min=50&risk_max=10", "最高风险分不能小于最低风险分"),
    ("?date_from=2026-13-01", "开始日期格式应为 YYYY-MM-DD"),
    ("?event_type=nonsense", "请从列表中选择事件类型"),
    ("?state=deleted", "审核状态只能是"),
    ("?per_page=1000", "每页条数应在 1 到 100 之间"),
])
def test_bad_queue_filters_are_explained_in_chinese(client, tree, query, message):
    login(client, tree.reviewer)
    response = client.get(f"{QUEUE}{query}")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ who


@pytest.mark.parametrize("who", ["learner_a", "base_a", "unit_a", "dept_a"])
def test_only_reviewers_and_hr_admins_reach_the_review(client, tree, courseware, who):
    session = make_session(tree.learner_a, courseware)
    user = getattr(tree, who) if who.startswith("learner") else tree.admins[who]
    login(client, user)
    assert client.get(QUEUE).status_code == 403
    assert client.get(page_url(session)).status_code == 403
    response = client.post(f"{page_url(session)}/decide", data={"decision": "release", "reason": "x"})
    assert response.status_code in (400, 403)
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.HELD


def test_a_pending_reviewer_is_refused(client, tree, courseware):
    pending = make_user(tree.province, Role.REVIEWER, status=ReviewStatus.PENDING)
    session = make_session(tree.learner_a, courseware)
    login(client, pending)
    assert client.get(page_url(session)).status_code != 200
    with pytest.raises(NotAllowed):
        service.decide_sessions(pending, [session.id], "release", "看过了")


def test_hr_admin_sees_only_the_subtree_and_cannot_decide(client, tree, courseware):
    in_county = make_session(tree.learner_b, courseware)  # unit_b lies under the county
    outside = make_session(tree.learner_a, courseware)  # unit_a lies under the city, beside the county
    county_admin = tree.admins["county"]
    login(client, county_admin)
    assert queue_ids(client) == [in_county.id]
    assert client.get(page_url(in_county)).status_code == 200
    assert client.get(page_url(outside)).status_code == 403
    html = client.get(page_url(in_county)).get_data(as_text=True)
    assert "提交审核结果" not in html
    response = client.post(f"{page_url(in_county)}/decide",
                           data={"decision": "void", "reason": "作弊", "csrf_token": csrf_token(client, QUEUE)})
    assert response.status_code == 403
    with pytest.raises(NotAllowed):
        service.decide_sessions(county_admin, [in_county.id], "void", "作弊")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionReviewDecision)) == 0


def test_a_reviewer_of_another_province_cannot_see_or_decide(client, tree, courseware):
    other_province = make_org(tree.province.kind)
    stranger = make_user(other_province, Role.REVIEWER)
    session = make_session(tree.learner_a, courseware)
    login(client, stranger)
    assert queue_ids(client) == []
    assert client.get(page_url(session)).status_code == 403
    with pytest.raises(NotAllowed):
        service.decide_sessions(stranger, [session.id], "release", "正常")


# ------------------------------------------------------------------------------------------------ decisions


def held_credit_for(user, courseware):
    """A learner whose course credit waits for the review of a held session (as the quiz issue will claim it)."""
    session = make_session(user, courseware, credited_s=300.0, coverage_s=300)
    mark_watched(user, courseware.course)
    credit = ledger.credit_course(user, courseware.course)
    db.session.commit()
    assert credit.state == CreditState.HELD
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
    return session, credit


def test_release_posts_the_held_course_credit(client, tree, courseware):
    session, credit = held_credit_for(tree.learner_a, courseware)
    login(client, tree.reviewer)
    response = decide(client, session, "release", "网络波动导致的误判，轨迹正常")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.RELEASED
    decision = db.session.scalar(sa.select(SessionReviewDecision))
    assert (decision.session_id, decision.decision, decision.reason, decision.reviewer_id) == (
        session.id, ReviewOutcome.RELEASE, "网络波动导致的误判，轨迹正常", tree.reviewer.id)
    assert decision.decided_at is not None
    assert db.session.get(type(credit), credit.id).state == CreditState.POSTED
    entries = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == tree.learner_a.id)).all()
    assert [(e.source_id, float(e.hours)) for e in entries] == [(credit.id, 0.1)]
    progress = progress_of(tree.learner_a, courseware)
    assert progress.completed and progress.verified_watch_seconds == 300.0 and progress.held_seconds == 0


def test_void_posts_nothing_and_leaves_the_courseware_incomplete(client, tree, courseware):
    session, credit = held_credit_for(tree.learner_a, courseware)
    login(client, tree.reviewer)
    response = decide(client, session, "void", "倍速播放，轨迹明显快于允许速率")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.VOIDED
    assert db.session.get(type(credit), credit.id).state == CreditState.VOIDED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
    progress = progress_of(tree.learner_a, courseware)
    assert not progress.completed and progress.verified_watch_seconds == 0


def test_reason_is_required_and_nothing_changes_without_one(client, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    login(client, tree.reviewer)
    response = decide(client, session, "release", "   ")
    assert response.status_code == 422
    assert "请填写审核理由" in response.get_data(as_text=True)
    response = decide(client, session, "approve", "理由")
    assert response.status_code == 422
    assert "请选择审核结果" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.HELD
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionReviewDecision)) == 0


def test_a_decided_session_cannot_be_decided_again(client, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    login(client, tree.reviewer)
    assert decide(client, session, "void", "自动化脚本").status_code == 302
    # A second reviewer with the page still open posts the other outcome.
    second = make_user(tree.province, Role.REVIEWER)
    client.post("/logout", data={"csrf_token": csrf_token(client, QUEUE)})
    login(client, second)
    token = csrf_token(client, QUEUE)
    response = client.post(f"{page_url(session)}/decide",
                           data={"decision": "release", "reason": "看着正常", "csrf_token": token})
    assert response.status_code == 409
    assert "不能重复审核" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.VOIDED
    decisions = db.session.scalars(sa.select(SessionReviewDecision)).all()
    assert [(d.decision, d.reviewer_id) for d in decisions] == [(ReviewOutcome.VOID, tree.reviewer.id)]


def test_two_reviewers_at_once_only_one_wins(app, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    second = make_user(tree.province, Role.REVIEWER)
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.HELD  # this reviewer's view
    # Meanwhile the other reviewer's request decides it and commits, on its own connection.
    with db.engine.begin() as connection:
        connection.execute(sa.update(PlaybackSession).where(PlaybackSession.id == session.id)
                           .values(hold_state=HoldState.RELEASED))
        connection.execute(sa.insert(SessionReviewDecision).values(
            session_id=session.id, decision=ReviewOutcome.RELEASE, reason="正常", reviewer_id=second.id,
            decided_at=utcnow()))
    with pytest.raises(Conflict, match="刚刚已由其他审核员处理"):
        service.decide_sessions(tree.reviewer, [session.id], "void", "作弊")
    db.session.rollback()
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.RELEASED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionReviewDecision)) == 1


def test_batch_decision_from_the_queue_is_all_or_nothing(client, tree, courseware):
    one = make_session(tree.learner_a, courseware)
    two = make_session(tree.learner_b, courseware)
    done = make_session(tree.learner_a, courseware)
    login(client, tree.reviewer)
    assert decide(client, done, "release", "正常").status_code == 302
    token = csrf_token(client, QUEUE)
    response = client.post(f"{QUEUE}/decide", data={"session_ids": [one.id, done.id], "decision": "void",
                                                     "reason": "同一地址多账号", "csrf_token": token})
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(PlaybackSession, one.id).hold_state == HoldState.HELD
    response = client.post(f"{QUEUE}/decide", data={"session_ids": [one.id, two.id], "decision": "void",
                                                     "reason": "同一地址多账号", "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert {db.session.get(PlaybackSession, s.id).hold_state for s in (one, two)} == {HoldState.VOIDED}
    reasons = db.session.scalars(sa.select(SessionReviewDecision.reason).where(
        SessionReviewDecision.session_id.in_([one.id, two.id]))).all()
    assert reasons == ["同一地址多账号", "同一地址多账号"]
    response = client.post(f"{QUEUE}/decide", data={"decision": "void", "reason": "x", "csrf_token": token})
    assert response.status_code == 422 and "请至少选择一条记录" in response.get_data(as_text=True)
    assert queue_ids(client) == []


def test_a_decision_row_is_never_edited(app, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    service.decide_sessions(tree.reviewer, [session.id], "release", "正常")
    db.session.commit()
    with pytest.raises(DBAPIError), db.engine.begin() as connection:
        connection.execute(sa.update(SessionReviewDecision).values(reason="改过的理由"))
    assert db.session.scalar(sa.select(SessionReviewDecision.reason)) == "正常"


def test_recompute_after_release_counts_the_session(app, tree, courseware):
    session = make_session(tree.learner_a, courseware, credited_s=300.0, coverage_s=300)
    progress = tracking.recompute_progress(tree.learner_a.id, courseware.id)
    db.session.commit()
    assert (progress.completed, progress.held_seconds) == (False, 300.0)
    service.decide_sessions(tree.reviewer, [session.id], ReviewOutcome.RELEASE.value, "正常")
    db.session.commit()
    progress = progress_of(tree.learner_a, courseware)
    assert (progress.completed, progress.verified_watch_seconds, progress.held_seconds) == (True, 300.0, 0.0)


# ------------------------------------------------------------------------------------------------ pages


def test_session_page_shows_facts_events_and_the_persons_other_sessions(client, tree, courseware):
    session = make_session(tree.learner_a, courseware, risk=105, trace=speed_up_trace(), events=speed_up_events(),
                           ip="203.0.113.9", user_agent="Mozilla/5.0 HeadlessChrome/131", device_id="dev-xyz12345")
    older = make_session(tree.learner_a, courseware, hold_state=HoldState.NONE, risk=10,
                         started_at=session.started_at - dt.timedelta(days=2))
    login(client, tree.reviewer)
    html = client.get(page_url(session)).get_data(as_text=True)
    for text in ("203.0.113.9", "HeadlessChrome/131", "dev-xyz12345", "倍速播放", "转入人工审核",
                 "间隔 5.0 秒，视频前进 10.0 秒", "+35", "1 分 30 秒", f'href="/review/sessions/{older.id}"',
                 "倍速播放：1 段，共 30 秒未计时", "2.0 倍速"):
        assert text in html, text
    assert html.count('data-type="rate"') >= 3


def test_learner_sees_held_then_the_outcome_with_its_reason(client, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    login(client, tree.learner_a)
    html = client.get("/my/watch-records").get_data(as_text=True)
    assert "观看记录" in html and "待审核" in html and "已提交人工审核" in html
    assert 'href="/my/watch-records"' in html  # in the learner's menu
    service.decide_sessions(tree.reviewer, [session.id], "release", "经核查为网络波动，予以认可")
    db.session.commit()
    html = client.get("/my/watch-records").get_data(as_text=True)
    assert "审核通过" in html and "经核查为网络波动，予以认可" in html and "已提交人工审核" not in html
    client.post("/logout", data={"csrf_token": csrf_token(client, "/my/watch-records")})
    login(client, tree.learner_b)
    assert "经核查为网络波动" not in client.get("/my/watch-records").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/my/watch-records")})
    login(client, tree.reviewer)
    assert client.get("/my/watch-records").status_code == 403
    assert 'href="/review/sessions"' in client.get(QUEUE).get_data(as_text=True)


def test_a_session_still_playing_cannot_be_decided_yet(client, tree, courseware):
    session = make_session(tree.learner_a, courseware)
    db.session.execute(sa.update(PlaybackSession).values(state=PlaybackState.OPEN, ended_at=None))
    db.session.commit()
    login(client, tree.reviewer)
    assert "播放结束后（页面关闭或 30 分钟无心跳）才能审核" in client.get(page_url(session)).get_data(as_text=True)
    with pytest.raises(Conflict, match="仍在播放中"):
        service.decide_sessions(tree.reviewer, [session.id], "void", "倍速")
    db.session.rollback()
    assert db.session.get(PlaybackSession, session.id).hold_state == HoldState.HELD
