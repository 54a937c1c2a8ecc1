"""Course authoring by a continuing-education base (SPEC §1, §2, §4, §7).

Only the approved admin of the course's own base changes a course; everyone else is refused with nothing
changed. Labelled hours never exceed the video's duration ÷ 45 minutes (学时管理办法 第四条), checked when the
hours are set and again at publication, since a new, shorter video may arrive later. Coursewares and hours
freeze once a course is published. The base's page follows media processing live over Socket.IO.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import time

import pytest
import requests
import socketio as socketio_client
import sqlalchemy as sa

from lms.accounts.models import Role
from lms.core.realtime import emit
from lms.courses.events import MEDIA_NAMESPACE, MediaNamespace, register_socketio_namespaces
from lms.courses.models import Category, Course, CourseState, Courseware, MediaAsset, MediaStatus
from lms.courses.service import current_year
from lms.extensions import db, socketio
from lms.orgs.models import OrgKind, ReviewStatus
from tests.conftest import api_token, csrf_token, login, make_org, make_user
from tests.player import browser_session, live_server, make_course, make_media

HOURS_RULE = "视频时长 52 分钟，最多可标定 1.1 学时"  # 3120 s ÷ 2700 s = 1.15… → 1.1


@pytest.fixture
def base_b(tree):
    """A second base, under the other department, with its own approved admin."""
    org = make_org(OrgKind.BASE, tree.dept_b)
    return org, make_user(org, login="admin_base_b")


@pytest.fixture
def ready_course(tree):
    """A draft course of base_a with two coursewares (1.0 h each) on ready 52-minute videos: publishable."""
    media = [make_media(tree.base_a, write_files=False) for _ in range(2)]
    return make_course(tree.base_a, title="医疗纠纷预防与处理", hours=(1.0, 1.0), media=media)


def course_body(**overrides) -> dict:
    body = {"category": "public", "year": current_year(), "title": "专业技术人员职业道德",
            "description": "第一行\n第二行"}
    body.update(overrides)
    return body


def course_rows() -> dict:
    """Everything authoring can change, to prove a refusal changed nothing."""
    db.session.rollback()
    courses = db.session.execute(sa.select(Course.id, Course.category, Course.year, Course.title, Course.description,
                                           Course.state, Course.published_at)).all()
    coursewares = db.session.execute(sa.select(Courseware.id, Courseware.course_id, Courseware.position,
                                               Courseware.title, Courseware.labelled_hours, Courseware.media_id)).all()
    return {"courses": sorted(courses), "coursewares": sorted(coursewares)}


# ------------------------------------------------------------------------------------------------ authorisation


OPERATIONS = {
    "view": ("GET", "/api/v1/base/courses/{course}", None, 200),
    "edit": ("PATCH", "/api/v1/base/courses/{course}", {"title": "改过的名称"}, 200),
    "add_courseware": ("POST", "/api/v1/base/courses/{course}/coursewares",
                       {"title": "新课件", "labelled_hours": "0.5"}, 201),
    "edit_courseware": ("PATCH", "/api/v1/base/coursewares/{cw1}", {"labelled_hours": "0.5"}, 200),
    "reorder": ("PUT", "/api/v1/base/courses/{course}/coursewares/order", {"ids": ["cw2", "cw1"]}, 200),
    "remove_courseware": ("DELETE", "/api/v1/base/coursewares/{cw2}", None, 204),
    "publish": ("POST", "/api/v1/base/courses/{course}/publish", None, 200),
}


def actor_headers(client, tree, base_b, actor: str) -> dict:
    if actor == "anonymous":
        return {}
    if actor == "other_base":
        return api_token(client, base_b[1])
    if actor == "pending_base_admin":
        return api_token(client, make_user(tree.base_a, Role.BASE_ADMIN, ReviewStatus.PENDING, login="pending_base"))
    if actor in ("learner_a", "reviewer"):
        return api_token(client, getattr(tree, actor))
    return api_token(client, tree.admins[actor])


def _request(client, operation: str, course, headers):
    method, url, body, _ok = OPERATIONS[operation]
    ids = {"course": course.id, "cw1": course.coursewares[0].id, "cw2": course.coursewares[1].id}
    if body and "ids" in body:
        body = {"ids": [ids[i] for i in body["ids"]]}
    return client.open(url.format(**ids), method=method, json=body, headers=headers)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_base_admin_of_the_course_may_do_every_authoring_operation(client, tree, ready_course, operation):
    response = _request(client, operation, ready_course, api_token(client, tree.admins["base_a"]))
    assert response.status_code == OPERATIONS[operation][3], response.get_json()


@pytest.mark.parametrize("actor", ["other_base", "learner_a", "unit_a", "dept_a", "province", "reviewer",
                                   "pending_base_admin", "anonymous"])
def test_nobody_else_may_author_a_course_and_nothing_changes(client, tree, base_b, ready_course, actor):
    headers = actor_headers(client, tree, base_b, actor)
    before = course_rows()
    for operation in OPERATIONS:
        response = _request(client, operation, ready_course, headers)
        assert response.status_code == (401 if actor == "anonymous" else 403), operation
        assert re.search(r"[\u4e00-\u9fff]", response.get_json()["error"]["message"]), operation
        assert course_rows() == before, operation


@pytest.mark.parametrize("actor", ["other_base", "learner_a", "unit_a", "dept_a", "anonymous"])
def test_nobody_else_may_withdraw_a_published_course(client, tree, base_b, actor):
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,), media=[make_media(tree.base_a)])
    response = client.post(f"/api/v1/base/courses/{course.id}/withdraw",
                           headers=actor_headers(client, tree, base_b, actor))
    assert response.status_code == (401 if actor == "anonymous" else 403)
    db.session.refresh(course)
    assert course.state == CourseState.PUBLISHED


def test_only_base_admins_create_courses_and_each_in_their_own_base(client, tree, base_b):
    for actor in ("learner_a", "unit_a", "dept_a", "province"):
        response = client.post("/api/v1/base/courses", json=course_body(), headers=actor_headers(client, tree, base_b,
                                                                                                   actor))
        assert response.status_code == 403
    assert client.post("/api/v1/base/courses", json=course_body()).status_code == 401
    response = client.post("/api/v1/base/courses", json=course_body(), headers=api_token(client, base_b[1]))
    assert response.status_code == 201
    assert response.get_json()["base_id"] == base_b[0].id
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 1


def test_course_list_shows_only_the_callers_own_base(client, tree, base_b):
    mine = make_course(tree.base_a, title="本基地课程")
    make_course(base_b[0], title="别的基地课程")
    listed = client.get("/api/v1/base/courses", headers=api_token(client, tree.admins["base_a"])).get_json()
    assert [c["id"] for c in listed] == [mine.id]
    login(client, tree.admins["base_a"])
    page = client.get("/base/courses").get_data(as_text=True)
    assert "本基地课程" in page and "别的基地课程" not in page


@pytest.mark.parametrize(("actor", "status"), [("base_a", 200), ("other_base", 403), ("learner_a", 403),
                                               ("unit_a", 403), ("dept_a", 403)])
def test_course_pages_are_for_the_own_base_admin_only(client, tree, base_b, ready_course, actor, status):
    login(client, {"other_base": base_b[1], "learner_a": tree.learner_a}.get(actor) or tree.admins[actor])
    course_url = f"/base/courses/{ready_course.id}"
    for url in (course_url, f"{course_url}/edit", f"{course_url}/media.json",
                f"/base/coursewares/{ready_course.coursewares[0].id}/edit"):
        assert client.get(url).status_code == status, url


def test_anonymous_visitors_are_sent_to_log_in(client, ready_course):
    response = client.get(f"/base/courses/{ready_course.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_base_admin_cannot_publish_through_the_page_form(client, tree, base_b, ready_course):
    login(client, base_b[1])
    token = csrf_token(client, "/base/courses/new")
    before = course_rows()
    assert client.post(f"/base/courses/{ready_course.id}/publish", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/base/coursewares/{ready_course.coursewares[0].id}/remove",
                       data={"csrf_token": token}).status_code == 403
    assert course_rows() == before


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"category": "mandatory"}, "category", "请选择课程类别"),
    ({"category": ""}, "category", "请选择课程类别"),
    ({"year": "next_year_plus_2"}, "year", "年度应为"),
    ({"year": "last_year_minus_2"}, "year", "年度应为"),
    ({"year": "二〇二六"}, "year", "年度应为"),
    ({"title": "课" * 101}, "title", "不能超过 100 个字符"),
    ({"title": "   "}, "title", "请填写课程名称"),
    ({"description": "述" * 2001}, "description", "不能超过 2000 个字符"),
    ({"description": "含有\x07响铃"}, "description", "控制字符"),
], ids=["unknown-category", "no-category", "year-too-late", "year-too-early", "year-not-a-number", "long-title",
        "blank-title", "long-description", "control-character"])
def test_bad_course_fields_are_refused_with_the_reason_and_nothing_saved(client, tree, overrides, field, message):
    years = {"next_year_plus_2": current_year() + 2, "last_year_minus_2": current_year() - 2}
    overrides = {k: years.get(v, v) for k, v in overrides.items()}
    response = client.post("/api/v1/base/courses", json=course_body(**overrides),
                           headers=api_token(client, tree.admins["base_a"]))
    assert response.status_code == 422
    assert message in response.get_json()["error"]["fields"][field]
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_a_course_is_created_as_a_draft_with_its_description_lines_kept(client, tree):
    response = client.post("/api/v1/base/courses", json=course_body(year=current_year() + 1),
                           headers=api_token(client, tree.admins["base_a"]))
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "draft" and body["category_label"] == "公需科目" and body["year"] == current_year() + 1
    assert body["description"] == "第一行\n第二行"


@pytest.mark.parametrize(("hours", "message"), [
    ("2.0", HOURS_RULE),
    ("1.2", HOURS_RULE),
    (0, "必须大于 0"),
    ("-1", "必须大于 0"),
    ("abc", "应为数字"),
    ("NaN", "应为数字"),
    ("Infinity", "应为数字"),
    (True, "应为数字"),
    ("", "请填写标定学时"),
    ("1.25", "0.1 学时为单位"),
    ("1.055", "0.1 学时为单位"),
    (0.05, "0.1 学时为单位"),
    ("99", "不能超过 5.3 学时"),
], ids=["over-duration", "just-over-duration", "zero", "negative", "text", "nan", "infinity", "boolean", "empty",
        "two-decimals", "three-decimals", "float-below-step", "longer-than-any-video"])
def test_bad_labelled_hours_are_refused_with_the_reason(client, tree, ready_course, hours, message):
    courseware = ready_course.coursewares[0]
    before = course_rows()
    response = client.patch(f"/api/v1/base/coursewares/{courseware.id}", json={"labelled_hours": hours},
                            headers=api_token(client, tree.admins["base_a"]))
    assert response.status_code == 422, response.get_json()
    assert message in response.get_json()["error"]["fields"]["labelled_hours"]
    assert course_rows() == before


@pytest.mark.parametrize("hours", ["1.1", 1.1, "0.1", "1.10", " 0.5 "])
def test_hours_within_the_videos_duration_in_steps_of_a_tenth_are_accepted(client, tree, ready_course, hours):
    courseware = ready_course.coursewares[0]
    response = client.patch(f"/api/v1/base/coursewares/{courseware.id}", json={"labelled_hours": hours},
                            headers=api_token(client, tree.admins["base_a"]))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["labelled_hours"] == str(float(str(hours).strip()))


def test_courseware_title_is_checked(client, tree, ready_course):
    headers = api_token(client, tree.admins["base_a"])
    response = client.post(f"/api/v1/base/courses/{ready_course.id}/coursewares",
                           json={"title": "讲" * 101, "labelled_hours": "abc"}, headers=headers)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "不能超过 100 个字符" in fields["title"] and "应为数字" in fields["labelled_hours"]


def test_the_hours_form_says_why_hours_exceed_the_video(client, tree, ready_course):
    login(client, tree.admins["base_a"])
    url = f"/base/coursewares/{ready_course.coursewares[0].id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert HOURS_RULE in page  # said before anyone types
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "title": "第1讲", "labelled_hours": "1.5"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="field has-error"' in html and HOURS_RULE in html
    db.session.refresh(ready_course.coursewares[0])
    assert str(ready_course.coursewares[0].labelled_hours) == "1.0"


# ------------------------------------------------------------------------------------------------ publishing


def publish(client, tree, course):
    return client.post(f"/api/v1/base/courses/{course.id}/publish", headers=api_token(client, tree.admins["base_a"]))


def test_a_course_with_ready_videos_within_their_hours_is_published(client, tree, ready_course):
    response = publish(client, tree, ready_course)
    assert response.status_code == 200
    assert response.get_json()["state"] == "published" and response.get_json()["labelled_hours"] == "2.0"
    db.session.refresh(ready_course)
    assert ready_course.state == CourseState.PUBLISHED and ready_course.published_at is not None


def test_an_empty_course_cannot_be_published(client, tree):
    course = make_course(tree.base_a)
    response = publish(client, tree, course)
    assert response.status_code == 409
    assert "至少添加一个课件" in response.get_json()["error"]["message"]
    db.session.refresh(course)
    assert course.state == CourseState.DRAFT


@pytest.mark.parametrize(("status", "message"), [
    (None, "还没有上传视频"),
    (MediaStatus.UPLOADING, "视频上传中，处理完成后才能发布"),
    (MediaStatus.QUEUED, "视频排队处理，处理完成后才能发布"),
    (MediaStatus.PROCESSING, "视频转码中，处理完成后才能发布"),
    (MediaStatus.FAILED, "视频处理失败：文件不是可播放的视频"),
])
def test_a_course_whose_media_is_not_ready_cannot_be_published(client, tree, status, message):
    media = None
    if status is not None:
        media = make_media(tree.base_a, status=status, duration_s=None)
        media.error_message = "文件不是可播放的视频。" if status == MediaStatus.FAILED else None
        db.session.commit()
    ready = make_media(tree.base_a, write_files=False)
    course = make_course(tree.base_a, hours=(1.0, 1.0), media=[ready, media])
    response = publish(client, tree, course)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert message in error["message"] and "第2讲" in error["message"]
    assert list(error["fields"]) == [f"courseware_{course.coursewares[1].id}"]
    db.session.refresh(course)
    assert course.state == CourseState.DRAFT


def test_a_new_shorter_video_makes_the_courseware_unpublishable_until_its_hours_fit(client, tree):
    headers = api_token(client, tree.admins["base_a"])
    course = make_course(tree.base_a, hours=(2.0,))  # hours set before any video: nothing to check yet
    courseware = course.coursewares[0]
    courseware.media_id = make_media(tree.base_a, write_files=False).id  # a 52-minute video becomes ready
    db.session.commit()
    response = publish(client, tree, course)
    assert response.status_code == 409
    assert f"当前标定 2.0 学时，超出上限：{HOURS_RULE}" in response.get_json()["error"]["message"]
    shown = client.get(f"/api/v1/base/courses/{course.id}", headers=headers).get_json()
    assert HOURS_RULE in shown["coursewares"][0]["problem"]
    assert client.patch(f"/api/v1/base/coursewares/{courseware.id}", json={"labelled_hours": "1.1"},
                        headers=headers).status_code == 200
    assert publish(client, tree, course).status_code == 200


def test_the_refusal_to_publish_joins_the_problems_of_several_coursewares_as_one_sentence(client, tree):
    too_short = make_media(tree.base_a, duration_s=200.0, write_files=False)
    course = make_course(tree.base_a, hours=(0.1, 1.0), media=[too_short, None])
    message = publish(client, tree, course).get_json()["error"]["message"]
    assert "4.5 分钟" in message and "还没有上传视频" in message
    assert "。；" not in message and "。。" not in message and message.endswith("。")
    assert message.count("。") == 1


def test_a_video_under_four_and_a_half_minutes_cannot_carry_any_hours(client, tree):
    course = make_course(tree.base_a, hours=(0.1,), media=[make_media(tree.base_a, duration_s=200.0,
                                                                       write_files=False)])
    response = publish(client, tree, course)
    assert response.status_code == 409
    assert "视频时长 3 分钟，不足 4.5 分钟，无法标定学时" in response.get_json()["error"]["message"]


def test_publishing_twice_is_refused_and_withdrawing_needs_a_published_course(client, tree, ready_course):
    headers = api_token(client, tree.admins["base_a"])
    assert client.post(f"/api/v1/base/courses/{ready_course.id}/withdraw", headers=headers).status_code == 409
    assert publish(client, tree, ready_course).status_code == 200
    assert publish(client, tree, ready_course).status_code == 409
    withdrawn = client.post(f"/api/v1/base/courses/{ready_course.id}/withdraw", headers=headers)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "withdrawn"
    assert client.post(f"/api/v1/base/courses/{ready_course.id}/withdraw", headers=headers).status_code == 409
    republished = publish(client, tree, ready_course)
    assert republished.status_code == 200 and republished.get_json()["state"] == "published"


# ------------------------------------------------------------------------------------------------ published courses


def test_a_published_course_keeps_its_title_and_description_editable(client, tree, ready_course):
    publish(client, tree, ready_course)
    response = client.patch(f"/api/v1/base/courses/{ready_course.id}",
                            json={"title": "新名称", "description": "新简介"},
                            headers=api_token(client, tree.admins["base_a"]))
    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["description"]) == ("新名称", "新简介")


@pytest.mark.parametrize(("method", "url", "body", "status", "field"), [
    ("PATCH", "/api/v1/base/courses/{course}", {"category": "professional"}, 422, "category"),
    ("PATCH", "/api/v1/base/courses/{course}", {"year": "next"}, 422, "year"),
    ("POST", "/api/v1/base/courses/{course}/coursewares", {"title": "补充", "labelled_hours": "0.5"}, 409, None),
    ("PATCH", "/api/v1/base/coursewares/{cw1}", {"labelled_hours": "0.5"}, 409, None),
    ("DELETE", "/api/v1/base/coursewares/{cw1}", None, 409, None),
    ("PUT", "/api/v1/base/courses/{course}/coursewares/order", "reversed", 409, None),
], ids=["category", "year", "add-courseware", "hours", "remove-courseware", "reorder"])
def test_a_published_course_freezes_category_year_coursewares_and_hours(client, tree, ready_course, method, url, body,
                                                                        status, field):
    publish(client, tree, ready_course)
    ids = {"course": ready_course.id, "cw1": ready_course.coursewares[0].id}
    if body == "reversed":
        body = {"ids": [c.id for c in reversed(ready_course.coursewares)]}
    elif body and body.get("year") == "next":
        body = {"year": current_year() + 1 if ready_course.year != current_year() + 1 else current_year()}
    before = course_rows()
    headers = api_token(client, tree.admins["base_a"])
    response = client.open(url.format(**ids), method=method, json=body, headers=headers)
    assert response.status_code == status
    error = response.get_json()["error"]
    text = error["fields"][field] if field else error["message"]
    assert "草稿状态修改" in text
    assert course_rows() == before


def test_an_unchanged_old_year_does_not_block_editing_the_title(client, tree):
    course = make_course(tree.base_a, year=current_year() - 3)
    response = client.patch(f"/api/v1/base/courses/{course.id}", json={"year": course.year, "title": "旧课程新名称"},
                            headers=api_token(client, tree.admins["base_a"]))
    assert response.status_code == 200 and response.get_json()["year"] == current_year() - 3


def test_the_edit_page_of_a_published_course_offers_title_and_description_only(client, tree, ready_course):
    publish(client, tree, ready_course)
    login(client, tree.admins["base_a"])
    url = f"/base/courses/{ready_course.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'name="category"' not in page and 'name="year"' not in page and "不能再修改" in page
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "title": "改名后的课程",
                                      "description": "简介"})
    assert response.status_code == 302
    db.session.refresh(ready_course)
    assert ready_course.title == "改名后的课程" and ready_course.category == Category.PUBLIC


# ------------------------------------------------------------------------------------------------ coursewares


def test_coursewares_are_added_at_the_end_reordered_and_removed_with_positions_kept_dense(client, tree):
    headers = api_token(client, tree.admins["base_a"])
    course = make_course(tree.base_a)
    ids = []
    for title in ("甲", "乙", "丙"):
        response = client.post(f"/api/v1/base/courses/{course.id}/coursewares",
                               json={"title": title, "labelled_hours": "0.5"}, headers=headers)
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
    reordered = client.put(f"/api/v1/base/courses/{course.id}/coursewares/order", json={"ids": ids[::-1]},
                           headers=headers).get_json()
    assert [(c["title"], c["position"]) for c in reordered["coursewares"]] == [("丙", 1), ("乙", 2), ("甲", 3)]
    assert client.delete(f"/api/v1/base/coursewares/{ids[1]}", headers=headers).status_code == 204
    shown = client.get(f"/api/v1/base/courses/{course.id}", headers=headers).get_json()
    assert [(c["title"], c["position"]) for c in shown["coursewares"]] == [("丙", 1), ("甲", 2)]
    assert shown["labelled_hours"] == "1.0"


@pytest.mark.parametrize("ids", ["missing-one", "duplicate", "foreign"])
def test_a_reorder_must_name_every_courseware_of_the_course_once(client, tree, ready_course, ids):
    own = [c.id for c in ready_course.coursewares]
    other = make_course(tree.base_a, hours=(1.0,))
    body = {"missing-one": own[:1], "duplicate": [own[0], own[0]], "foreign": [own[0], other.coursewares[0].id]}[ids]
    before = course_rows()
    response = client.put(f"/api/v1/base/courses/{ready_course.id}/coursewares/order", json={"ids": body},
                          headers=api_token(client, tree.admins["base_a"]))
    assert response.status_code == 422
    assert "每个课件各一次" in response.get_json()["error"]["fields"]["ids"]
    assert course_rows() == before


def test_the_page_moves_a_courseware_up_and_removes_one(client, tree, ready_course):
    login(client, tree.admins["base_a"])
    first, second = ready_course.coursewares
    token = csrf_token(client, f"/base/courses/{ready_course.id}")
    client.post(f"/base/coursewares/{second.id}/move", data={"csrf_token": token, "direction": "up"})
    db.session.expire_all()
    assert [c.id for c in db.session.get(Course, ready_course.id).coursewares] == [second.id, first.id]
    uploaded = second.media
    uploaded.courseware_id = second.id  # the upload API remembers the courseware a video was uploaded for
    db.session.commit()
    client.post(f"/base/coursewares/{second.id}/remove", data={"csrf_token": token})
    db.session.expire_all()
    assert [(c.id, c.position) for c in db.session.get(Course, ready_course.id).coursewares] == [(first.id, 1)]
    assert db.session.get(MediaAsset, uploaded.id).courseware_id is None  # the video itself stays


# ------------------------------------------------------------------------------------------------ the pages


def test_a_base_admin_creates_a_course_and_adds_a_courseware_through_the_pages(client, tree):
    login(client, tree.admins["base_a"])
    token = csrf_token(client, "/base/courses/new")
    response = client.post("/base/courses/new", data={"csrf_token": token, "category": "professional",
                                                      "year": str(current_year()), "title": "临床合理用药",
                                                      "description": "面向临床医师"})
    assert response.status_code == 302
    course = db.session.scalar(sa.select(Course))
    assert (course.title, course.category, course.state) == ("临床合理用药", Category.PROFESSIONAL, CourseState.DRAFT)
    bad = client.post(f"/base/courses/{course.id}/coursewares", data={"csrf_token": token, "title": "第一讲",
                                                                       "labelled_hours": "1.25"})
    assert bad.status_code == 422 and "0.1 学时为单位" in bad.get_data(as_text=True)
    good = client.post(f"/base/courses/{course.id}/coursewares", data={"csrf_token": token, "title": "第一讲",
                                                                        "labelled_hours": "1.5"})
    assert good.status_code == 302
    page = client.get(f"/base/courses/{course.id}").get_data(as_text=True)
    assert "第一讲" in page and "1.5 学时" in page and "还没有上传视频" in page


def test_the_course_form_refuses_a_year_out_of_range_with_the_reason(client, tree):
    login(client, tree.admins["base_a"])
    token = csrf_token(client, "/base/courses/new")
    response = client.post("/base/courses/new", data={"csrf_token": token, "category": "public",
                                                      "year": str(current_year() + 5), "title": "课程"})
    assert response.status_code == 422
    assert "年度应为" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_the_course_page_shows_media_status_progress_and_the_upload_form(client, tree):
    processing = make_media(tree.base_a, status=MediaStatus.PROCESSING, duration_s=None)
    course = make_course(tree.base_a, hours=(1.0, 1.0), media=[processing, None])
    login(client, tree.admins["base_a"])
    page = client.get(f"/base/courses/{course.id}").get_data(as_text=True)
    assert '<meta name="csrf-token" content="' in page
    assert f'data-asset-id="{processing.id}"' in page and '<progress max="100" value="40"' in page
    assert "转码中" in page and "发布前需要完成" in page
    for cw in course.coursewares:
        assert f'<form class="upload" data-courseware-id="{cw.id}"' in page
    assert 'type="file"' in page and "uploader.js" in page and "vendor/socket.io.min.js" in page
    states = client.get(f"/base/courses/{course.id}/media.json").get_json()
    assert states["can_publish"] is False
    assert [(s["asset_id"], s["status"], s["percent"]) for s in states["coursewares"]] == [
        (processing.id, "processing", 40), (None, None, 0)]


def test_the_vendored_socketio_client_is_served(client):
    response = client.get("/static/vendor/socket.io.min.js")
    assert response.status_code == 200 and b"Socket.IO v4.8.1" in response.data
    response.close()


def test_a_refused_publication_shows_what_to_fix_on_the_page(client, tree):
    course = make_course(tree.base_a)
    login(client, tree.admins["base_a"])
    response = client.post(f"/base/courses/{course.id}/publish",
                           data={"csrf_token": csrf_token(client, f"/base/courses/{course.id}")})
    assert response.status_code == 409
    assert "至少添加一个课件" in response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ live progress


@contextlib.contextmanager
def media_listener(url: str, session: requests.Session):
    """Connect to the /media namespace like the course page does; yield the queue of media_progress events."""
    events: queue.Queue = queue.Queue()
    client = socketio_client.Client(http_session=session, reconnection=False)
    client.on("media_progress", events.put, namespace=MEDIA_NAMESPACE)
    client.connect(url, namespaces=[MEDIA_NAMESPACE], transports=["polling"], wait_timeout=10)
    try:
        yield events
    finally:
        client.disconnect()
        session.close()


def emit_until_received(events: queue.Queue, room: str, payload: dict, seconds: float = 10.0) -> dict:
    # The Redis message queue subscribes in the background after the first connection; repeat until it listens.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        emit("media_progress", payload, namespace=MEDIA_NAMESPACE, room=room)
        try:
            return events.get(timeout=0.5)
        except queue.Empty:
            continue
    raise AssertionError(f"no media_progress event arrived within {seconds} s")


def test_a_base_admin_sees_media_progress_of_their_base_live(app, tree):
    payload = {"asset_id": 7, "status": "processing", "percent": 42, "message": "转码 720p"}
    with live_server(app) as url, media_listener(url, browser_session(url, tree.admins["base_a"])) as events:
        assert emit_until_received(events, f"base:{tree.base_a.id}", payload) == payload


def test_a_base_admin_does_not_hear_other_bases(app, tree, base_b):
    with live_server(app) as url, media_listener(url, browser_session(url, base_b[1])) as other, \
            media_listener(url, browser_session(url, tree.admins["base_a"])) as own:
        own_event = {"asset_id": 1, "status": "ready", "percent": 100, "message": ""}
        other_event = {"asset_id": 2, "status": "ready", "percent": 100, "message": ""}
        assert emit_until_received(own, f"base:{tree.base_a.id}", own_event) == own_event
        assert emit_until_received(other, f"base:{base_b[0].id}", other_event) == other_event
        assert other.empty()  # base_b heard only its own event, never base_a's


def namespace_answer(url: str, session: requests.Session) -> str:
    """Open an Engine.IO polling session and ask to join /media as socket.io-client does; return the answer packet."""
    base = f"{url}/socket.io/?EIO=4&transport=polling"
    sid = json.loads(session.get(base, timeout=10).text[1:])["sid"]
    assert session.post(f"{base}&sid={sid}", data=f"40{MEDIA_NAMESPACE},", timeout=10).text == "OK"
    answer = session.get(f"{base}&sid={sid}", timeout=10).text
    session.post(f"{base}&sid={sid}", data="1", timeout=10)  # close, as the browser does on leaving the page
    return answer


@pytest.mark.parametrize("who", ["learner_a", "unit_a", "pending_base_admin", "anonymous"])
def test_everyone_but_approved_base_admins_is_refused_by_the_media_namespace(app, tree, who):
    user = {"learner_a": tree.learner_a, "unit_a": tree.admins["unit_a"], "anonymous": None,
            "pending_base_admin": make_user(tree.base_a, Role.BASE_ADMIN, ReviewStatus.PENDING)}[who]
    with live_server(app) as url:
        session = browser_session(url, user) if user else requests.Session()
        with session:
            answer = namespace_answer(url, session)
    # 44 = Socket.IO CONNECT_ERROR, carrying the reason on_connect gave.
    assert answer == f'44{MEDIA_NAMESPACE},{{"message":"unauthorized"}}'


def test_an_approved_base_admin_is_admitted_to_the_media_namespace(app, tree):
    with live_server(app) as url, browser_session(url, tree.admins["base_a"]) as session:
        assert namespace_answer(url, session).startswith(f'40{MEDIA_NAMESPACE},{{"sid":')


def test_registering_the_namespaces_again_keeps_exactly_one_handler(app):
    register_socketio_namespaces(socketio)
    register_socketio_namespaces(socketio)
    handlers = [h for h in socketio.namespace_handlers if isinstance(h, MediaNamespace)]
    assert len(handlers) == 1
    assert socketio.server.namespace_handlers[MEDIA_NAMESPACE] is handlers[0]


def test_the_hours_field_says_the_video_length_each_hour_needs_before_any_upload(client, tree):
    login(client, tree.admins["base_a"])
    course = make_course(tree.base_a)
    page = client.get(f"/base/courses/{course.id}").get_data(as_text=True)
    assert "每学时需视频至少 45 分钟（0.1 学时 → 4.5 分钟）" in page
