"""年度工作材料报送 (admin manual 5.3): a department sends its yearly materials up, edits and downloads them; the HR
bureaus above see, for their subtree, who has and hasn't sent them."""

from __future__ import annotations

import io

import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.audit.service import ACTION_LABELS
from lms.extensions import db
from lms.plans.models import WorkMaterial, WorkMaterialFile
from tests.conftest import api_token, csrf_token
from tests.declarations import client_for
from tests.plans import EXE, PDF, year


def _post(page, url: str, files, **fields):
    data = {"csrf_token": csrf_token(page, "/plans/materials"), "year": str(year()), "kind": "guide",
            "title": "继续教育学习指南", **fields,
            "attachments": [(io.BytesIO(content), name) for name, content in files]}
    return page.post(url, data=data, content_type="multipart/form-data")


def test_a_department_sends_edits_and_downloads_its_material_and_the_bureaus_see_who_sent(app, client, tree):
    page = client_for(app, tree.admins["dept_a"])
    response = _post(page, "/plans/materials", [("学习指南.pdf", PDF)])
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    material = db.session.scalar(sa.select(WorkMaterial))
    assert (material.department_id, material.bureau_id, material.year) == (tree.dept_a.id, tree.city.id, year())
    listing = page.get("/plans/materials").get_data(as_text=True)
    assert "学习指南.pdf" in listing and tree.city.name in listing

    old_file = material.files[0]
    edited = _post(page, f"/plans/materials/{material.id}/edit", [("工作通知.pdf", PDF)], kind="notice",
                   title="关于做好继续教育工作的通知", remove_file=[str(old_file.id)])
    assert edited.status_code == 302
    db.session.expire_all()
    material = db.session.get(WorkMaterial, material.id)
    assert material.kind.value == "notice" and [f.filename for f in material.files] == ["工作通知.pdf"]
    download = page.get(f"/plans/materials/{material.id}/files/{material.files[0].id}")
    assert download.status_code == 200 and download.data == PDF

    city = api_token(client, tree.admins["city"])
    overview = client.get(f"/api/v1/plans/materials/overview?year={year()}", headers=city).get_json()
    submitted = {row["department"]["name"]: row["submitted"] for row in overview["rows"]}
    assert submitted == {tree.dept_a.name: True, tree.dept_b.name: False}
    assert (overview["submitted"], overview["missing"]) == (1, 1)
    county = api_token(client, tree.admins["county"])
    county_view = client.get(f"/api/v1/plans/materials/overview?year={year()}", headers=county).get_json()
    assert [row["department"]["name"] for row in county_view["rows"]] == [tree.dept_b.name]
    city_page = client_for(app, tree.admins["city"])
    assert "已报送 1 个，未报送 1 个" in city_page.get("/plans/materials/overview").get_data(as_text=True)
    assert city_page.get(f"/plans/materials/{material.id}/files/{material.files[0].id}").status_code == 200

    assert client_for(app, tree.admins["county"]).get(
        f"/plans/materials/{material.id}/files/{material.files[0].id}").status_code == 404
    outsider = client_for(app, tree.admins["dept_b"])
    assert outsider.get(f"/plans/materials/{material.id}/edit").status_code == 404
    assert _post(outsider, f"/plans/materials/{material.id}/edit", [("x.pdf", PDF)]).status_code == 404
    assert client.get("/api/v1/plans/materials", headers=city).status_code == 403
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("material.%"))
                                      .order_by(AuditEntry.id)))
    assert actions == ["material.submit", "material.edit"] and set(actions) <= set(ACTION_LABELS)


def test_bad_materials_are_refused_in_chinese_and_nothing_is_stored(app, tree):
    page = client_for(app, tree.admins["dept_a"])
    cases = [([], {}, "请上传要报送的材料文件"),
             ([("指南.pdf", EXE)], {}, "按文件内容判断"),
             ([("指南.pdf", PDF)], {"kind": "poem"}, "请选择材料类型"),
             ([("指南.pdf", PDF)], {"title": ""}, "请填写标题"),
             ([("指南.pdf", PDF)], {"year": "1999"}, "年度只能是"),
             ([(f"{n}.pdf", PDF) for n in range(6)], {}, "最多 5 个附件")]
    for files, fields, message in cases:
        response = _post(page, "/plans/materials", files, **fields)
        assert response.status_code == 422 and message in response.get_data(as_text=True), message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkMaterial)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkMaterialFile)) == 0
