"""The certificate as a PDF in one fixed layout (统一制式): A4 landscape, the CJK font embedded, a QR code.

Every certificate is drawn by ``render_certificate`` at the same positions, so a printed certificate looks the same
whoever prints it; ``NAME_BOX`` is where the holder's name is printed (tests look at that region of the render).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import dataclass
from decimal import Decimal

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from lms.core.errors import ServiceError

DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
PAGE_WIDTH, PAGE_HEIGHT = landscape(A4)
TITLE = "专业技术人员继续教育学时证明"
MARGIN = 36
NAME_FONT_SIZE = 22
NAME_X, NAME_BASELINE = 200, 400
# The rectangle (x0, y0, x1, y1 in points from the bottom left) in which the holder's name is drawn.
NAME_BOX = (NAME_X, NAME_BASELINE - 6, NAME_X + 300, NAME_BASELINE + NAME_FONT_SIZE)
QR_SIZE = 130
ACCENT = Color(0.62, 0.09, 0.09)


class CertificateFontMissing(ServiceError):
    """The CJK font file for certificates is missing or not a TrueType font: a setup problem, not the user's."""

    status = 500
    code = "certificate_font_missing"


@dataclass(frozen=True)
class PrintedCertificate:
    """What a certificate shows, already masked and formatted where needed."""

    serial: str
    holder_name: str
    masked_id_number: str
    year: int
    public_hours: Decimal
    professional_hours: Decimal
    total_hours: Decimal
    basis: str  # the rule set's title: the requirement the hours meet
    issuing_authority: str
    issued_on: dt.date
    code: str  # grouped for reading, e.g. ABCD-EFGH-JKMN-PQRS
    verify_url: str


_fonts: dict[str, str] = {}
_fonts_lock = threading.Lock()


def register_font(path: str) -> str:
    """Register the TrueType CJK font at ``path`` once per process and return its ReportLab name."""
    with _fonts_lock:
        if path in _fonts:
            return _fonts[path]
        name = "WQY" if not _fonts else f"WQY{len(_fonts)}"
        try:
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
        except (OSError, TTFError) as error:
            raise CertificateFontMissing(
                f"无法生成证书：证书字体文件 {path} 不存在或不是 TrueType 字体（{error}）。请安装文泉驿正黑字体"
                "（apt-get install fonts-wqy-zenhei），或把 LMS_CERTIFICATE_FONT 设为可用的中文 TrueType 字体文件。"
            ) from None
        _fonts[path] = name
        return name


def render_certificate(certificate: PrintedCertificate, font_path: str = DEFAULT_FONT_PATH) -> bytes:
    """Draw the certificate and return the PDF bytes (the font's used glyphs are embedded as a subset)."""
    return render_certificates([certificate], font_path, title=f"{TITLE}（{certificate.year} 年度）",
                               author=certificate.issuing_authority, subject=f"证书编号 {certificate.serial}")


def render_certificates(certificates, font_path: str = DEFAULT_FONT_PATH, *, title: str = TITLE,
                        author: str = "", subject: str = "", on_page=None) -> bytes:
    """Draw certificates one per page into one PDF (a batch print); ``on_page(n)`` after each page."""
    font = register_font(font_path)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setSubject(subject)
    for number, certificate in enumerate(certificates, start=1):
        _frame(canvas)
        _heading(canvas, font, certificate)
        _holder(canvas, font, certificate)
        _hours_table(canvas, font, certificate)
        _statement(canvas, font, certificate)
        _issuer(canvas, font, certificate)
        _verification(canvas, font, certificate)
        canvas.showPage()
        if on_page is not None:
            on_page(number)
    canvas.save()
    return buffer.getvalue()


def _fit(font: str, text: str, size: float, width: float) -> float:
    """Shrink the font size until the text fits the width (long names and authority names)."""
    while size > 8 and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _frame(canvas: Canvas) -> None:
    canvas.setStrokeColor(ACCENT)
    canvas.setLineWidth(3)
    canvas.rect(MARGIN, MARGIN, PAGE_WIDTH - 2 * MARGIN, PAGE_HEIGHT - 2 * MARGIN)
    canvas.setLineWidth(0.8)
    canvas.rect(MARGIN + 7, MARGIN + 7, PAGE_WIDTH - 2 * MARGIN - 14, PAGE_HEIGHT - 2 * MARGIN - 14)


