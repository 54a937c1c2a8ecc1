"""Public verification (no login) and the admins' look-up: genuine, tampered, altered, unknown, revoked; subtrees."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from lms.accounts.models import Role
from lms.certificates import service
from lms.certificates.models import Certificate
from lms.extensions import db
from lms.ledger.models import AdjustmentKind
from lms.ledger.service import adjust
from tests.certificates import meet_requirement
from tests.conftest import login, make_user


def _issued(learner) -> Certificate:
    year = meet_requirement(learner, public=Decimal("32.5"), professional=61)
    certificate = service.issue(learner, year)
    db.session.commit()
    return certificate


def _verdict(html: str) -> str:
    return html.split('data-verdict="', 1)[1].split('"', 1)[0]


def test_a_genuine_certificate_verifies_without_login_and_shows_the_holder_masked(client, tree):
    learner = make_user(tree.unit_a, Role.LEARNER, name="张小三")
    certificate = _issued(learner)
    response = client.get(f"/verify/{service.grouped(certificate.code)}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and _verdict(html) == "genuine"
    assert "张*三" in html and "张小三" not in html
    assert learner.masked_id_number in html and learner.id_number not in html
    for shown in ("32.5 学时", "61.0 学时", "93.5 学时", str(certificate.year), certificate.serial,
                  tree.province.name):
        assert shown in html
    assert response.headers["Cache-Control"] == "no-store"


def test_the_typed_code_is_forgiving_about_case_dashes_and_look_alike_letters(client, tree):
    certificate = _issued(tree.learner_a)
    typed = certificate.code.lower().replace("0", "o").replace("1", "l")
    response = client.get("/verify", query_string={"code": f" {typed[:8]} {typed[8:]} "})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/verify/{service.grouped(certificate.code)}"
    assert _verdict(client.get(response.headers["Location"]).get_data(as_text=True)) == "genuine"
    assert _verdict(client.get(f"/verify/{certificate.code.lower()}").get_data(as_text=True)) == "genuine"
    form = client.get("/verify")
    assert form.status_code == 200 and "证书查询码" in form.get_data(as_text=True)
    bad = client.get("/verify", query_string={"code": "12345"})
    assert bad.status_code == 422 and "查询码应为 16 位" in bad.get_data(as_text=True)
    empty = client.get("/verify", query_string={"code": ""})
    assert empty.status_code == 422 and "请输入证书查询码" in empty.get_data(as_text=True)


def test_a_code_with_one_character_changed_is_not_genuine(client, tree):
    certificate = _issued(tree.learner_a)
    for position in (0, 7, 15):
        flipped = "X" if certificate.code[position] != "X" else "Y"
        forged = certificate.code[:position] + flipped + certificate.code[position + 1:]
        response = client.get(f"/verify/{service.grouped(forged)}")
        html = response.get_data(as_text=True)
        assert response.status_code == 404 and _verdict(html) == "not_genuine"
        assert "不是真实有效的证明" in html and certificate.serial not in html


def test_an_unknown_or_malformed_code_is_not_genuine(client, tree):
    _issued(tree.learner_a)
    for code in ("ABCD-EFGH-JKMN-PQRS", "0000000000000000", "nonsense", "ＡＢＣ", "%3Cscript%3E"):
        response = client.get(f"/verify/{code}")
        assert response.status_code == 404, code
        assert _verdict(response.get_data(as_text=True)) == "not_genuine"


def test_hours_changed_in_the_stored_row_after_issue_fail_verification(client, tree):
    certificate = _issued(tree.learner_a)
    code, certificate_id = certificate.code, certificate.id
    db.session.execute(sa.update(Certificate).where(Certificate.id == certificate_id)
                       .values(professional_hours=Decimal("80.0"), total_hours=Decimal("112.5")))
    db.session.commit()
    response = client.get(f"/verify/{code}")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and _verdict(html) == "not_genuine" and "80.0" not in html
    login(client, tree.learner_a)
    refused = client.get(f"/certificates/{certificate_id}.pdf")
    assert refused.status_code == 409 and "证书数据校验失败" in refused.get_data(as_text=True)
    # A name changed after issue fails the same way: the signature covers every printed field.
    db.session.execute(sa.update(Certificate).where(Certificate.id == certificate_id)
                       .values(professional_hours=Decimal("61.0"), total_hours=Decimal("93.5")))
    db.session.commit()
    assert client.get(f"/verify/{code}").status_code == 200
    db.session.execute(sa.update(Certificate).where(Certificate.id == certificate_id).values(holder_name="王五"))
    db.session.commit()
    assert client.get(f"/verify/{code}").status_code == 404


def test_a_year_voided_after_issue_revokes_the_certificate(client, tree):
    certificate = _issued(tree.learner_a)
    adjust(tree.learner_a, year=certificate.year, kind=AdjustmentKind.VOID_YEAR, reason="申报材料虚假",
           decided_by=tree.admins["city"])
    db.session.commit()
    response = client.get(f"/verify/{certificate.code}")
    html = response.get_data(as_text=True)
    assert response.status_code == 410 and _verdict(html) == "revoked"
    assert "已撤销" in html and "第二十一条" in html
    login(client, tree.learner_a)
    refused = client.get(f"/certificates/{certificate.id}.pdf")
    assert refused.status_code == 409 and "已撤销" in refused.get_data(as_text=True)
    assert "已撤销" in client.get(f"/my/hours/{certificate.year}").get_data(as_text=True)


def test_verification_is_rate_limited_per_address(client, tree, app):
    app.config["LMS_VERIFY_RATE_LIMIT"] = "3 per minute"
    certificate = _issued(tree.learner_a)
    statuses = [client.get(f"/verify/{certificate.code}").status_code for _ in range(2)]
    statuses.append(client.get("/verify").status_code)  # the form shares the limit
    limited = client.get(f"/verify/{certificate.code}")
    assert statuses == [200, 200, 200] and limited.status_code == 429
    assert "尝试过于频繁" in limited.get_data(as_text=True)
    other_address = client.get(f"/verify/{certificate.code}", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other_address.status_code == 200


def test_admins_find_and_print_certificates_of_their_subtree_only(client, tree):
    certificate = _issued(tree.learner_a)  # unit_a ⊂ dept_a ⊂ city ⊂ province
    name, id_number = tree.learner_a.name, tree.learner_a.id_number
    for key in ("unit_a", "dept_a", "province"):
        admin_client = client.application.test_client()
        login(admin_client, tree.admins[key])
        for query in (name, id_number, id_number.lower()):
            html = admin_client.get("/certificates/lookup", query_string={"q": query}).get_data(as_text=True)
            assert f'data-certificate="{certificate.id}"' in html, (key, query)
        assert admin_client.get(f"/certificates/{certificate.id}").status_code == 200
        pdf = admin_client.get(f"/certificates/{certificate.id}.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    for key in ("unit_b", "county"):  # county is under city, but unit_a is not under county
        admin_client = client.application.test_client()
        login(admin_client, tree.admins[key])
        for query in (name, id_number):
            response = admin_client.get("/certificates/lookup", query_string={"q": query})
            assert response.status_code == 200
            assert f'data-certificate="{certificate.id}"' not in response.get_data(as_text=True)
            assert "没有找到符合条件的证书" in response.get_data(as_text=True)
        for url in (f"/certificates/{certificate.id}", f"/certificates/{certificate.id}.pdf"):
            refused = admin_client.get(url)
            assert refused.status_code == 403 and "无权查看该证书" in refused.get_data(as_text=True)


def test_lookup_is_for_unit_department_and_hr_admins_with_clear_input_errors(client, tree):
    _issued(tree.learner_a)
    for user in (tree.learner_a, tree.admins["base_a"], tree.reviewer):
        other = client.application.test_client()
        login(other, user)
        assert other.get("/certificates/lookup", query_string={"q": "测试"}).status_code == 403
    login(client, tree.admins["unit_a"])
    assert client.get("/certificates/lookup").status_code == 200  # the empty form
    blank_year = client.get("/certificates/lookup", query_string={"q": "", "year": "2026"})
    assert blank_year.status_code == 422 and "请输入姓名或身份证号码" in blank_year.get_data(as_text=True)
    bad_year = client.get("/certificates/lookup", query_string={"q": "测试", "year": "20x6"})
    assert bad_year.status_code == 422 and "年度应为四位数字" in bad_year.get_data(as_text=True)
    wildcard = client.get("/certificates/lookup", query_string={"q": "%"}).get_data(as_text=True)
    assert "data-certificate=" not in wildcard  # % is a character to match, not a wildcard


def test_with_a_certificate_key_the_session_secret_can_be_rotated_but_not_the_certificate_key(app, client, tree):
    app.config["LMS_CERTIFICATE_KEY"] = "c" * 40
    certificate = _issued(tree.learner_a)
    app.config["SECRET_KEY"] = "a rotated session secret of at least 32 characters"
    assert service.signature_code(certificate) == certificate.code
    assert _verdict(client.get(f"/verify/{certificate.code}").get_data(as_text=True)) == "genuine"
    app.config["LMS_CERTIFICATE_KEY"] = "d" * 40
    assert service.signature_code(certificate) != certificate.code
    assert _verdict(client.get(f"/verify/{certificate.code}").get_data(as_text=True)) == "not_genuine"
