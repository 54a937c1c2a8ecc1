"""Helpers for declaration tests: real evidence files and the learner's and reviewers' requests."""

from __future__ import annotations

import io
import re

from PIL import Image

from lms.rules import rule_set_for
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


# Facts the conditions of 第十一条 need, when a test is about something else: a national conference in the person's
# field, a training class run by an HR department, a Hunan activity that is a meeting.
USUAL_FACTS = {
    "conference": {"level": "national", "field": "临床医学", "in_own_field": "y"},
    "org_training": {"organiser": "hr"},
    "training_or_meeting": {"activity": "meeting"},
}


def conference_facts(paper: bool) -> dict:
    """A national conference in the person's field, for calls to the service (bools, not checkbox values)."""
    return {"level": "national", "field": "临床医学", "in_own_field": True, "presented_paper": paper}


def conference_materials(paper: bool) -> dict:
    """Fresh files for the conference's named slots: the notice, and the paper when one was presented."""
    named = {"notice": [(io.BytesIO(PDF), "会议通知.pdf")]}
    if paper:
        named["paper"] = [(io.BytesIO(PDF), "论文.pdf")]
    return named


def kind_of(kind_id: str, region: str | None = None):
    """The rule-set kind a test declares: Hubei's, or Hunan's for a kind only Hunan has (or region='hunan')."""
    hubei = rule_set_for("hubei", 2026)
    if region == "hunan" or (region is None and kind_id not in hubei.kinds):
        return rule_set_for("hunan", 2026).kinds[kind_id]
    return hubei.kinds[kind_id]


def required_slots(kind, facts: dict) -> list[str]:
    """The material of each slot of the first evidence option that applies to the posted facts."""
    if kind.materials is None:
        return []
    posted = {}
    for fact_id, fact in kind.facts.items():
        value = facts.get(fact_id)
        posted[fact_id] = value in ("y", True) if fact.type == "bool" else value
    option = next(o for o in kind.materials.options if all(posted.get(w.fact) == w.equals for w in o.when))
    return [slot[0] for slot in option.slots]


def declare(client, kind="conference", *, title="全国学术年会", start="2026-05-10", end="2026-05-11", facts=None,
            files=None, materials=None, year=2026, assign_year=None, region=None):
    """Post the declaration form with evidence files, as a browser does (multipart, CSRF from the page).

    ``materials`` maps material ids to files for their slots. Without it, ``files`` fill the slots the kind
    requires, in order, and any left over go to "其他材料"; without ``files`` either, one PDF per required slot.
    """
    url = f"/declarations/new?kind={kind}&year={year}"
    data = {"csrf_token": csrf_token(client, url), "title": title, "start_date": start, "end_date": end}
    if assign_year is not None:
        data["year"] = str(assign_year)
    facts = {**USUAL_FACTS.get(kind, {}), **(facts or {})}
    for key, value in facts.items():
        data[f"fact-{key}"] = value
    rule_kind = kind_of(kind, region)
    if materials is None:
        slots = required_slots(rule_kind, facts)
        if files is None:
            files = [(f"{rule_kind.materials.items[m].label[:20]}.pdf", PDF) for m in slots] or [("证明.pdf", PDF)]
        materials = {m: [file] for m, file in zip(slots, files, strict=False)}
        files = files[len(materials):]
    files = files or []
    for material, named in materials.items():
        data[f"evidence-{material}"] = [(io.BytesIO(content), name) for name, content in named]
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
