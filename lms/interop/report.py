"""What the title-review system learns of a person over a span of years (35号文 四(三)), by scope."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import Role, User
from lms.audit import service as audit
from lms.certificates import service as certificates
from lms.certificates.models import Certificate
from lms.core.errors import InvalidInput, NotFound
from lms.core.idcard import id_number_problem, mask_id_number, normalise_id_number
from lms.declarations import integrity
from lms.declarations import service as declarations
from lms.extensions import db
from lms.interop.service import Caller
from lms.ledger import breakdown
from lms.ledger.service import china_today

EARLIEST_YEAR = 2000
MAX_SPAN_YEARS = 10


def _year(value, field: str, label: str) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or len(text) != 4:
        raise InvalidInput({field: f"{label}应为四位年份，如 2021。"})
    return int(text)


def years_asked(from_year, to_year) -> tuple[int, int]:
    """Check the span of years asked for: four-digit years, in order, at most ten, none in the future."""
    start, end = _year(from_year, "from_year", "起始年度"), _year(to_year, "to_year", "截止年度")
    this_year = china_today().year
    if start < EARLIEST_YEAR:
        raise InvalidInput({"from_year": f"起始年度不能早于 {EARLIEST_YEAR} 年。"})
    if end > this_year:
        raise InvalidInput({"to_year": f"截止年度不能晚于今年（{this_year}）。"})
    if end < start:
        raise InvalidInput({"to_year": "截止年度不能早于起始年度。"})
    if end - start + 1 > MAX_SPAN_YEARS:
        raise InvalidInput({"to_year": f"一次最多查询 {MAX_SPAN_YEARS} 个年度。"})
    return start, end


def person_by_id_number(raw) -> User:
    number = normalise_id_number(str(raw or ""))
    problem = id_number_problem(number)
    if problem:
        raise InvalidInput({"id_number": problem})
    person = db.session.scalar(sa.select(User).where(User.id_number == number, User.role == Role.LEARNER))
    if person is None:
        raise NotFound("平台上没有该身份证号码的专业技术人员。")
    return person


def person_record(caller: Caller, id_number, from_year, to_year) -> dict:
    """The person's years (hours:read), integrity records (integrity:read) and deferrals (deferrals:read).

    The call is audit-logged with the client, under the person's organisation, so that the person's HR chain
    sees in its log who read the record.
    """
    start, end = years_asked(from_year, to_year)
    person = person_by_id_number(id_number)
    deferrals = {d.year: d for d in declarations.deferrals_of(person.id)}
    body: dict = {"person": {"name": person.name, "id_number": person.id_number, "org": person.org.name,
                             "title_series": person.title_series, "professional_post": person.professional_post},
                  "from_year": start, "to_year": end}
    sections = []
    if "hours:read" in caller.scopes:
        sections.append("years")
        body["years"] = [breakdown.year_data(person, year, deferred=year in deferrals)
                         for year in range(start, end + 1)]
        body["certificates"] = [_certificate(c) for c in db.session.scalars(
            sa.select(Certificate).where(Certificate.user_id == person.id, Certificate.year.between(start, end))
            .order_by(Certificate.year))]
        sections.append("certificates")
    if "integrity:read" in caller.scopes:
        body["integrity_records"] = [integrity.as_json(r) for r in integrity.active_records(person.id)]
        sections.append("integrity_records")
    if "deferrals:read" in caller.scopes:
        body["deferrals"] = [_deferral(d) for year, d in sorted(deferrals.items()) if start <= year <= end]
        sections.append("deferrals")
    audit.record(None, "interop.person_record", object_type="person", object_id=person.id,
                 label=f"{person.name}（{mask_id_number(person.id_number)}）{start}–{end} 年度", org=person.org,
                 after={"client": caller.client.client_id, "sections": sections}, machine=caller.client.name)
    return body


def record_refusal(caller: Caller, id_number, error) -> None:
    """Log a refused look-up too: which client asked about which (masked) number, and why it was refused."""
    number = normalise_id_number(str(id_number or ""))[:18]
    audit.record(None, "interop.person_record", object_type="person", label=f"查询 {mask_id_number(number)}（未返回）",
                 after={"client": caller.client.client_id, "refused": error.code}, reason=error.message,
                 machine=caller.client.name)


def _certificate(certificate: Certificate) -> dict:
    verdict = certificates.verify(certificate.code).verdict
    return {"year": certificate.year, "serial": certificate.serial, "code": certificates.grouped(certificate.code),
            "verify_url": certificates.verify_url(certificate.code), "verdict": verdict.value,
            "total_hours": format(certificate.total_hours, "f"), "issued_at": certificate.issued_at.isoformat() + "Z"}


def _deferral(deferral) -> dict:
    state = declarations.deferral_state(deferral)
    return {"year": deferral.year, "reason_kind": deferral.reason_kind.value,
            "reason_label": deferral.reason_kind.label,
            "ends_on": deferral.ends_on.isoformat(), "state": state.text, "failed": state.failed}
