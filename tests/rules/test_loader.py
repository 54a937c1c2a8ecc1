"""Loading rule-set files: the shipped ones load, broken ones are refused naming file, entry and fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from lms.rules import DATA_DIR, NoRuleSet, RuleSetError, default_rule_sets, load_rule_sets, rule_set_for

VALID = """\
id = "testland-2026"
region = "testland"
region_label = "测试省"
year = 2026
title = "测试办法"

[requirement]
total = 90
minutes_per_hour = 45
article = "测试办法第四条"

[categories.public]
label = "公需科目"
minimum = 30

[categories.professional]
label = "专业科目"
minimum = 60

[kinds.conference]
label = "学术会议"
article = "测试办法第十一条（三）"
category = "professional"
formula = { type = "fixed", hours = 8, bonuses = [{ fact = "presented_paper", hours = 4, label = "报告论文" }] }
facts.presented_paper = { type = "bool", label = "报告论文" }

[kinds.award]
label = "获奖"
article = "测试细则第5条"
category = "professional"
formula = { type = "table", keys = ["grade"], rows = [
  { grade = "first", hours = 60 },
  { grade = "second", hours = 30 },
] }
facts.grade = { type = "enum", label = "等级", values = { first = "一等奖", second = "二等奖" } }

[kinds.degree]
label = "学位"
article = "测试办法第十一条（六）"
category = "professional"
formula = { type = "completes_year" }

