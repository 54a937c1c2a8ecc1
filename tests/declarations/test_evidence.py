"""Evidence files: type judged by content, size and count limits, nothing stored on refusal, and who may read them."""

from __future__ import annotations

import sqlalchemy as sa
from minio import Minio

from lms.accounts.models import Role
from lms.declarations.models import Declaration, DeclarationEvidence
from lms.extensions import db
from tests.conftest import make_user
from tests.declarations import EXE, PDF, client_for, declare, declared_id, png_bytes


def _stored_keys(app) -> set[str]:
    """Every object under declarations/ in the app's real store (local folder or S3), from any test so far."""
    config = app.extensions["lms.config"]
    if config.s3 is None:
        root = config.storage_dir / "declarations"
        return {str(p.relative_to(config.storage_dir)) for p in root.rglob("*") if p.is_file()}
    s3 = config.s3
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=s3.secure)
    if not client.bucket_exists(s3.bucket):
        return set()
    return {o.object_name for o in client.list_objects(s3.bucket, prefix="declarations/", recursive=True)}


def _nothing_kept(app, before: set[str]) -> None:
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Declaration)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DeclarationEvidence)) == 0
    assert _stored_keys(app) == before


def test_files_that_are_not_pdf_png_or_jpeg_by_content_are_refused_and_nothing_is_stored(app, tree):
    learner = client_for(app, tree.learner_a)
    before = _stored_keys(app)
    for name, content in (("证书.pdf", EXE), ("证书.png", b"just some text, not an image\n"),
                          ("会议通知.pdf", b"%PDF-1.4\n truncated without an end marker"),
                          ("照片.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64)):
        # A valid file next to the bad one is not stored either.
        response = declare(learner, files=[("好的.pdf", PDF), (name, content)])
        text = response.get_data(as_text=True)
        assert response.status_code == 422, name
        assert f"文件“{name}”" in text and ("不是 PDF、PNG 或 JPEG" in text or "不是完整的 PDF" in text
                                            or "不是有效的图片" in text)
    assert "缺少证明材料：会议通知或邀请函" in declare(learner, files=[]).get_data(as_text=True)
    _nothing_kept(app, before)


def test_files_over_the_size_or_count_limit_are_refused_with_the_limit_named(app, tree):
    app.config["LMS_DECLARATIONS"] = {"evidence_max_bytes": 40_000, "evidence_max_files": 2}
    learner = client_for(app, tree.learner_a)
    before = _stored_keys(app)
    big = PDF[:-6] + b"%" + b"0" * 40_000 + b"\n%%EOF\n"
    response = declare(learner, files=[("扫描件.pdf", big)])
    assert response.status_code == 422
    assert "文件“扫描件.pdf”大小为 39.2 KB，超过单个文件 39.1 KB 的上限" in response.get_data(as_text=True)
    response = declare(learner, files=[("a.pdf", PDF), ("b.pdf", PDF), ("c.png", png_bytes())])
    assert response.status_code == 422 and "每份申报最多 2 个证明材料文件" in response.get_data(as_text=True)
    # A request larger than every allowed file together is cut off before it is read, with a message too.
    response = declare(learner, files=[(f"{n}.pdf", big) for n in range(4)])
    assert response.status_code == 422 and "上传内容超过上限" in response.get_data(as_text=True)
    _nothing_kept(app, before)


def test_evidence_is_readable_by_the_learner_and_the_chain_only(app, tree):
    learner = client_for(app, tree.learner_a)
    before = _stored_keys(app)
    image = png_bytes()
    declaration_id = declared_id(declare(learner, files=[("通知.pdf", PDF), ("照片.png", image)]))
    pdf_item, png_item = db.session.get(Declaration, declaration_id).evidence
    assert (pdf_item.content_type, png_item.content_type) == ("application/pdf", "image/png")
    assert pdf_item.key.endswith(".pdf") and _stored_keys(app) - before == {pdf_item.key, png_item.key}
    url = f"/declarations/{declaration_id}/evidence/{png_item.id}"

    readers = [learner] + [client_for(app, tree.admins[key]) for key in ("unit_a", "dept_a", "city")]
    for reader in readers:
        response = reader.get(url)
        assert response.status_code == 200 and response.data == image
        assert response.mimetype == "image/png" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert learner.get(f"/declarations/{declaration_id}/evidence/{pdf_item.id}").data == PDF

    # Another learner (in another unit, or a colleague in the same one), other branches' admins, a base.
    strangers = [client_for(app, tree.learner_b), client_for(app, make_user(tree.unit_a, Role.LEARNER))]
    strangers += [client_for(app, tree.admins[key]) for key in ("unit_b", "dept_b", "county", "base_a")]
    for stranger in strangers:
        assert stranger.get(url).status_code == 404
    assert app.test_client().get(url).status_code in (302, 401)
    # An evidence id of another declaration is not reachable through this one.
    other_id = declared_id(declare(client_for(app, tree.learner_b)))
    other_item = db.session.get(Declaration, other_id).evidence[0]
    assert learner.get(f"/declarations/{declaration_id}/evidence/{other_item.id}").status_code == 404
