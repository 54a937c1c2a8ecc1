"""Admin queues share one set of filters (name, ID-number suffix, submission dates) and one way to page."""

from __future__ import annotations

import re

import pytest

from lms.accounts.models import ReviewStatus, Role
from tests.conftest import api_token, login, make_user

CHINESE = re.compile(r"[\u4e00-\u9fff]")
PENDING = "/api/v1/registrations/learners/pending"


@pytest.fixture
def crowd(tree):
    """Five more people waiting in unit A, two of them named alike."""
    people = [make_user(tree.unit_a, Role.LEARNER, status=ReviewStatus.PENDING, name=name)
              for name in ("张小明", "张小红", "李四", "王五", "赵六")]
    return tree, people


def test_a_queue_pages_with_its_total_and_filters_by_name_and_id_suffix(client, crowd):
    tree, people = crowd
    headers = api_token(client, tree.admins["unit_a"])
    first = client.get(f"{PENDING}?per_page=2", headers=headers)
    assert first.status_code == 200 and first.headers["X-Total-Count"] == "6"
    second = client.get(f"{PENDING}?per_page=2&page=2", headers=headers)
    ids = [p["id"] for p in first.get_json()] + [p["id"] for p in second.get_json()]
    assert len(set(ids)) == 4, "pages never repeat a row"
    named = client.get(PENDING, query_string={"name": "张小"}, headers=headers).get_json()
    assert {p["id"] for p in named} == {people[0].id, people[1].id}
    suffix = people[2].id_number[-5:]
    by_suffix = client.get(PENDING, query_string={"id_suffix": suffix}, headers=headers).get_json()
    assert [p["id"] for p in by_suffix] == [people[2].id]
    # The filters never widen the subtree: unit B's admin sees none of them.
    other = client.get(PENDING, query_string={"name": "张小"}, headers=api_token(client, tree.admins["unit_b"]))
    assert other.get_json() == [] and other.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize("query, field", [
    ({"id_suffix": "12"}, "id_suffix"), ({"since": "2026-13-01"}, "since"), ({"until": "明天"}, "until"),
    ({"page": "0"}, "page"), ({"per_page": "1000"}, "per_page"),
])
def test_a_malformed_filter_is_a_chinese_422(client, tree, query, field):
    response = client.get(PENDING, query_string=query, headers=api_token(client, tree.admins["unit_a"]))
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()["error"]
    assert CHINESE.search(str(body))


def test_the_registrations_page_filters_and_survives_a_bad_filter(client, crowd):
    tree, people = crowd
    login(client, tree.admins["unit_a"])
    page = client.get("/registrations", query_string={"name": "李四"}).get_data(as_text=True)
    assert "李四" in page and "王五" not in page
    bad = client.get("/registrations", query_string={"since": "not-a-date"})
    assert bad.status_code == 200 and "日期格式应为 YYYY-MM-DD" in bad.get_data(as_text=True)
