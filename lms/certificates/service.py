"""Issuing yearly certificates, checking them, and who may see which.

A certificate is issued once the year's requirement is met (学时管理办法第四条), read from the ledger through
``lms.ledger.service.year_summary``. Its verification code is an HMAC (keyed with LMS_CERTIFICATE_KEY, or else
derived from the app's SECRET_KEY) over the certificate's own fields, so verification recomputes it from the stored
row: an unknown code, a code with a character changed, or a row whose hours were edited after issue all fail. A year
voided under 第二十一条 revokes it.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import Role, User
from lms.audit import service as audit
from lms.certificates.models import Certificate
from lms.certificates.pdf import DEFAULT_FONT_PATH, PrintedCertificate, render_certificate
from lms.core.clock import china_date
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.idcard import mask_id_number
from lms.courses.models import Category
from lms.extensions import db
from lms.ledger.service import china_today, is_year_voided, year_summary
from lms.orgs.access import has_permission, require
from lms.orgs.models import Org, OrgKind
from lms.orgs.permissions import Permission
from lms.rules import default_rule_sets

CODE_LENGTH = 16  # 80 bits of the signature: short enough to type, far too many to guess
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD)
# What people type by mistake for Crockford's digits (O for 0, I and L for 1); separators are ignored.
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None, "\u3000": None})
SEARCH_LIMIT = 100


# ------------------------------------------------------------------------------------------------ signing


def _signed_fields(certificate: Certificate) -> bytes:
    issued_at = certificate.issued_at.replace(microsecond=0, tzinfo=None).isoformat()
    fields = (certificate.serial, certificate.user_id, certificate.year, certificate.holder_name,
              certificate.holder_id_number, _hours(certificate.public_hours), _hours(certificate.professional_hours),
              _hours(certificate.total_hours), certificate.rule_set_id, certificate.issuing_authority, issued_at)
    return "\x1f".join(str(field) for field in fields).encode()


def _hours(value) -> str:
    return str(Decimal(value).quantize(Decimal("0.1")))


def signature_code(certificate: Certificate) -> str:
    """Return the verification code of a certificate's fields: HMAC-SHA256 keyed with the certificate key, base32."""
    secret = current_app.config.get("LMS_CERTIFICATE_KEY") or current_app.config["SECRET_KEY"]
    key = hashlib.sha256(b"lms.certificate\x00" + secret.encode()).digest()
    digest = hmac.new(key, _signed_fields(certificate), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().translate(_TO_CROCKFORD)[:CODE_LENGTH]


def normalise_code(raw: str) -> str:
    """Turn a typed code (any case, with dashes or spaces, O for 0) into the stored form."""
    return (raw or "").strip().upper().translate(_TYPED)


def grouped(code: str) -> str:
    """Show a code in groups of four for reading and typing: ABCD-EFGH-JKMN-PQRS."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def code_problem(code: str) -> str | None:
    """Return why a normalised code cannot be a certificate code, or None."""
    if not code:
        return "请输入证书查询码。"
    if len(code) != CODE_LENGTH or any(c not in _CROCKFORD for c in code):
        return f"查询码应为 {CODE_LENGTH} 位字母和数字（如 ABCD-EFGH-JKMN-PQRS），请核对后重新输入。"
    return None


# ------------------------------------------------------------------------------------------------ issuing


def issuing_authority(user: User, rule_set) -> str:
    """The province HR bureau above the person (its name), or the rule set's region's HR department."""
    org_ids = [int(part) for part in user.org.path.strip("/").split("/") if part]
    name = db.session.scalar(sa.select(Org.name).where(Org.id.in_(org_ids), Org.kind == OrgKind.PROVINCE_HR)
                             .order_by(Org.path).limit(1))
    return name or f"{rule_set.region_label}人力资源和社会保障厅"


def certificate_of(user_id: int, year: int) -> Certificate | None:
    return db.session.scalar(sa.select(Certificate).where(Certificate.user_id == user_id, Certificate.year == year))


def issue(user: User, year: int) -> Certificate:
    """Issue the year's certificate once the requirement is met, or return the one already issued. Caller commits.

    Exactly once per person and year: a concurrent second issue hits the unique constraint and returns the first.
    """
    if user.role != Role.LEARNER or not user.id_number:
        raise NotAllowed("只有专业技术人员本人可以申领年度学时证明。")
    existing = certificate_of(user.id, year)
    if existing is not None:
        return existing
    if year > china_today().year:
        raise InvalidInput({"year": f"{year} 年度尚未开始，不能申领学时证明。"})
    summary = year_summary(user, year)
    if summary.voided:
        raise Conflict(f"{year} 年度的学时已按学时管理办法第二十一条作废，不能出具学时证明。")
    if not summary.met:
        shortfalls = "，".join(f"{c.label} {c.hours}/{c.minimum} 学时" for c in [*summary.categories, summary.total])
        raise Conflict(f"{year} 年度学时尚未达到要求（{shortfalls}），达到后才能申领学时证明"
                       f"（{summary.rule_set.requirement_article}）。")
    hours = {c.category: c.hours for c in summary.categories}
    certificate = Certificate(
        user_id=user.id, year=year, serial=f"JX{year}{user.id:08d}", code="", holder_name=user.name,
        holder_id_number=user.id_number, public_hours=hours.get(Category.PUBLIC.value, Decimal(0)),
        professional_hours=hours.get(Category.PROFESSIONAL.value, Decimal(0)), total_hours=summary.total.hours,
        rule_set_id=summary.rule_set.id, issuing_authority=issuing_authority(user, summary.rule_set)[:100],
        issued_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    certificate.code = signature_code(certificate)
    try:
        with db.session.begin_nested():
            db.session.add(certificate)
    except IntegrityError:
        existing = certificate_of(user.id, year)
        if existing is None:
            raise
        return existing
    return certificate


# ------------------------------------------------------------------------------------------------ verifying


class Verdict(enum.StrEnum):
    GENUINE = "genuine"
    REVOKED = "revoked"  # the year was voided after issue (第二十一条)
    NOT_GENUINE = "not_genuine"  # unknown code, or the stored certificate no longer matches its code


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    certificate: Certificate | None = None

    @property
    def genuine(self) -> bool:
        return self.verdict == Verdict.GENUINE


def is_intact(certificate: Certificate) -> bool:
    """Tell whether the stored certificate still matches the code it was issued with."""
    return hmac.compare_digest(signature_code(certificate), certificate.code)


def verify(raw_code: str) -> Verification:
    """Check a code: genuine, revoked, or not genuine (unknown, altered, or a row changed after issue)."""
    code = normalise_code(raw_code)
    if code_problem(code):
        return Verification(Verdict.NOT_GENUINE)
    certificate = db.session.scalar(sa.select(Certificate).where(Certificate.code == code))
    if certificate is None or not is_intact(certificate):
        return Verification(Verdict.NOT_GENUINE)
    if is_year_voided(certificate.user_id, certificate.year):
        return Verification(Verdict.REVOKED, certificate)
    return Verification(Verdict.GENUINE, certificate)


def mask_name(name: str) -> str:
    """Hide the middle of a name: 张三丰 → 张*丰, 张三 → 张*, 欧阳小明 → 欧**明."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# ------------------------------------------------------------------------------------------------ who sees what


def certificate_for(viewer: User, certificate_id: int) -> Certificate:
    """Return a certificate the viewer may see: their own, or (admins) one of a person in their subtree."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("证书不存在。")
    if certificate.user_id == viewer.id:
        return certificate
    if has_permission(viewer, Permission.LOOKUP_CERTIFICATES, certificate.user.org):
        return certificate
    raise NotAllowed("无权查看该证书：只能查看本人或本单位（本辖区）人员的证书。")


def search(admin: User, query: str, year: int | None = None) -> list[Certificate]:
    """Find certificates of people in the admin's subtree by name (part of it) or full ID-card number."""
    home = require(admin, Permission.LOOKUP_CERTIFICATES,
                   message="只有有“证书查询”权限的用人单位、主管部门和人社部门管理员可以查询证书。")
    query = (query or "").strip()
    if not query:
        raise InvalidInput({"q": "请输入姓名或身份证号码。"})
    if len(query) > 50:
        raise InvalidInput({"q": "查询内容太长：请输入姓名或 18 位身份证号码。"})
    statement = (sa.select(Certificate).join(Certificate.user).join(User.org)
                 .where(Org.path.startswith(home.path)))
    if len(query) == 18 and query[:17].isdigit():
        statement = statement.where(User.id_number == query.upper())
    else:
        pattern = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(User.name.like(f"%{pattern}%", escape="\\"))
    if year is not None:
        statement = statement.where(Certificate.year == year)
    found = list(db.session.scalars(statement.order_by(Certificate.year.desc(), User.name, Certificate.id)
                                    .limit(SEARCH_LIMIT)))
    audit.record(admin, "certificate.lookup", object_type="certificate_search", label=f"查询证书（{len(found)} 张）",
                 after={"query": "身份证号码" if len(query) == 18 else query, "year": year})
    return found


# ------------------------------------------------------------------------------------------------ printing


def verify_url(code: str, base_url: str | None = None) -> str:
    """The public verification address of a code: LMS_PUBLIC_URL when set, else ``base_url`` or this request's host."""
    public_url = current_app.extensions["lms.config"].public_url
    base = public_url or base_url or request.host_url
    return f"{base.rstrip('/')}/verify/{grouped(code)}"


def issued_on(certificate: Certificate) -> dt.date:
    return china_date(certificate.issued_at)


def basis_of(certificate: Certificate) -> str:
    rule_set = default_rule_sets().get(certificate.rule_set_id)
    return rule_set.title if rule_set else certificate.rule_set_id


def printable_problem(certificate: Certificate) -> str | None:
    """Why a certificate must not be printed (changed after issue, or its year voided), or None."""
    if not is_intact(certificate):
        return "证书数据校验失败（与签发时的内容不一致），不能打印。请联系管理员。"
    if is_year_voided(certificate.user_id, certificate.year):
        return f"该证明已撤销：{certificate.year} 年度的学时已按学时管理办法第二十一条作废。"
    return None


def printed(certificate: Certificate, base_url: str | None = None) -> PrintedCertificate:
    """What the PDF shows of a certificate that may be printed."""
    return PrintedCertificate(
        serial=certificate.serial, holder_name=certificate.holder_name,
        masked_id_number=mask_id_number(certificate.holder_id_number), year=certificate.year,
        public_hours=certificate.public_hours, professional_hours=certificate.professional_hours,
        total_hours=certificate.total_hours, basis=basis_of(certificate),
        issuing_authority=certificate.issuing_authority, issued_on=issued_on(certificate),
        code=grouped(certificate.code), verify_url=verify_url(certificate.code, base_url))


def font_path() -> str:
    return current_app.config.get("LMS_CERTIFICATE_FONT") or DEFAULT_FONT_PATH


def pdf_bytes(certificate: Certificate) -> bytes:
    """Render a certificate that is intact and not revoked as its PDF."""
    problem = printable_problem(certificate)
    if problem:
        raise Conflict(problem)
    return render_certificate(printed(certificate), font_path())
