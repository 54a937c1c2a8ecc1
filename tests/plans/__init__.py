"""Helpers for the yearly-work tests: a plan's form as a browser posts it, the JSON of a plan for the API, roster
workbooks and declaring a training through the service."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook

from lms.ledger.service import china_today
from lms.plans import trainings
from tests.conftest import csrf_token

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def year() -> int:
    return china_today().year


def item(title="职业道德与诚信建设", form="course", category="public", start=None, end=None, hours="3", expected="200"):
    """One planned course or training, dated within this year."""
    return {"title": title, "form": form, "category": category, "start_date": start or f"{year()}-03-01",
            "end_date": end or f"{year()}-03-02", "hours": hours, "expected": expected}


def plan_json(kind="annual_plan", items=None, title=None, **extra) -> dict:
    body = {"kind": kind, "year": year(), "title": title or f"{year()}年度培训计划",
            "items": items if items is not None else [item(), item("医疗质量安全", "training", "professional",
                                                                    hours="8", expected="60")]}
    return {**body, **extra}


def form_data(client, url: str, items=(), files=(), **fields) -> dict:
    """The multipart body of the plan form: parallel item_* lists, the files, the CSRF token of the page."""
    data = {"csrf_token": csrf_token(client, url), **fields}
    for name in ("title", "form", "category", "start_date", "end_date", "hours", "expected"):
        data[f"item_{name}"] = [entry[name] for entry in items]
    data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return data


def post_plan(client, items=None, files=(("计划.pdf", PDF),), kind="annual_plan", title=None, **fields):
    url = f"/plans/new?kind={kind}"
    data = form_data(client, url, items if items is not None else [item()], files, kind=kind, year=str(year()),
                     title=title or f"{year()}年度培训计划", **fields)
    return client.post("/plans/new", data=data, content_type="multipart/form-data")


def filing_id_of(response) -> int:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:3000]
    return int(re.search(r"/plans/(\d+)$", response.headers["Location"]).group(1))


def decide(client, filing_id: int, decision: str, reason: str = ""):
    url = f"/plans/{filing_id}"
    return client.post(f"{url}/decision", data={"csrf_token": csrf_token(client, url), "decision": decision,
                                                 "reason": reason})


HEADER = ("姓名", "身份证号码", "出勤天数")


def roster_bytes(rows, header=HEADER) -> bytes:
    """A roster workbook as a declarer fills in the template: one row per attendee."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = trainings.SHEET
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def person_row(user, days=""):
    return (user.name, user.id_number, days)


# The training's own facts each roster kind asks (declared once on the training form).
TRAINING_FACTS = {"org_training": {"organiser": "hr"}, "training_or_meeting": {"activity": "training"}}


def declare_training(actor, people, *, title="全省公需科目集中培训班", kind="org_training", start="2026-04-01",
                     end="2026-04-02", hours_per_day="8", category="public", rows=None, facts=None):
    """Declare a training with a roster of ``people`` (all days attended) through the service; the caller commits."""
    data = roster_bytes(rows if rows is not None else [person_row(p) for p in people])
    return trainings.declare(actor, title=title, kind_id=kind, start_date=start, end_date=end,
                             hours_per_day=hours_per_day, category=category, roster=data, roster_name="名单.xlsx",
                             facts=TRAINING_FACTS.get(kind, {}) if facts is None else facts)
