"""Helpers for declaration tests: real evidence files and the learner's and reviewers' requests."""

from __future__ import annotations

import io
import re

from PIL import Image

from tests.conftest import csrf_token, login

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def client_for(app, user):
    """A client logged in as the user through the login form; one per user and test (argon2 is slow on purpose)."""
    clients = app.extensions.setdefault("tests.declarations.clients", {})
    if user.id not in clients:
        client = app.test_client()
        response = login(client, user)
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
        clients[user.id] = client
    return clients[user.id]


def declare(client, kind="conference", *, title="全国学术年会", start="2026-05-10", end="2026-05-11", facts=None,
            files=None, year=2026, assign_year=None):
    """Post the declaration form with evidence files, as a browser does (multipart, CSRF from the page)."""
    url = f"/declarations/new?kind={kind}&year={year}"
    data = {"csrf_token": csrf_token(client, url), "title": title, "start_date": start, "end_date": end}
    if assign_year is not None:
        data["year"] = str(assign_year)
    for key, value in (facts or {}).items():
        data[f"fact-{key}"] = value
    files = files if files is not None else [("会议通知.pdf", PDF)]
    data["evidence"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(url, data=data, content_type="multipart/form-data")


def declared_id(response) -> int:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    return int(re.search(r"/declarations/(\d+)$", response.headers["Location"]).group(1))


def decide(client, declaration_id: int, decision: str, reason: str = ""):
    url = f"/declarations/{declaration_id}"
    return client.post(f"{url}/decision", data={"csrf_token": csrf_token(client, url), "decision": decision,
                                                 "reason": reason})


def decide_batch(client, ids, decision: str, reason: str = ""):
    return client.post("/declarations/review", data={"csrf_token": csrf_token(client, "/declarations/review"),
                                                      "ids": [str(i) for i in ids], "decision": decision,
                                                      "reason": reason})
