"""Who reviews, step by step: the rule set's review chain laid onto the organisation tree.

The rule set says the steps (``[review]`` of ``lms/rules/data/<region>-<year>.toml``); the tree says which
organisation does each. The result is fixed on a declaration (or a declared training) when it is submitted, so a
later move in the tree never changes who finishes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lms.core.errors import NotFound
from lms.orgs.models import HR_KINDS, Org, OrgKind
from lms.rules.model import ReviewStepRule, RuleSet


@dataclass(frozen=True)
class PlannedStep:
    """One step of a chain with the organisation that will decide it."""

    reviewer: str
    label: str
    org: Org


def _nearest(org: Org, kinds) -> Org | None:
    ancestor = org.parent
    while ancestor is not None and ancestor.kind not in kinds:
        ancestor = ancestor.parent
    return ancestor


def _province(org: Org) -> Org | None:
    top = org if org.kind == OrgKind.PROVINCE_HR else None
    ancestor = org.parent
    while ancestor is not None:
        if ancestor.kind == OrgKind.PROVINCE_HR:
            top = ancestor
        ancestor = ancestor.parent
    return top


def _reviewer_org(step: ReviewStepRule, first: Org, previous: Org) -> Org | None:
    if step.reviewer == "unit":
        return first
    if step.reviewer == "department":
        department = _nearest(previous, {OrgKind.DEPARTMENT})
        if department is not None and step.when == "provincial":
            bureau = _nearest(department, HR_KINDS)
            return department if bureau is not None and bureau.kind == OrgKind.PROVINCE_HR else None
        return department
    if step.reviewer == "hr":
        return _nearest(previous, HR_KINDS)
    if step.reviewer == "province_hr":
        return _province(previous)
    return _nearest(previous, {OrgKind.DEPARTMENT, *HR_KINDS})  # "above"


def chain_for(rule_set: RuleSet, first: Org) -> list[PlannedStep]:
    """Lay the rule set's chain onto the tree from the organisation that takes the unit step.

    A central unit (``reviews_own_hours``, 中央在鄂/驻湘单位) follows ``central_unit_steps``; a step whose
    reviewer the tree lacks (no department between a unit and its bureau, or a 市州 department under Hunan's
    ``when = "provincial"``) is skipped. A chain that would end at the unit alone although the rule set asks for
    more is refused: the declaration would have nobody above to check it.
    """
    rules = rule_set.review.central_unit_steps if first.reviews_own_hours else rule_set.review.steps
    planned: list[PlannedStep] = []
    previous = first
    for step in rules:
        org = _reviewer_org(step, first, previous)
        if org is None or any(p.org.id == org.id for p in planned):
            continue
        planned.append(PlannedStep(step.reviewer, step.label, org))
        previous = org
    if len(planned) < 2 <= len(rules):
        raise NotFound(f"{first.name}没有上级主管部门或人社部门，无法按{rule_set.region_label}的审核流程复审，"
                       "请联系管理员。")
    return planned
