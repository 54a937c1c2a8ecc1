"""Hunan's 核认 window through submission: a 2024 paper is accepted from 2026-05-25 to 2026-07-25 (China dates), and
refused outside with the dates; the rule set's own year needs no window."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from lms.core.errors import InvalidInput
from lms.declarations import service
from lms.extensions import db
from lms.ledger.service import china_today
from tests.declarations import PDF, client_for

REFUSED = "2024 年度的学时只能在核认期限内申报"
DATES = ("2026年度参评高级职称继续教育学时核认：2021–2025 年度的学时，2026-05-25 至 2026-07-25 受理"
         "（湖南2026年继续教育通知二）")


def _paper(learner, end_date: str, today: dt.date):
    materials = {key: [(io.BytesIO(PDF), f"{key}.pdf")] for key in ("journal_cover", "issn", "contents")}
    return service.submit(learner, kind_id="paper", title="基层慢病管理研究", start_date=end_date, end_date=end_date,
                          year="", facts={"author": "first"}, uploads=[], materials=materials, today=today)


@pytest.mark.parametrize(("end_date", "today", "accepted"), [
    pytest.param("2024-09-01", dt.date(2026, 5, 24), False, id="2024 paper the day before the window"),
    pytest.param("2024-09-01", dt.date(2026, 5, 25), True, id="2024 paper on the first day"),
    pytest.param("2024-09-01", dt.date(2026, 7, 25), True, id="2024 paper on the last day"),
    pytest.param("2024-09-01", dt.date(2026, 7, 26), False, id="2024 paper the day after"),
    pytest.param("2021-01-04", dt.date(2026, 6, 1), True, id="2021 is the first year of the span"),
    pytest.param("2026-04-01", dt.date(2026, 8, 1), True, id="the rule set's own year needs no window"),
])
def test_hunan_takes_2021_to_2025_only_inside_its_window(app, tree, end_date, today, accepted):
    tree.unit_a.region = "hunan"
    db.session.commit()
    if accepted:
        declaration, _keys = _paper(tree.learner_a, end_date, today)
        assert (declaration.year, declaration.rule_set_id, declaration.hours) == (int(end_date[:4]), "hunan-2026", 30)
        return
    with pytest.raises(InvalidInput) as caught:
        _paper(tree.learner_a, end_date, today)
    assert caught.value.fields["year"] == f"{REFUSED}，今天（{today.isoformat()}）不在期限内。{DATES}。"


@pytest.mark.parametrize(("moment", "accepted"), [
    pytest.param(dt.datetime(2026, 5, 24, 15, 59, tzinfo=dt.UTC), False, id="23:59 on May 24 in China"),
    pytest.param(dt.datetime(2026, 5, 24, 16, 0, tzinfo=dt.UTC), True, id="00:00 on May 25 in China"),
    pytest.param(dt.datetime(2026, 7, 25, 15, 59, tzinfo=dt.UTC), True, id="23:59 on July 25 in China"),
    pytest.param(dt.datetime(2026, 7, 25, 16, 0, tzinfo=dt.UTC), False, id="00:00 on July 26 in China"),
])
def test_the_window_edges_are_china_dates(app, tree, moment, accepted):
    tree.unit_a.region = "hunan"
    db.session.commit()
    today = china_today(moment)
    if accepted:
        assert _paper(tree.learner_a, "2024-09-01", today)[0].year == 2024
    else:
        with pytest.raises(InvalidInput, match=REFUSED):
            _paper(tree.learner_a, "2024-09-01", today)


def test_a_hubei_learner_has_no_window_for_2024(app, tree):
    response = client_for(app, tree.learner_a).get("/declarations/new?kind=conference&year=2024")
    assert response.status_code == 404


def test_the_form_of_a_windowed_year_names_the_window(app, tree):
    tree.unit_a.region = "hunan"
    db.session.commit()
    form = client_for(app, tree.learner_a).get("/declarations/new?kind=paper&year=2024").get_data(as_text=True)
    assert "2024 年度的学时按2026年度参评高级职称继续教育学时核认受理：2026-05-25 至 2026-07-25" in form
