"""核认 windows: hunan-2026 covers 2021–2025 through its window (通知二), and broken windows are refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lms.rules import NoRuleSet, RuleSetError, load_rule_sets, rule_set_for
from tests.rules.test_loader import VALID, write

HUNAN = rule_set_for("hunan", 2026)


@pytest.mark.parametrize(("region", "year", "rule_set_id"), [
    pytest.param("hunan", 2021, "hunan-2026", id="first year of the span"),
    pytest.param("hunan", 2025, "hunan-2026", id="last year of the span"),
    pytest.param("hunan", 2026, "hunan-2026", id="its own year"),
    pytest.param("hunan", 2020, None, id="before the span"),
    pytest.param("hunan", 2027, None, id="after its until"),
    pytest.param("hubei", 2025, None, id="hubei declares no window"),
])
def test_a_rule_set_covers_the_years_of_its_windows(region, year, rule_set_id):
    if rule_set_id is None:
        with pytest.raises(NoRuleSet):
            rule_set_for(region, year)
    else:
        assert rule_set_for(region, year).id == rule_set_id


@pytest.mark.parametrize(("day", "open_"), [
    (dt.date(2026, 5, 24), False), (dt.date(2026, 5, 25), True), (dt.date(2026, 7, 25), True),
    (dt.date(2026, 7, 26), False),
])
def test_the_hunan_window_runs_from_may_25_to_july_25_inclusive(day, open_):
    [window] = HUNAN.windows_for(2024)
    assert (window.first_year, window.last_year) == (2021, 2025)
    assert window.is_open(day) is open_


WINDOW = ('[[windows]]\nyears = [2021, 2025]\nopens = 2026-05-25\ncloses = 2026-07-25\n'
          'label = "核认"\narticle = "通知二"\n')


@pytest.mark.parametrize(("old", "new", "message"), [
    pytest.param("years = [2021, 2025]", "years = [2025, 2021]", "windows.0.years：起始年度 2025 晚于截止年度 2021",
                 id="years reversed"),
    pytest.param("years = [2021, 2025]", "years = [2021, 2026]",
                 "windows.0.years：核认年度应早于规则集的年度 2026（该年度起本规则集本身适用）", id="own year"),
    pytest.param("years = [2021, 2025]", "years = [2021]", "windows.0.years：应为 [起始年度, 截止年度]",
                 id="one year"),
    pytest.param("closes = 2026-07-25", "closes = 2026-05-01",
                 "windows.0.closes：核认截止日期 2026-05-01 早于开始日期 2026-05-25", id="closes before it opens"),
    pytest.param('label = "核认"\n', "", "windows.0：缺少 label", id="no label"),
])
def test_broken_windows_are_refused(tmp_path: Path, old, new, message):
    text = VALID.replace("[[caps]]", WINDOW.replace(old, new) + "\n[[caps]]", 1)
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(write(tmp_path, text))
    assert str(caught.value) == f"testland-2026.toml：{message}"