[[caps]]
id = "conference_year"
label = "学术会议"
per = "year"
max = 30
kinds = ["conference"]
article = "测试办法第十一条（三）"
"""


def write(directory: Path, text: str, name: str = "testland-2026.toml") -> Path:
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_a_valid_file_loads_into_a_rule_set(tmp_path):
    rule_sets = load_rule_sets(write(tmp_path, VALID))
    rule_set = rule_sets["testland-2026"]
    assert [cap.id for cap in rule_set.caps_for("conference")] == ["conference_year"]
    assert rule_set.kinds["award"].formula.hours == {("first",): 60, ("second",): 30}


def test_shipped_rule_sets_load_and_validate():
    assert set(load_rule_sets(DATA_DIR)) == {"hubei-2026", "hunan-2026"}
    assert default_rule_sets() is default_rule_sets()  # read once per process


@pytest.mark.parametrize(("old", "new", "message"), [
    pytest.param('type = "fixed"', 'type = "fixd"',
                 "testland-2026.toml：kinds.conference.formula.type：未知的公式类型 'fixd'"
                 "（可用：fixed、actual、multiple、table、completes_year）", id="unknown formula type"),
    pytest.param('article = "测试办法第十一条（三）"\ncategory', 'category',
                 "testland-2026.toml：kinds.conference：缺少 article", id="kind without an article"),
    pytest.param('kinds = ["conference"]', 'kinds = ["conferense"]',
                 "testland-2026.toml：caps.conference_year.kinds：上限适用于未知的学时类型 'conferense'",
                 id="cap on an unknown kind"),
    pytest.param('kinds = ["conference"]', 'kinds = ["degree"]',
                 "testland-2026.toml：caps.conference_year.kinds：学时类型 'degree' 视为完成全年学时，不能再设上限",
                 id="cap on a kind that completes the year"),
    pytest.param('per = "year"', 'per = "day"',
                 "testland-2026.toml：caps.conference_year.kinds：按天的上限需要学时类型 'conference' "
                 "设置 span（起止日期）",
                 id="per-day cap on a kind without dates"),
    pytest.param('per = "year"', 'per = "month"',
                 "testland-2026.toml：caps.conference_year.per：未知的上限周期 'month'（可用：declaration、day、year）",
                 id="unknown cap period"),
    pytest.param('max = 30', 'max = 0', "testland-2026.toml：caps.conference_year.max：应为正数，而不是 0",
                 id="cap of zero"),
    pytest.param('fact = "presented_paper"', 'fact = "paper"',
                 "testland-2026.toml：kinds.conference.formula.bonuses.0.fact：引用了未定义的申报信息 'paper'"
                 "（已定义：presented_paper）", id="bonus on an undefined fact"),
    pytest.param('facts.presented_paper = { type = "bool"', 'facts.presented_paper = { type = "enum"',
                 "testland-2026.toml：kinds.conference.facts.presented_paper：缺少 values", id="enum without values"),
    pytest.param('facts.presented_paper = { type = "bool"', 'facts.presented_paper = { type = "boolean"',
                 "testland-2026.toml：kinds.conference.facts.presented_paper.type：未知的申报信息类型 'boolean'"
                 "（可用：int、decimal、bool、enum、date、text）", id="unknown fact type"),
    pytest.param('{ grade = "second", hours = 30 }', '{ grade = "first", hours = 30 }',
                 "testland-2026.toml：kinds.award.formula.rows.1：与前面的行重复：first", id="duplicate table row"),
    pytest.param('  { grade = "second", hours = 30 },\n', '',
                 "testland-2026.toml：kinds.award.formula.rows：缺少取值组合 second 的学时（每种组合都要有一行）",
                 id="table missing a combination"),
    pytest.param('{ grade = "second", hours = 30 }', '{ grade = "third", hours = 30 }',
                 "testland-2026.toml：kinds.award.formula.rows.1.grade：'third' 不是申报信息 'grade' 的取值"
                 "（可用：first、second）", id="table row outside the enum"),
    pytest.param('category = "professional"\nformula = { type = "completes_year" }',
                 'category = "vocational"\nformula = { type = "completes_year" }',
                 "testland-2026.toml：kinds.degree.category：未知的科目类别 'vocational'（可用：public、professional）",
                 id="unknown category"),
    pytest.param('category = "professional"\nformula = { type = "completes_year" }',
                 'formula = { type = "completes_year" }',
                 "testland-2026.toml：kinds.degree：category（固定科目）与 category_fact（由申报信息决定科目）"
                 "必须且只能填写一个",
                 id="kind without a category"),
    pytest.param('label = "学位"', 'label = "学位"\nartcle = "x"',
                 "testland-2026.toml：kinds.degree：无法识别的键 artcle", id="misspelt key"),
    pytest.param('minimum = 60', 'minimum = 61',
                 "testland-2026.toml：categories：各科目最低学时之和 91 超过了年度总学时 90", id="minimums over total"),
    pytest.param('id = "testland-2026"', 'id = "testland-2025"',
                 "testland-2026.toml：id：规则集编号应为“地区-年份”，即 testland-2026，而不是 'testland-2025'",
                 id="id not region-year"),
    pytest.param('[kinds.degree]', '[kinds.Degree]',
                 "testland-2026.toml：kinds.Degree：编号 'Degree' 应以小写字母开头，只含小写字母、数字和下划线",
                 id="kind id not an identifier"),
    pytest.param('title = "测试办法"', 'title = "测试办法"\nuntil = 2025',
                 "testland-2026.toml：until：不能小于 2026", id="until before year"),
])
def test_broken_rule_file_is_refused_naming_file_entry_and_fault(tmp_path, old, new, message):
    assert old in VALID
    write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(tmp_path)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("addition", "message"), [
    pytest.param('[kinds.training]\nlabel = "培训"\narticle = "第1条"\ncategory = "public"\n'
                 'formula = { type = "actual", fact = "hours" }\nfacts.hours = { type = "decimal", label = "学时" }\n',
                 "testland-2026.toml：kinds.training.formula.fact：公式用到的申报信息 'hours' 必须设置 min = 0 或更大",
                 id="formula on a fact that may be negative"),
    pytest.param('[kinds.training]\nlabel = "培训"\narticle = "第1条"\ncategory = "public"\n'
                 'formula = { type = "multiple", fact = "days", factor = 8, factor_fact = "days" }\n'
                 'facts.days = { type = "int", label = "天数", min = 1 }\n',
                 "testland-2026.toml：kinds.training.formula：multiple 公式必须且只能填写 factor（固定倍数）"
                 "或 factor_fact（申报的倍数）之一", id="multiple with two factors"),
    pytest.param('[kinds.training]\nlabel = "培训"\narticle = "第1条"\ncategory_fact = "topic"\n'
                 'formula = { type = "fixed", hours = 8 }\n'
                 'facts.topic = { type = "enum", label = "类别", values = { public = "公需", art = "艺术" } }\n',
                 "testland-2026.toml：kinds.training.category_fact：申报信息 'topic' 含有未知的科目类别：art",
                 id="category fact with a value that is no category"),
    pytest.param('[kinds.training]\nlabel = "培训"\narticle = "第1条"\ncategory = "public"\n'
                 'formula = { type = "fixed", hours = 8 }\n'
                 'conditions = [{ fact = "passed", at_least = 1, reason = "须合格" }]\n'
                 'facts.passed = { type = "bool", label = "合格" }\n',
                 "testland-2026.toml：kinds.training.conditions.0：bool 类型的条件只能用 equals",
                 id="numeric condition on a bool"),
    pytest.param('[kinds.training]\nlabel = "培训"\narticle = "第1条"\ncategory = "public"\n'
                 'formula = { type = "fixed", hours = 8 }\n'
                 'facts.days = { type = "int", label = "天数", min = 5, max = 1 }\n',
                 "testland-2026.toml：kinds.training.facts.days：最小值 5 大于最大值 1", id="range upside down"),
])
def test_broken_kind_is_refused_naming_file_entry_and_fault(tmp_path, addition, message):
    write(tmp_path, VALID.replace("[[caps]]", addition + "\n[[caps]]"))
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(tmp_path)
    assert str(caught.value).startswith(message)


def test_file_named_unlike_its_id_is_refused(tmp_path):
    write(tmp_path, VALID, name="testland-2027.toml")
    with pytest.raises(RuleSetError, match="testland-2027.toml：id：规则集编号 'testland-2026' 与文件名不符"):
        load_rule_sets(tmp_path)


def test_file_that_is_not_toml_is_refused(tmp_path):
    write(tmp_path, VALID + "\nthis is not toml\n")
    with pytest.raises(RuleSetError, match="testland-2026.toml：TOML 格式错误"):
        load_rule_sets(tmp_path)


def test_directory_without_rule_sets_is_refused(tmp_path):
    with pytest.raises(RuleSetError, match="没有任何规则集文件"):
        load_rule_sets(tmp_path)


# ---------------------------------------------------------------- choosing a rule set


def test_region_and_year_choose_the_rule_set():
    assert rule_set_for("hubei", 2026).id == "hubei-2026"
    assert rule_set_for("hunan", 2026).id == "hunan-2026"


def test_hubei_rules_stand_until_a_newer_version_while_hunan_notice_is_for_2026_only():
    assert rule_set_for("hubei", 2027).id == "hubei-2026"
    with pytest.raises(NoRuleSet, match="hunan"):
        rule_set_for("hunan", 2027)


@pytest.mark.parametrize(("region", "year"), [("hubei", 2025), ("jiangxi", 2026)])
def test_no_rule_set_before_the_first_version_or_for_another_region(region, year):
    with pytest.raises(NoRuleSet) as caught:
        rule_set_for(region, year)
    assert caught.value.status == 404


def test_newer_version_of_a_region_takes_over_from_its_year(tmp_path):
    write(tmp_path, VALID)
    write(tmp_path, VALID.replace("2026", "2028"), name="testland-2028.toml")
    rule_sets = load_rule_sets(tmp_path)
    assert [rule_set_for("testland", year, rule_sets).id for year in (2026, 2027, 2028, 2031)] == [
        "testland-2026", "testland-2026", "testland-2028", "testland-2028"]
