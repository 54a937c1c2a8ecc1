"""JSON API of the learner's own certificates: list, claim a year's, read one, download its PDF."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import g, send_file
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.accounts.models import Role
from lms.certificates import service
from lms.certificates.models import Certificate
from lms.core.auth import api_user
from lms.core.errors import NotFound
from lms.extensions import db

blp = Blueprint("certificates_api", __name__, url_prefix="/api/v1", description="我的学时证明")
BEARER = [{"bearer": []}]
EXAMPLE = {"id": 5, "year": 2025, "serial": "JX202500000042", "holder_name": "张三", "public_hours": "32.0",
           "professional_hours": "64.0", "total_hours": "96.0", "issuing_authority": "湖北省人力资源和社会保障厅",
           "issued_at": "2026-01-05T02:00:00", "code": "ABCD-EFGH-JKLM-NPQR",
           "verify_url": "https://jxjy.example.cn/verify/ABCD-EFGH-JKLM-NPQR", "verdict": "genuine"}


class CertificateOut(Schema):
    id = fields.Integer()
    year = fields.Integer()
    serial = fields.String()
    holder_name = fields.String()
    public_hours = fields.Decimal(as_string=True)
    professional_hours = fields.Decimal(as_string=True)
    total_hours = fields.Decimal(as_string=True)
    issuing_authority = fields.String()
    issued_at = fields.DateTime()
    code = fields.Function(lambda c: service.grouped(c.code), metadata={"description": "查询码"})
    verify_url = fields.Function(lambda c: service.verify_url(c.code))
    verdict = fields.Function(lambda c: service.verify(c.code).verdict.value,
                              metadata={"description": "genuine / revoked（该年度学时已按第二十一条作废）"
                                                       " / not_genuine"})


def _own(certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.user_id != g.api_user.id:
        raise NotFound("证书不存在。")
    return certificate


@blp.route("/my/certificates", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, CertificateOut(many=True), example=[EXAMPLE])
@api_user(Role.LEARNER)
def mine():
    """The caller's yearly certificates, newest year first."""
    return list(db.session.scalars(sa.select(Certificate).where(Certificate.user_id == g.api_user.id)
                                   .order_by(Certificate.year.desc())))


class ClaimIn(Schema):
    year = fields.Integer(required=True, metadata={"description": "申领的年度"})


@blp.route("/my/certificates", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(ClaimIn, example={"year": 2025})
@blp.response(201, CertificateOut, example=EXAMPLE)
@blp.alt_response(409, description="该年度学时未达到要求，或已按第二十一条作废", example={"error": {
    "code": "conflict",
    "message": "2026 年度学时尚未达到要求（公需科目 12.0/30 学时，…），达到后才能申领学时证明。"}})
@api_user(Role.LEARNER)
def claim(body):
    """Claim the certificate of a year whose requirement is met (the same one again if already issued)."""
    certificate = service.issue(g.api_user, body["year"])
    db.session.commit()
    return certificate, 201


@blp.route("/my/certificates/<int:certificate_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, CertificateOut, example=EXAMPLE)
@blp.alt_response(404, description="证书不存在或不是本人的")
@api_user(Role.LEARNER)
def one(certificate_id: int):
    """One of the caller's certificates with its verification code and whether it is still genuine."""
    return _own(certificate_id)


@blp.route("/my/certificates/<int:certificate_id>/pdf", methods=["GET"])
@blp.doc(security=BEARER, responses={"200": {"description": "证书 PDF", "content": {"application/pdf": {}}}})
@blp.alt_response(409, description="证书已撤销或数据校验失败，不能打印", example={"error": {
    "code": "conflict", "message": "该证明已撤销：2026 年度的学时已按学时管理办法第二十一条作废。"}})
@api_user(Role.LEARNER)
def pdf(certificate_id: int):
    """The certificate's PDF (统一制式), as the page prints it."""
    certificate = _own(certificate_id)
    response = send_file(io.BytesIO(service.pdf_bytes(certificate)), mimetype="application/pdf", as_attachment=True,
                         download_name=f"{certificate.year}年度继续教育学时证明_{certificate.holder_name}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response
