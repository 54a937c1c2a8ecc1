"""电子证书查询打印 (admin manual 5.4.4): list a subtree's certificates of a year, print many as one PDF or a .zip.

A batch is a row and a background job: the job renders the certificates (a page each), writes the file to object
storage and counts its progress in the row, which the batch page polls. Only the admin who asked downloads it.
"""

from __future__ import annotations

import io
import logging
import zipfile

import sqlalchemy as sa
from flask import current_app, request

from lms.accounts.models import User
from lms.audit import service as audit
from lms.certificates import service
from lms.certificates.models import BatchFormat, BatchState, Certificate, CertificateBatch
from lms.certificates.pdf import render_certificate, render_certificates
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.jobs import EXPORTS_QUEUE, enqueue
from lms.extensions import db
from lms.orgs.access import has_permission, require
from lms.orgs.models import Org
from lms.orgs.permissions import Permission

log = logging.getLogger(__name__)
BATCH_MAX = 5_000
PROGRESS_EVERY = 25  # pages between progress commits


def subtree_query(admin: User, year: int, org_id=None):
    """Select the certificates of a year of the admin's subtree (or of one organisation inside it)."""
    home = require(admin, Permission.LOOKUP_CERTIFICATES,
                   message="只有有“证书查询”权限的管理员可以查询打印证书。")
    root = home
    if org_id not in (None, ""):
        try:
            root = db.session.get(Org, int(org_id))
        except (TypeError, ValueError):
            raise InvalidInput({"org_id": "单位编号应为数字。"}) from None
        if root is None or not root.path.startswith(home.path):
            raise NotAllowed("所选单位不在本单位管辖范围内。")
    return root, (sa.select(Certificate).join(Certificate.user).join(User.org)
                  .where(Org.path.like(root.path + "%"), Certificate.year == year)
                  .order_by(Org.path, Certificate.holder_name, Certificate.id))


def request_batch(admin: User, year: int, org_id, selected, fmt: str) -> CertificateBatch:
    """Queue a batch print of the selected certificates (none selected: the whole list); the caller commits."""
    root, query = subtree_query(admin, year, org_id)
    try:
        chosen = BatchFormat(fmt)
    except ValueError:
        raise InvalidInput({"format": "请选择合并为一个 PDF 或打包为 .zip。"}) from None
    ids = list(db.session.scalars(query.with_only_columns(Certificate.id)))
    if selected:
        try:
            wanted = {int(i) for i in selected}
        except (TypeError, ValueError):
            raise InvalidInput({"ids": "所选证书编号无效。"}) from None
        if not wanted <= set(ids):
            raise NotAllowed("所选证书不全在本单位管辖范围内的该年度证书中。")
        ids = [i for i in ids if i in wanted]
    if not ids:
        raise InvalidInput({"ids": "没有可打印的证书。"})
    if len(ids) > BATCH_MAX:
        raise InvalidInput({"ids": f"一次最多打印 {BATCH_MAX} 张证书，请按单位分批打印。"})
    running = db.session.scalar(sa.select(sa.func.count()).select_from(CertificateBatch).where(
        CertificateBatch.requested_by_id == admin.id,
        CertificateBatch.state.in_([BatchState.QUEUED, BatchState.RUNNING])))
    if running >= 3:
        raise Conflict("您已有 3 个批量打印正在生成，请等它们完成后再提交。")
    batch = CertificateBatch(requested_by_id=admin.id, org_id=root.id, year=year, format=chosen, certificate_ids=ids,
                             base_url=request.host_url, total=len(ids))
    db.session.add(batch)
    db.session.flush()
    audit.record(admin, "certificate.batch_print", object_type="org", object_id=root.id, label=root.name, org=root,
                 after={"year": year, "count": len(ids), "format": chosen.value})
    return batch


def start(batch: CertificateBatch) -> None:
    """Put the batch's job on the queue (after the row is committed, so the worker finds it)."""
    enqueue(build_batch, batch.id, job_id=f"certificate-batch-{batch.id}", queue=EXPORTS_QUEUE,
            timeout_s=3600, retry=None)


def batch_for(admin: User, batch_id: int) -> CertificateBatch:
    batch = db.session.get(CertificateBatch, batch_id)
    if batch is None or batch.requested_by_id != admin.id:
        raise NotFound("没有这个批量打印。")
    org = db.session.get(Org, batch.org_id)
    if not has_permission(admin, Permission.LOOKUP_CERTIFICATES, org):
        raise NotAllowed("所选单位不在本单位管辖范围内。")
    return batch


def storage_key(batch: CertificateBatch) -> str:
    return f"exports/certificates/batch-{batch.id}.{batch.format.value}"


def build_batch(batch_id: int) -> None:
    """The job: render the batch, store the file, and count progress in the row (idempotent: a rerun rebuilds)."""
    batch = db.session.get(CertificateBatch, batch_id)
    if batch is None or batch.state == BatchState.DONE:
        return
    batch.state, batch.done, batch.skipped = BatchState.RUNNING, 0, 0
    db.session.commit()
    try:
        certificates = {c.id: c for c in db.session.scalars(
            sa.select(Certificate).where(Certificate.id.in_(batch.certificate_ids)))}
        printable = []
        for certificate_id in batch.certificate_ids:
            certificate = certificates.get(certificate_id)
            if certificate is None or service.printable_problem(certificate):
                batch.skipped += 1
                continue
            printable.append(certificate)
        data = _render(batch, printable)
        key = storage_key(batch)
        current_app.extensions["lms.storage"].put(key, io.BytesIO(data), len(data),
                                                  content_type=_content_type(batch.format))
        batch.storage_key, batch.state, batch.done, batch.finished_at = key, BatchState.DONE, batch.total, utcnow()
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("certificate batch %s failed", batch_id)
        batch = db.session.get(CertificateBatch, batch_id)
        batch.state, batch.finished_at = BatchState.FAILED, utcnow()
        batch.error = "生成失败，请重新提交；如持续失败请联系管理员。"
        db.session.commit()
        raise


def _render(batch: CertificateBatch, certificates: list[Certificate]) -> bytes:
    font = service.font_path()

    def progress(pages: int) -> None:
        if pages % PROGRESS_EVERY == 0:
            batch.done = batch.skipped + pages
            db.session.commit()

    printed = [service.printed(c, batch.base_url) for c in certificates]
    if batch.format == BatchFormat.PDF:
        return render_certificates(printed, font, title=f"{batch.year} 年度继续教育学时证明（{len(printed)} 份）",
                                   on_page=progress)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (certificate, page) in enumerate(zip(certificates, printed, strict=True), start=1):
            archive.writestr(f"{certificate.year}_{certificate.serial}_{certificate.holder_name}.pdf",
                             render_certificate(page, font))
            progress(number)
    return buffer.getvalue()


def _content_type(fmt: BatchFormat) -> str:
    return "application/pdf" if fmt == BatchFormat.PDF else "application/zip"


def download_name(batch: CertificateBatch) -> str:
    org = db.session.get(Org, batch.org_id)
    return f"{org.name}{batch.year}年度学时证明.{batch.format.value}"
