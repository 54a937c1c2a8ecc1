"""The learner's hours and certificates through the API: the ledger's numbers by category and kind, the
requirement and compliance; claiming, reading and downloading one's own certificates and no one else's."""

from __future__ import annotations

from lms.courses.models import Category
from lms.ledger.service import china_today
from tests.api import bearer, error_of
from tests.certificates import meet_requirement, post_hours


def test_my_hours_give_the_year_by_category_and_kind_against_the_requirement(app, client, tree):
    post_hours(tree.learner_a, Category.PUBLIC, 10, "公需科目线下培训")
    post_hours(tree.learner_a, Category.PROFESSIONAL, 8, "学术会议")
    learner = bearer(app, client, tree.learner_a)
    body = client.get("/api/v1/my/hours", headers=learner).get_json()
    year = china_today().year
    assert body["year"] == year and body["hours"] == {"public": "10.0", "professional": "8.0", "total": "18.0"}
    assert body["requirement"]["total"] == "90.0" and body["requirement"]["categories"]["public"] == "30.0"
    assert {(k["source"], k["category"], k["hours"]) for k in body["by_kind"]} == {
        ("declaration", "public", "10.0"), ("declaration", "professional", "8.0")}
    assert body["compliance"]["status"] == "not_met" and "公需科目还差 20.0 学时" in body["compliance"]["text"]
    assert body["years_with_hours"] == [year]
    assert client.get(f"/api/v1/my/hours/{year}", headers=learner).get_json() == body
    future = client.get(f"/api/v1/my/hours/{year + 1}", headers=learner)
    assert future.status_code == 404 and "尚未开始" in error_of(future)["message"]
    assert client.get("/api/v1/my/hours").status_code == 401
    admin = client.get("/api/v1/my/hours", headers=bearer(app, client, tree.admins["unit_a"]))
    assert admin.status_code == 403 and error_of(admin)["message"] == "当前角色无权进行此操作。"


def test_a_learner_claims_reads_and_downloads_their_own_certificate_only(app, client, tree):
    learner = bearer(app, client, tree.learner_a)
    year = china_today().year
    short = client.post("/api/v1/my/certificates", json={"year": year}, headers=learner)
    assert short.status_code == 409 and "尚未达到要求" in error_of(short)["message"]
    bad = client.post("/api/v1/my/certificates", json={"year": "今年"}, headers=learner)
    assert bad.status_code == 422 and error_of(bad)["fields"]["year"] == "应为整数。"

    meet_requirement(tree.learner_a)
    claimed = client.post("/api/v1/my/certificates", json={"year": year}, headers=learner)
    assert claimed.status_code == 201, claimed.get_json()
    certificate = claimed.get_json()
    assert certificate["total_hours"] == "90.0" and certificate["verdict"] == "genuine"
    assert certificate["verify_url"].endswith(certificate["code"])
    again = client.post("/api/v1/my/certificates", json={"year": year}, headers=learner).get_json()
    assert again["id"] == certificate["id"]
    assert [c["id"] for c in client.get("/api/v1/my/certificates", headers=learner).get_json()] == [certificate["id"]]
    assert client.get(f"/api/v1/my/certificates/{certificate['id']}", headers=learner).get_json() == certificate
    pdf = client.get(f"/api/v1/my/certificates/{certificate['id']}/pdf", headers=learner)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")

    other = bearer(app, client, tree.learner_b)
    for url in (f"/api/v1/my/certificates/{certificate['id']}", f"/api/v1/my/certificates/{certificate['id']}/pdf"):
        refused = client.get(url, headers=other)
        assert refused.status_code == 404 and error_of(refused)["message"] == "证书不存在。"
        assert client.get(url).status_code == 401
    assert client.get("/api/v1/my/certificates", headers=other).get_json() == []
