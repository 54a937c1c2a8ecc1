"""The whole learner path through the real server in headless Chromium: from the catalogue to a verified certificate.

A learner whose year already holds 60 专业 and 29.9 公需 hours (posted as approved declarations would be) logs in,
enrols in a 0.1-hour 公需 course from the catalogue, watches its courseware (a real AES-encrypted HLS video made by
ffmpeg, tracked over Socket.IO with test durations, attention checks asked from the course's question bank),
passes the quiz, sees the hours posted, finds every number of 我的学时 equal to the ledger's sums, claims the yearly
certificate, downloads its PDF, and a logged-out browser verifies it; a code with one character changed is refused.

0.1 h asks for 270 s of watching: an earlier visit of 265 s is recorded in the database (as in the player's browser
tests) so that this visit's few seconds, and its coverage of the video, complete the courseware.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import sqlalchemy as sa

from lms.accounts.models import Role
from lms.certificates import service as certificates
from lms.courses.models import Category, CourseState
from lms.exams.models import Question
from lms.extensions import db
from lms.ledger.models import LedgerEntry, SourceType
from lms.ledger.service import china_today
from lms.tracking.models import CoursewareProgress, HoldState
from tests.certificates import post_hours
from tests.conftest import make_user
from tests.exams import make_bank, open_quiz
from tests.player import live_server, make_course, make_packaged_media
from tests.support import services
from tests.support.browser import (
    WITH_CHECKS,
    chromium,
    flushed_sessions,
    honest_context,
    leave,
    log_in,
    seed_earlier_watching,
    start_playing,
)
from tests.support.media import package_encrypted_hls

COURSE_TITLE = "新时代专业技术人员职业道德"
LEARNER_NAME = "欧阳明远"


@pytest.fixture(scope="module")
def hls_folder(tmp_path_factory):
    """A 10-second test video packaged as AES-128 HLS by ffmpeg, as the media worker does."""
    if not services.ffmpeg_available():
        services.require(services.FFMPEG, FileNotFoundError("ffmpeg 或 ffprobe 不在 PATH 中"))
    return package_encrypted_hls(tmp_path_factory.mktemp("learner-path-hls"), seconds=10)


@pytest.fixture(scope="module")
def browser():
    with chromium(honest=True) as launched:
        yield launched


def _answer_attention_checks_until_complete(page, bank: list[Question]) -> int:
    """Let the video play, answering each attention check (a question from the bank) in its dialog."""
    dialog = page.locator("dialog[data-check]")
    answered = 0
    deadline = time.monotonic() + 60
    while page.locator("[data-completion]").inner_text() != "已完成本课件的观看要求":
        assert time.monotonic() < deadline, page.locator("[data-summary]").inner_text()
        if dialog.is_visible():
            page.wait_for_timeout(1200)  # a person reads the question before answering
            prompt = page.locator("[data-check-prompt]").inner_text()
            # An end-of-video check adds a note after the question's prompt. Only a question of the bank is
            # answered: a check showing a code would go unanswered until the deadline fails the test.
            asked = [q for q in bank if prompt.startswith(q.prompt)]
            labels = page.locator("[data-check-options] label")
            right = [labels.nth(i) for i in range(labels.count()) if asked and labels.nth(i).inner_text().strip()
                     .split(". ", 1)[-1] == asked[0].options[asked[0].correct[0]]]
            if len(right) != 1:
                continue  # the dialog was being replaced or closed while it was read: read again
            right[0].locator("input").check()
            if page.locator("[data-check-prompt]").inner_text() != prompt:
                continue  # the server replaced the check meanwhile (an end check by a due one): read again
            page.click("[data-check-submit]")
            # Closed once the server took the answer — unless it replaced the check at that very moment (an end
            # check arriving with the answer: a new prompt) or the page says the answer did not get through
            # ("提交失败…请再提交一次"): then, as a person would, read the dialog again and answer it.
            page.wait_for_function(
                "p => !document.querySelector('dialog[data-check]').open"
                " || document.querySelector('[data-check-prompt]').innerText !== p"
                " || document.querySelector('[data-check-error]').textContent !== ''", arg=prompt)
            if dialog.is_visible():
                continue
            answered += 1
        page.wait_for_timeout(150)
    return answered


def _answer_the_quiz(page, bank: list[Question]) -> None:
    """Choose the right options of every drawn question, found by the prompt and the option texts of the bank."""
    fieldsets = page.locator("fieldset.question")
    assert fieldsets.count() == 2
    for index in range(fieldsets.count()):
        fieldset = fieldsets.nth(index)
        legend = fieldset.locator("legend").inner_text()
        [question] = [q for q in bank if legend.endswith(q.prompt)]
        right_texts = {question.options[i] for i in question.correct}
        options = fieldset.locator("label.option")
        for i in range(options.count()):
            if options.nth(i).locator("span").inner_text().split(". ", 1)[1] in right_texts:
                options.nth(i).locator("input").check()


def _shown_hours(page, category: str) -> tuple[Decimal, Decimal]:
    row = page.locator(f"[data-category={category}]")
    return Decimal(row.locator(".hours").inner_text()), Decimal(row.locator(".minimum").inner_text())


def _ledger_sums(user_id: int, year: int) -> dict[str, Decimal]:
    rows = db.session.execute(sa.select(LedgerEntry.category, sa.func.sum(LedgerEntry.hours)).where(
        LedgerEntry.user_id == user_id, LedgerEntry.year == year).group_by(LedgerEntry.category)).all()
    sums = {Category(category).value: Decimal(hours) for category, hours in rows}
    sums["total"] = sum(sums.values(), Decimal(0))
    return sums


def test_a_learner_goes_from_the_catalogue_to_a_verified_certificate_in_the_browser(app, tree, browser, hls_folder):
    app.config["LMS_TRACKING"] = WITH_CHECKS
    learner = make_user(tree.unit_a, Role.LEARNER, name=LEARNER_NAME)
    year = china_today().year
    course = make_course(tree.base_a, title=COURSE_TITLE, category=Category.PUBLIC, state=CourseState.PUBLISHED,
                         hours=(0.1,), media=[make_packaged_media(tree.base_a, hls_folder)])
    courseware = course.coursewares[0]
    bank = make_bank(course, singles=2, multiples=1, true_falses=1)
    open_quiz(course, draw_count=2, pass_percent=60)
    post_hours(learner, Category.PROFESSIONAL, 60, "学术会议（学时申报）")
    post_hours(learner, Category.PUBLIC, Decimal("29.9"), "公需科目线下培训（学时申报）")
    seed_earlier_watching(learner, courseware, 265.0)

    with live_server(app) as url:
        context = honest_context(browser, viewport={"width": 390, "height": 844}, accept_downloads=True)
        context.set_default_timeout(20_000)
        page = context.new_page()
        log_in(page, url, learner)
        menu = page.get_by_role("navigation", name="主菜单")

        # 课程目录 → the course → 选修 → the courseware, played until the page says it is complete.
        menu.get_by_role("link", name="课程目录").click()
        page.get_by_role("link", name=COURSE_TITLE).click()
        page.get_by_role("button", name="选修本课程（0.1 学时）").click()
        assert "选课成功" in page.inner_text("main")
        start_playing(page, url, courseware, navigate=False)
        assert _answer_attention_checks_until_complete(page, bank) >= 1
        assert page.get_attribute("#player", "data-completed") == "true"
        leave(page, learner, courseware)
        [visit] = [s for s in flushed_sessions(learner, courseware) if s.public_id != "earlier-visit-0001"]
        assert visit.hold_state == HoldState.NONE and {"check_issued", "check_passed"} <= {e.type for e in visit.events}
        progress = db.session.scalar(sa.select(CoursewareProgress).where(
            CoursewareProgress.user_id == learner.id, CoursewareProgress.courseware_id == courseware.id))
        assert progress.completed_at is not None

        # 课程测验 → start → the right answers → 交卷: passed, and the hours are posted.
        page = context.new_page()
        page.goto(f"{url}/courses/{course.id}")
        page.get_by_role("link", name="课程测验").click()
        page.get_by_role("button", name="开始第 1 次测验").click()
        page.wait_for_url("**/quiz/attempts/*")
        _answer_the_quiz(page, bank)
        page.click("#submit-button")
        page.wait_for_url("**/result")
        result = page.inner_text("main")
        assert "100 分" in result and "通过" in result and "未通过" not in result
        assert "0.1 学时（公需科目" in result and "已入账" in result

        db.session.rollback()
        [course_entry] = db.session.scalars(sa.select(LedgerEntry).where(
            LedgerEntry.user_id == learner.id, LedgerEntry.source_type == SourceType.COURSE)).all()
        assert (course_entry.category, course_entry.hours, course_entry.year) == (Category.PUBLIC, Decimal("0.1"),
                                                                                   year)

        # 我的学时: every number is the ledger's.
        page.get_by_role("navigation", name="主菜单").get_by_role("link", name="我的学时").click()
        sums = _ledger_sums(learner.id, year)
        assert sums == {"public": Decimal(30), "professional": Decimal(60), "total": Decimal(90)}
        for category, minimum in (("public", 30), ("professional", 60), ("total", 90)):
            assert _shown_hours(page, category) == (sums[category], minimum)
            shown_percent = float(page.get_attribute(f"#progress-{category}", "value"))
            assert shown_percent == min(100.0, float(sums[category] / minimum * 100))
        shown_entries = sorted(Decimal(cell) for cell in page.locator("#entries .entry-hours").all_inner_texts())
        assert shown_entries == sorted(Decimal(e.hours) for e in db.session.scalars(sa.select(LedgerEntry).where(
            LedgerEntry.user_id == learner.id, LedgerEntry.year == year)))
        assert f"网络课程《{COURSE_TITLE}》" in page.inner_text("#entries")

        # 申领年度学时证明 → download the PDF: the name and hours are in its text and it renders.
        page.get_by_role("button", name=f"申领 {year} 年度学时证明").click()
        page.wait_for_url(re.compile(r".*/certificates/\d+$"))
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 PDF").click()
        pdf = download.value.path().read_bytes()
        document = pdfium.PdfDocument(pdf)
        try:
            printed = document[0].get_textpage().get_text_range()
            image = document[0].render(scale=1).to_pil().convert("L")
        finally:
            document.close()
        for shown in (LEARNER_NAME, f"{year} 年", "30.0 学时", "60.0 学时", "90.0 学时"):
            assert shown in printed, shown
        assert sum(image.histogram()[:100]) > 1000  # text, frame and QR code are drawn
        verify_address = re.search(r"https?://\S+/verify/[0-9A-Z-]{19}", printed).group(0)
        assert verify_address.startswith(url)  # no LMS_PUBLIC_URL here: the served address

        # A logged-out browser: the printed address says genuine; one character changed says not genuine.
        stranger = honest_context(browser)
        stranger.set_default_timeout(20_000)
        public = stranger.new_page()
        public.goto(verify_address)
        verdict = public.locator("#verdict")
        assert verdict.get_attribute("data-verdict") == "genuine"
        text = verdict.inner_text()
        assert certificates.mask_name(LEARNER_NAME) in text and LEARNER_NAME not in text
        assert learner.masked_id_number in text and learner.id_number not in text
        for shown in ("30.0 学时", "60.0 学时", "90.0 学时", str(year)):
            assert shown in text, shown
        last = verify_address[-1]
        public.goto(verify_address[:-1] + ("X" if last != "X" else "Y"))
        assert public.locator("#verdict").get_attribute("data-verdict") == "not_genuine"
        assert "不是真实有效的证明" in public.inner_text("#verdict")
        stranger.close()
        context.close()
