"""电子证书查询打印 (5.4.4): a subtree's certificates listed without a query, printed many at once by a job."""

from __future__ import annotations

import io
import time
import zipfile

import pypdfium2 as pdfium
import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from lms.accounts.models import Role
from lms.audit.models import AuditEntry
from lms.certificates import service
from lms.certificates.models import BatchState, CertificateBatch
from lms.core.jobs import EXPORTS_QUEUE
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import AdjustmentKind
from tests.certificates import meet_requirement
from tests.conftest import csrf_token, login, make_user


@pytest.fixture
def issued(tree):
    people = [tree.learner_a, make_user(tree.unit_a, Role.LEARNER, name="乙"), make_user(tree.unit_a, Role.LEARNER,
                                                                                        name="丙"), tree.learner_b]
    certificates = []
    for person in people:
        year = meet_requirement(person)
        certificates.append(service.issue(person, year))
        db.session.commit()
    return tree, year, certificates


def _run_jobs(app, batch_id: int) -> CertificateBatch:
    """Work the exports queue (RQ with Redis, the app's job thread without) until the batch has finished."""
    if app.extensions["lms.config"].redis_url:
        connection = app.extensions["lms.redis.queue"]
        SimpleWorker([Queue(EXPORTS_QUEUE, connection=connection)], connection=connection).work(burst=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        db.session.rollback()
        batch = db.session.get(CertificateBatch, batch_id)
        if batch.state in (BatchState.DONE, BatchState.FAILED):
            return batch
        time.sleep(0.2)
    raise AssertionError("the batch job did not finish")


def _submit(client, year, **fields):
    token = csrf_token(client, f"/certificates/list?year={year}")
    return client.post("/certificates/batches", data={"csrf_token": token, "year": year, **fields})


def test_the_list_shows_the_subtree_certificates_without_a_query(client, issued):
    tree, year, certificates = issued
    login(client, tree.admins["unit_a"])
    page = client.get(f"/certificates/list?year={year}").get_data(as_text=True)
    assert "共 3 份" in page and certificates[3].serial not in page
    login(client, tree.admins["city"])
    assert "共 4 份" in client.get(f"/certificates/list?year={year}").get_data(as_text=True)
    outside = client.get(f"/certificates/list?year={year}&org_id={tree.province.id}")
    assert outside.status_code == 403


def test_a_batch_becomes_one_pdf_with_a_page_each(app, client, issued):
    tree, year, certificates = issued
    login(client, tree.admins["unit_a"])
    response = _submit(client, year, format="pdf")
    assert response.status_code == 302
    batch_id = int(response.headers["Location"].rsplit("/", 1)[1])
    batch = _run_jobs(app, batch_id)
    assert batch.state == BatchState.DONE and batch.done == batch.total == 3
    progress = client.get(f"/certificates/batches/{batch_id}.json").get_json()
    assert progress["state"] == "done" and progress["download"]
    file = client.get(progress["download"])
    assert file.status_code == 200 and file.mimetype == "application/pdf"
    pdf = pdfium.PdfDocument(file.data)
    assert len(pdf) == 3
    assert any(certificates[0].serial in pdf[i].get_textpage().get_text_range() for i in range(3))
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "certificate.batch_print")).one()
    assert entry.after == {"year": year, "count": 3, "format": "pdf"}
    # Only the admin who asked may fetch it.
    login(client, tree.admins["dept_a"])
    assert client.get(f"/certificates/batches/{batch_id}/file").status_code == 404


def test_ticked_certificates_go_into_a_zip_and_a_voided_year_is_skipped(app, client, issued):
    tree, year, certificates = issued
    ledger.adjust(certificates[1].user, year=year, kind=AdjustmentKind.VOID_YEAR, reason="弄虚作假",
                  decided_by=tree.admins["dept_a"])
    db.session.commit()
    login(client, tree.admins["unit_a"])
    response = _submit(client, year, format="zip", ids=[certificates[0].id, certificates[1].id])
    batch = _run_jobs(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert batch.state == BatchState.DONE and batch.total == 2 and batch.skipped == 1
    data = client.get(f"/certificates/batches/{batch.id}/file").data
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len(names) == 1 and certificates[0].serial in names[0]


@pytest.mark.parametrize("fields, status", [
    ({"format": "pdf", "ids": ["x"]}, 422), ({"format": "docx"}, 422), ({"format": "pdf", "year": "20x6"}, 422),
])
def test_bad_batch_requests_are_refused_and_leave_nothing(client, issued, fields, status):
    tree, year, certificates = issued
    login(client, tree.admins["unit_a"])
    token = csrf_token(client, f"/certificates/list?year={year}")
    response = client.post("/certificates/batches", data={"csrf_token": token, "year": year, **fields})
    assert response.status_code == status
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CertificateBatch)) == 0


def test_a_certificate_outside_the_subtree_cannot_be_slipped_into_a_batch(client, issued):
    tree, year, certificates = issued
    login(client, tree.admins["unit_a"])
    response = _submit(client, year, format="pdf", ids=[certificates[0].id, certificates[3].id])
    assert response.status_code == 403 and "管辖范围" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CertificateBatch)) == 0
