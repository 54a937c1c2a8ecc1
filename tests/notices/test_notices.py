"""Notices (信息发布): who publishes, who sees what and when, read marks, refusals, sanitising, attachments."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.core.clock import china_date
from lms.core.db import utcnow
from lms.extensions import db
from lms.notices import service
from lms.notices.models import Notice, NoticeAttachment, NoticeRead
from tests.conftest import api_token, csrf_token
from tests.declarations import EXE, PDF, client_for, png_bytes
from tests.notices import publish

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _visible_ids(client, user) -> list[int]:
    response = client.get("/api/v1/notices", headers=api_token(client, user))
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_notice_reaches_the_publishers_subtree_and_not_sideways_or_up(app, client, tree):
    from_dept = publish(tree.admins["dept_a"], title="部门通知")
    from_county = publish(tree.admins["county"], title="县通知")
    from_province = publish(tree.admins["province"], title="省厅通知")
    assert set(_visible_ids(client, tree.learner_a)) == {from_dept, from_province}  # not the county's: sideways
    assert set(_visible_ids(client, tree.learner_b)) == {from_county, from_province}  # not dept_a's: sideways
    assert set(_visible_ids(client, tree.admins["base_a"])) == {from_dept, from_province}
    assert set(_visible_ids(client, tree.admins["city"])) == {from_province}  # nothing travels up
    response = client.get(f"/api/v1/notices/{from_dept}", headers=api_token(client, tree.learner_b))
    assert response.status_code == 404 and CHINESE.search(response.get_json()["error"]["message"])


def test_audience_picks_learners_admins_or_bases(app, client, tree):
    for_learners = publish(tree.admins["dept_a"], audience="learners")
    for_admins = publish(tree.admins["dept_a"], audience="admins")
    for_bases = publish(tree.admins["dept_a"], audience="bases")
    for_all = publish(tree.admins["dept_a"], audience="all")
    assert set(_visible_ids(client, tree.learner_a)) == {for_learners, for_all}
    assert set(_visible_ids(client, tree.admins["unit_a"])) == {for_admins, for_all}
    assert set(_visible_ids(client, tree.admins["base_a"])) == {for_bases, for_all}


def test_only_notices_between_publish_day_and_expiry_day_and_not_withdrawn_are_shown(app, client, tree):
    today = china_date(utcnow())
    day = dt.timedelta(days=1)
    dept = tree.admins["dept_a"]
    future = publish(dept, title="将来", publish_date=(today + day).isoformat())
    expired = publish(dept, title="已过期", publish_date=(today - 3 * day).isoformat(),
                      expires_date=(today - day).isoformat())
    last_day = publish(dept, title="今天截止", publish_date=(today - day).isoformat(), expires_date=today.isoformat())
    pinned_old = publish(dept, title="置顶", publish_date=(today - 5 * day).isoformat(), pinned="1")
    newest = publish(dept, title="最新")
    withdrawn = publish(dept, title="撤回")
    headers = api_token(client, dept)
    assert client.post(f"/api/v1/notices/{withdrawn}/withdraw", headers=headers).status_code == 200
    # Pinned first, then newest first.
    assert _visible_ids(client, tree.learner_a) == [pinned_old, newest, last_day]
    statuses = {item["id"]: item["status"] for item in
                client.get("/api/v1/notices/published", headers=headers).get_json()["items"]}
    assert statuses == {future: "待发布", expired: "已过期", last_day: "已发布", pinned_old: "已发布",
                        newest: "已发布", withdrawn: "已撤回"}
    assert client_for(app, tree.learner_a).get(f"/notices/{future}").status_code == 404
    # A date that is no date, or an expiry before the publish day, is refused in Chinese.
    for dates, message in ((("2026-12-10", "2026-12-01"), "截止日期不能早于发布日期"),
                           (("2026-13-01", ""), "不是有效日期")):
        response = client.post("/api/v1/notices", headers=headers, json={
            "title": "t", "body": "<p>x</p>", "audience": "all", "publish_date": dates[0], "expires_date": dates[1]})
        assert response.status_code == 422 and message in response.get_json()["error"]["message"]


def test_opening_a_notice_leaves_one_read_mark_and_lowers_the_unread_count(app, tree):
    first = publish(tree.admins["city"], title="第一条")
    publish(tree.admins["dept_a"], title="第二条")
    learner = client_for(app, tree.learner_a)
    home = learner.get("/").get_data(as_text=True)
    assert "通知公告（2）" in home and re.search(r'id="notice-count".*<strong class="count">2</strong>', home)
    assert learner.get("/notices").get_data(as_text=True).count("未读</strong>") == 2
    for _ in range(2):
        assert learner.get(f"/notices/{first}").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NoticeRead)
                             .where(NoticeRead.notice_id == first, NoticeRead.user_id == tree.learner_a.id)) == 1
    assert "通知公告（1）" in learner.get("/").get_data(as_text=True)
    assert _count(NoticeRead) == 1  # nobody else's mark was written


@pytest.mark.parametrize("who", ["unit_a", "base_a", "learner_a", "reviewer"])
def test_those_without_the_permission_cannot_publish_and_nothing_changes(app, client, tree, who):
    user = tree.learner_a if who == "learner_a" else tree.reviewer if who == "reviewer" else tree.admins[who]
    audit_before = _count(AuditEntry)
    response = client.post("/api/v1/notices", headers=api_token(client, user),
                           json={"title": "越权通知", "body": "<p>x</p>", "audience": "all"})
    assert response.status_code == 403 and CHINESE.search(response.get_json()["error"]["message"])
    assert _count(Notice) == 0 and _count(AuditEntry) == audit_before
    assert client_for(app, user).get("/notices/new").status_code == 403


def test_only_the_publishing_organisation_edits_or_withdraws_its_notice_and_each_action_is_audited(app, client, tree):
    notice_id = publish(tree.admins["dept_a"], title="原标题")
    for outsider in ("city", "dept_b"):  # above it, and beside it
        headers = api_token(client, tree.admins[outsider])
        response = client.put(f"/api/v1/notices/{notice_id}", headers=headers,
                              json={"title": "改掉", "body": "<p>y</p>", "audience": "all"})
        assert response.status_code == 403
        assert "只能修改、撤回本单位发布的通知" in response.get_json()["error"]["message"]
        assert client.post(f"/api/v1/notices/{notice_id}/withdraw", headers=headers).status_code == 403
    db.session.expire_all()
    notice = db.session.get(Notice, notice_id)
    assert notice.title == "原标题" and notice.withdrawn_at is None
    headers = api_token(client, tree.admins["dept_a"])
    assert client.put(f"/api/v1/notices/{notice_id}", headers=headers,
                      json={"title": "新标题", "body": "<p>y</p>", "audience": "learners"}).status_code == 200
    assert client.post(f"/api/v1/notices/{notice_id}/withdraw", headers=headers).status_code == 200
    response = client.post(f"/api/v1/notices/{notice_id}/withdraw", headers=headers)
    assert response.status_code == 422 and "已经撤回" in response.get_json()["error"]["message"]
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "notice")
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["notice.publish", "notice.edit", "notice.withdraw"]


XSS = [
    '<script>alert(1)</script>',
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">点我</a>',
    '<a href="JaVaScRiPt:alert(4)">大小写</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg1KTwvc2NyaXB0Pg==">数据</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoNik+">',
    '<svg onload="alert(7)"><circle r="1"/></svg>',
    '<style>body{display:none}</style>',
    '<p style="background:url(javascript:alert(8))" onclick="alert(9)">段落</p>',
    '<iframe src="https://evil.example/"></iframe>',
    '<strong onmouseover="alert(10)">粗</strong>',
]
FORBIDDEN = ["<script", "alert(", "onerror", "onload", "onclick", "onmouseover", "javascript:", "data:", "<svg",
             "<style", "style=", "<iframe", "<img"]


def test_the_body_keeps_the_safe_subset_and_strips_every_item_of_the_xss_list(app, tree):
    safe = ('<h2>小标题</h2><p><strong>重要</strong><em>提示</em><br></p><ul><li>一</li></ul>'
            '<a href="https://hrss.hubei.gov.cn/">省厅网站</a><a href="mailto:jxjy@example.cn">邮件</a>'
            '<table><tr><th>项目</th><td>学时</td></tr></table>')
    notice_id = publish(tree.admins["city"], body=safe + "".join(XSS))
    stored = db.session.get(Notice, notice_id).body_html
    page = client_for(app, tree.learner_a).get(f"/notices/{notice_id}").get_data(as_text=True)
    body = page.split('<article class="card notice-body">', 1)[1].split("</article>", 1)[0]
    for text in (stored, body):
        for forbidden in FORBIDDEN:
            assert forbidden not in text.lower(), forbidden
    for kept in ("<h2>小标题</h2>", "<strong>重要</strong>", "<em>提示</em>", "<li>一</li>", "<th>项目</th>",
                 'href="https://hrss.hubei.gov.cn/"', 'href="mailto:jxjy@example.cn"', "段落", "粗"):
        assert kept in body, kept
    for forbidden in ("<script", "onerror", "onload", "javascript:", "<svg", "<style"):
        assert forbidden not in page.lower(), forbidden


def test_editing_on_the_page_sanitises_the_new_body_and_the_form_shows_the_stored_one(app, tree):
    notice_id = publish(tree.admins["dept_a"])
    page = client_for(app, tree.admins["dept_a"])
    url = f"/notices/{notice_id}/edit"
    response = page.post(url, data={"csrf_token": csrf_token(page, url), "title": "修改后", "audience": "all",
                                    "body": '<p onclick="x()">新正文</p><script>alert(1)</script>'})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notice, notice_id).body_html == "<p>新正文</p>"
    form = page.get(url).get_data(as_text=True)
    assert "&lt;p&gt;新正文&lt;/p&gt;" in form and "alert" not in form


def _docx() -> bytes:
    # Fixed entry dates: writestr(name) stamps the current time, so two packages built a second apart differ.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, text in (("[Content_Types].xml", "<Types/>"), ("word/document.xml", "<w:document/>")):
            package.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("setup.exe", EXE)
    return buffer.getvalue()


def _post_with_files(page, files, title="带附件的通知"):
    data = {"csrf_token": csrf_token(page, "/notices/new"), "title": title, "body": "<p>见附件</p>",
            "audience": "all", "attachments": [(io.BytesIO(content), name) for name, content in files]}
    return page.post("/notices/new", data=data, content_type="multipart/form-data")


def test_attachments_are_judged_by_content_size_and_count_and_a_refusal_stores_nothing(app, tree):
    app.config["LMS_NOTICES"] = {"attachment_max_bytes": 40_000, "attachment_max_files": 2}
    page = client_for(app, tree.admins["city"])
    for name, content, message in (("通知.pdf", EXE, "不是 PDF、Word"), ("名单.xlsx", _plain_zip(), "不是 PDF、Word"),
                                   ("名单.docx", b"PK\x03\x04 broken", "不是有效的 Word 或 Excel"),
                                   ("截断.pdf", b"%PDF-1.4\n no end", "不是完整的 PDF"),
                                   ("大图.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50_000, "超过单个附件"),
                                   ("空.pdf", b"", "空文件")):
        response = _post_with_files(page, [("好的.pdf", PDF), (name, content)])
        text = response.get_data(as_text=True)
        assert response.status_code == 422 and f"文件“{name}”" in text and message in text, name
    response = _post_with_files(page, [("a.pdf", PDF), ("b.png", png_bytes()), ("c.docx", _docx())])
    assert response.status_code == 422 and "最多 2 个附件" in response.get_data(as_text=True)
    assert _count(Notice) == 0 and _count(NoticeAttachment) == 0

    assert _post_with_files(page, [("通知.docx", _docx()), ("海报.png", png_bytes())]).status_code == 302
    notice = db.session.scalars(sa.select(Notice)).one()
    kinds = sorted(a.content_type for a in notice.attachments)
    assert kinds == ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "image/png"]
    first = notice.attachments[0]
    url = f"/notices/{notice.id}/attachments/{first.id}"
    download = client_for(app, tree.learner_a).get(url)
    assert download.status_code == 200 and download.data == _docx()
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert client_for(app, tree.admins["province"]).get(url).status_code == 404  # above the publisher


def test_the_login_page_shows_the_provinces_current_public_notices_to_everyone(app, client, tree):
    public = publish(tree.admins["province"], title="省厅公开通知")
    publish(tree.admins["province"], title="仅面向专技人员", audience="learners")
    city_notice = publish(tree.admins["city"], title="市里的通知")
    login_page = client.get("/login").get_data(as_text=True)
    assert "省厅公开通知" in login_page and "仅面向专技人员" not in login_page and "市里的通知" not in login_page
    assert client.get(f"/notices/{public}").status_code == 200
    assert client.get(f"/notices/{city_notice}").status_code == 404
    assert _count(NoticeRead) == 0  # the public leaves no read marks


def test_the_demo_notices_reach_the_demo_learner_and_the_login_page_once_however_often_seeded(app, client):
    from lms.accounts.models import User
    from lms.demo import DEMO_NOTICES, seed_demo_data, seed_demo_notices

    logins = seed_demo_data()
    db.session.commit()
    assert len(seed_demo_notices()) == 2 and seed_demo_notices() == []
    learner = db.session.scalar(sa.select(User).where(User.login == logins[-1].login))
    assert [n.title for n, _ in service.visible_notices(learner)] == [DEMO_NOTICES[0][1], DEMO_NOTICES[1][1]]
    login_page = client.get("/login").get_data(as_text=True)
    assert DEMO_NOTICES[0][1] in login_page and DEMO_NOTICES[1][1] not in login_page
