"""The to-do list (待办事项): each admin's counts of what waits for them, going down as they work."""

from __future__ import annotations

from lms.accounts.models import Role
from lms.orgs.models import ReviewStatus
from tests.conftest import api_token, make_user
from tests.declarations import client_for


def counts(client, user) -> dict[str, int]:
    response = client.get("/api/v1/me/todo", headers=api_token(client, user))
    assert response.status_code == 200
    return {item["key"]: item["count"] for item in response.get_json()}


def test_each_admin_sees_the_counts_of_their_own_queues(client, tree):
    assert counts(client, tree.admins["unit_a"]) == {"learner_registrations": 1, "declarations": 0, "trainings": 0,
                                                     "transfers": 0, "person_changes": 0}
    assert counts(client, tree.admins["dept_a"]) == {"org_registrations": 0, "declarations": 0, "trainings": 0,
                                                     "org_changes": 0, "parent_moves": 0, "plans": 0,
                                                     "course_vettings": 0}
    assert counts(client, tree.reviewer) == {"held_sessions": 0, "held_attempts": 0}
    assert counts(client, tree.admins["base_a"]) == {}
    assert counts(client, tree.learner_a) == {}


def test_the_home_page_count_goes_down_as_the_unit_admin_works(client, tree):
    for _ in range(2):
        make_user(tree.unit_a, Role.LEARNER, ReviewStatus.PENDING)
    page = client_for(client.application, tree.admins["unit_a"])
    home = page.get("/").get_data(as_text=True)
    assert 'data-key="learner_registrations">3<' in home
    response = client.post("/api/v1/registrations/learners/decisions", json={"ids": [tree.pending_a.id],
                           "approve": True}, headers=api_token(client, tree.admins["unit_a"]))
    assert response.status_code == 200
    assert 'data-key="learner_registrations">2<' in page.get("/").get_data(as_text=True)
