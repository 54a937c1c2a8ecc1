"""The demo's training with a roster: declared by the base, waiting for the department; once the department and the
city bureau approve, each attendee sees the hours on their yearly page."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import User
from lms.demo import DEMO_PASSWORD, seed_demo_data
from lms.extensions import db
from lms.ledger import service as ledger
from lms.plans import trainings
from lms.plans.training_demo import seed_demo_training
from lms.plans.training_models import Training, TrainingStatus
from tests.conftest import login


def _user(login_name: str) -> User:
    return db.session.scalar(sa.select(User).where(User.login == login_name))


def _client_of(app, user):
    client = app.test_client()
    assert login(client, user, DEMO_PASSWORD).status_code in (302, 303)
    return client


def test_the_demo_base_has_a_training_the_department_approves_and_the_attendees_then_see_their_hours(app):
    logins = seed_demo_data()
    db.session.commit()
    main_learner = logins[-1].login
    made = seed_demo_training(_user("base_admin"), keep_out={main_learner})
    assert made and "等待荆州市卫生健康委员会主管部门审查" in made
    assert seed_demo_training(_user("base_admin"), keep_out={main_learner}) is None  # once
    training = db.session.scalar(sa.select(Training))
    assert training.attendees and main_learner not in {a.user.login for a in training.attendees}
    assert training.facts == {"organiser": "industry"}

    department = _client_of(app, _user("dept_admin"))
    assert training.title in department.get("/trainings/review").get_data(as_text=True)
    trainings.decide(_user("dept_admin"), training.id, "approve", None)
    trainings.decide(_user("city_admin"), training.id, "approve", None)
    db.session.commit()
    assert training.status == TrainingStatus.FILED
    attendee = training.attendees[0]
    assert attendee.hours == 12
    year = ledger.china_today().year
    page = _client_of(app, attendee.user).get(f"/my/hours/{year}").get_data(as_text=True)
    assert f"培训申报：{training.title}" in page