def _heading(canvas: Canvas, font: str, c: PrintedCertificate) -> None:
    canvas.setFillColor(black)
    canvas.setFont(font, 10)
    canvas.drawRightString(PAGE_WIDTH - MARGIN - 24, PAGE_HEIGHT - MARGIN - 28, f"证书编号：{c.serial}")
    canvas.setFillColor(ACCENT)
    canvas.setFont(font, 30)
    canvas.drawCentredString(PAGE_WIDTH / 2, PAGE_HEIGHT - MARGIN - 80, TITLE)
    canvas.setFillColor(black)
    canvas.setFont(font, 14)
    canvas.drawCentredString(PAGE_WIDTH / 2, PAGE_HEIGHT - MARGIN - 108, f"（{c.year} 年度）")


def _holder(canvas: Canvas, font: str, c: PrintedCertificate) -> None:
    label_x = NAME_X - 100
    canvas.setFont(font, 16)
    canvas.drawString(label_x, NAME_BASELINE, "姓　　名：")
    canvas.setFont(font, _fit(font, c.holder_name, NAME_FONT_SIZE, NAME_BOX[2] - NAME_BOX[0]))
    canvas.drawString(NAME_X, NAME_BASELINE, c.holder_name)
    canvas.setFont(font, 16)
    canvas.drawString(label_x, NAME_BASELINE - 34, "身份证号：")
    canvas.drawString(NAME_X, NAME_BASELINE - 34, c.masked_id_number)
    canvas.drawString(label_x, NAME_BASELINE - 68, "年　　度：")
    canvas.drawString(NAME_X, NAME_BASELINE - 68, f"{c.year} 年")


def _hours_table(canvas: Canvas, font: str, c: PrintedCertificate) -> None:
    rows = [("公需科目", c.public_hours), ("专业科目", c.professional_hours), ("合　　计", c.total_hours)]
    x0, top, label_w, value_w, row_h = 520, NAME_BASELINE + 16, 110, 120, 34
    canvas.setStrokeColor(black)
    canvas.setLineWidth(0.8)
    canvas.setFont(font, 14)
    canvas.drawString(x0, top + 10, "取得学时")
    for index, (label, hours) in enumerate(rows):
        y = top - (index + 1) * row_h
        canvas.rect(x0, y, label_w, row_h)
        canvas.rect(x0 + label_w, y, value_w, row_h)
        canvas.drawCentredString(x0 + label_w / 2, y + 11, label)
        canvas.drawCentredString(x0 + label_w + value_w / 2, y + 11, f"{hours} 学时")


def _statement(canvas: Canvas, font: str, c: PrintedCertificate) -> None:
    text = (f"兹证明该同志 {c.year} 年度参加专业技术人员继续教育，共取得 {c.total_hours} 学时，"
            f"达到《{c.basis}》规定的年度学时要求。")
    width = PAGE_WIDTH - 2 * MARGIN - 140
    canvas.setFont(font, 14)
    lines, line = [], ""
    for char in text:
        if pdfmetrics.stringWidth(line + char, font, 14) > width:
            lines.append(line)
            line = ""
        line += char
    lines.append(line)
    for index, line in enumerate(lines):
        canvas.drawString(MARGIN + 64, NAME_BASELINE - 122 - index * 22, line)


def _issuer(canvas: Canvas, font: str, c: PrintedCertificate) -> None:
    x, y = MARGIN + 64, MARGIN + 92
    canvas.setFont(font, _fit(font, f"发证机关：{c.issuing_authority}", 15, 420))
    canvas.drawString(x, y, f"发证机关：{c.issuing_authority}")
    canvas.setFont(font, 15)
    canvas.drawString(x, y - 28, f"发证日期：{c.issued_on.year} 年 {c.issued_on.month} 月 {c.issued_on.day} 日")


def _verification(canvas: Canvas, font: str, c: PrintedCertificate) -> None:
    widget = QrCodeWidget(c.verify_url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0])
    drawing.add(widget)
    qr_x, qr_y = PAGE_WIDTH - MARGIN - 40 - QR_SIZE, MARGIN + 44
    renderPDF.draw(drawing, canvas, qr_x, qr_y)
    canvas.setFont(font, 12)
    canvas.drawCentredString(qr_x + QR_SIZE / 2, qr_y - 4, f"查询码：{c.code}")
    canvas.setFont(font, 8)
    canvas.drawCentredString(qr_x + QR_SIZE / 2, qr_y - 18, "扫码或在验证页面输入查询码核验真伪")
    canvas.setFont(font, 7)
    canvas.drawRightString(PAGE_WIDTH - MARGIN - 24, MARGIN + 14, c.verify_url)
