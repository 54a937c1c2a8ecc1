"""Yearly certificates: issued only when the year is met, once; a PDF whose CJK glyphs are really drawn."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import urllib.parse
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import sqlalchemy as sa
from PIL import ImageChops
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import Role, User
from lms.certificates import service
from lms.certificates.models import Certificate
from lms.certificates.pdf import NAME_BOX, PAGE_HEIGHT, PrintedCertificate, render_certificate
from lms.core.errors import InvalidInput
from lms.courses.models import Category
from lms.extensions import db
from lms.ledger.service import china_today
from tests.certificates import meet_requirement, post_hours
from tests.conftest import csrf_token, login, make_user

SCALE = 2  # render at 144 dpi


def _issue_through_the_page(client, year: int):
    token = csrf_token(client, f"/my/hours/{year}")
    return client.post(f"/my/certificates/{year}", data={"csrf_token": token})


def _certificates():
    return db.session.scalars(sa.select(Certificate)).all()


def _render(pdf: bytes):
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        image = page.render(scale=SCALE).to_pil()
        text_page = page.get_textpage()
        text = text_page.get_text_range()
        size = page.get_size()
        text_page.close()
        page.close()
        return image, text, size
    finally:
        document.close()


def _name_region(image):
    x0, y0, x1, y1 = NAME_BOX
    return image.convert("L").crop((int(x0 * SCALE), int((PAGE_HEIGHT - y1) * SCALE), int(x1 * SCALE),
                       int((PAGE_HEIGHT - y0) * SCALE)))


def _dark_pixels(image) -> int:
    return sum(image.histogram()[:100])  # greyscale pixels darker than 100 of 255


def test_the_certificate_is_refused_until_the_requirement_is_met(client, tree):
    learner = tree.learner_a
    post_hours(learner, Category.PUBLIC, 30)
    post_hours(learner, Category.PROFESSIONAL, Decimal("59.5"))
    year = china_today().year
    login(client, learner)
    response = _issue_through_the_page(client, year)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "尚未达到要求" in html and "专业科目 59.5/60 学时" in html and "合计 89.5/90 学时" in html
    assert _certificates() == []
    post_hours(learner, Category.PROFESSIONAL, Decimal("0.5"))
    response = _issue_through_the_page(client, year)
    [certificate] = _certificates()
    assert response.status_code == 302 and response.headers["Location"] == f"/certificates/{certificate.id}"
    assert (certificate.public_hours, certificate.professional_hours, certificate.total_hours) == (30, 60, 90)


def test_a_certificate_is_issued_once_per_person_and_year(client, tree):
    year = meet_requirement(tree.learner_a)
    login(client, tree.learner_a)
    first = _issue_through_the_page(client, year)
    again = _issue_through_the_page(client, year)
    assert first.headers["Location"] == again.headers["Location"]
    [certificate] = _certificates()
    assert certificate.serial == f"JX{year}{tree.learner_a.id:08d}"
    assert certificate.issuing_authority == tree.province.name
    assert len(certificate.code) == 16 and re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{16}", certificate.code)
    duplicate = Certificate(**{column.key: getattr(certificate, column.key)
                               for column in Certificate.__table__.columns if column.key != "id"})
    duplicate.serial, duplicate.code = "JX-other", "0" * 16
    db.session.add(duplicate)
    with pytest.raises(IntegrityError, match="uq_certificates_user_year|UNIQUE constraint failed"):
        db.session.commit()
    db.session.rollback()
    page = client.get(f"/my/hours/{year}").get_data(as_text=True)
    assert f"/certificates/{certificate.id}.pdf" in page and certificate.serial in page


def test_other_roles_and_future_years_get_no_certificate(client, tree):
    year = meet_requirement(tree.learner_a)
    login(client, tree.admins["unit_a"])
    assert client.post(f"/my/certificates/{year}", data={"csrf_token": csrf_token(client, "/password")}
                       ).status_code == 403
    with pytest.raises(InvalidInput, match="尚未开始"):
        service.issue(tree.learner_a, year + 1)
    assert _certificates() == []


def test_the_pdf_embeds_the_cjk_font_and_really_draws_the_name(client, tree, tmp_path_factory, request):
    learner = make_user(tree.unit_a, Role.LEARNER, name="张三丰")
    year = meet_requirement(learner, public=Decimal("31.5"), professional=60)
    login(client, learner)
    location = _issue_through_the_page(client, year).headers["Location"]
    certificate_id = int(location.rsplit("/", 1)[1])
    page = client.get(location).get_data(as_text=True)
    assert "张三丰" in page and learner.masked_id_number in page and learner.id_number not in page

    response = client.get(f"/certificates/{certificate_id}.pdf?download=1")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert urllib.parse.quote(f"{year}年度继续教育学时证明_张三丰.pdf") in response.headers["Content-Disposition"]
    pdf = response.data
    assert pdf.startswith(b"%PDF-") and b"/FontFile2" in pdf  # the TrueType font program is in the file
    assert re.search(rb"/BaseFont /[A-Z]{6}\+WenQuanYiZenHei", pdf)  # as a subset of WenQuanYi Zen Hei

    image, text, (width, height) = _render(pdf)
    assert width > height  # A4 landscape
    assert (round(width), round(height)) == (842, 595)
    certificate = db.session.get(Certificate, certificate_id)
    for shown in ("专业技术人员继续教育学时证明", "张三丰", learner.masked_id_number, f"{year} 年", "31.5 学时",
                  "60.0 学时", "91.5 学时", tree.province.name, service.grouped(certificate.code),
                  certificate.serial, f"/verify/{service.grouped(certificate.code)}"):
        assert shown in text, shown
    assert learner.id_number not in text
    saved = tmp_path_factory.getbasetemp() / f"certificate-{request.node.callspec.id}.png"
    image.save(saved)
    print(f"rendered certificate: {saved}")

    name_region = _name_region(image)
    assert _dark_pixels(name_region) > 300  # the name's strokes are drawn, not left blank
    # A different name gives different pixels in that region: real glyphs, not one "missing glyph" box each.
    other = PrintedCertificate(
        serial="X", holder_name="李四", masked_id_number="x", year=year, public_hours=Decimal(0),
        professional_hours=Decimal(0), total_hours=Decimal(0), basis="x", issuing_authority="x",
        issued_on=dt.date(2026, 1, 1), code="x", verify_url="http://x/verify/x")
    other_region = _name_region(_render(render_certificate(other))[0])
    assert ImageChops.difference(name_region, other_region).getbbox() is not None
    blank = _name_region(_render(render_certificate(dataclasses.replace(other, holder_name="")))[0])
    assert _dark_pixels(blank) == 0


def test_the_qr_code_and_printed_url_use_the_public_url_when_set(client, tree, app):
    app.extensions["lms.config"] = dataclasses.replace(app.extensions["lms.config"],
                                                       public_url="https://jxjy.example.gov.cn/")
    year = meet_requirement(tree.learner_a)
    login(client, tree.learner_a)
    location = _issue_through_the_page(client, year).headers["Location"]
    [certificate] = _certificates()
    _image, text, _size = _render(client.get(f"{location}.pdf").data)
    assert f"https://jxjy.example.gov.cn/verify/{service.grouped(certificate.code)}" in text


def test_a_missing_font_is_a_clear_error(client, tree, app):
    app.config["LMS_CERTIFICATE_FONT"] = "/nonexistent/fonts/wqy-zenhei.ttc"
    year = meet_requirement(tree.learner_a)
    login(client, tree.learner_a)
    location = _issue_through_the_page(client, year).headers["Location"]
    response = client.get(f"{location}.pdf")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "/nonexistent/fonts/wqy-zenhei.ttc" in html and "LMS_CERTIFICATE_FONT" in html


def test_a_learner_cannot_fetch_someone_elses_certificate(client, tree):
    year = meet_requirement(tree.learner_a)
    certificate = service.issue(tree.learner_a, year)
    db.session.commit()
    other_in_same_unit = make_user(tree.unit_a, Role.LEARNER)
    for learner in (tree.learner_b, other_in_same_unit):
        other_client = client.application.test_client()
        login(other_client, learner)
        assert other_client.get(f"/certificates/{certificate.id}").status_code == 403
        response = other_client.get(f"/certificates/{certificate.id}.pdf")
        assert response.status_code == 403 and "无权查看该证书" in response.get_data(as_text=True)
    login(client, tree.learner_a)
    assert client.get(f"/certificates/{certificate.id + 1}").status_code == 404


def test_two_simultaneous_requests_issue_one_certificate(app, tree):
    year = meet_requirement(tree.learner_a)
    learner_id = tree.learner_a.id
    barrier = threading.Barrier(2)
    issued, failures = [], []

    def request_certificate():
        with app.app_context():
            try:
                learner = db.session.get(User, learner_id)
                barrier.wait(timeout=10)
                certificate = service.issue(learner, year)
                db.session.commit()
                issued.append((certificate.id, certificate.code))
            except Exception as error:  # reported below: the test shows what went wrong in the thread
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request_certificate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == [] and len(issued) == 2
    assert issued[0] == issued[1]
    assert len(_certificates()) == 1
