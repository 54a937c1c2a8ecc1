"""The named evidence of a declaration: one upload slot per material the rule set's kind asks for, the check that a
submission has every required one, and the reviewer's checklist of which file is which.

The rule set says what a kind needs (``Kind.materials``, from the texts' lists of 证明材料); this module only maps
uploads to those names. Files the learner adds beyond them are kept as "其他材料" (``material`` None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from lms.core.errors import InvalidInput
from lms.declarations.evidence import EvidenceSettings
from lms.declarations.models import Declaration, DeclarationEvidence
from lms.rules import FactsError, check_facts, default_rule_sets
from lms.rules.materials import MaterialsCheck, check_materials, missing_message, option_text, when_text
from lms.rules.model import Kind, Material

Upload = tuple[BinaryIO, str | None]
FIELD_PREFIX = "evidence-"  # the form's file input of material ``m`` is ``evidence-m``; other files are ``evidence``


def read_uploads(request: Request, while_reading: Callable[[], None] | None = None,
                 ) -> tuple[list[Upload], dict[str, list[Upload]]]:
    """Read a declaration's files as the form and the API send them — ``evidence`` (其他材料) and one
    ``evidence-<material>`` field per named slot — under a request limit raised for this one request.

    ``while_reading`` runs inside that limit too (the form's CSRF check reads the body).
    """
    settings = EvidenceSettings.current()
    # Room for every allowed file and the form's other fields; anything larger is refused before it is read.
    request.max_content_length = settings.evidence_max_files * settings.evidence_max_bytes + 64 * 1024
    try:
        others = request.files.getlist("evidence")
        named = {field.removeprefix(FIELD_PREFIX): request.files.getlist(field)
                 for field in request.files if field.startswith(FIELD_PREFIX)}
        request.form  # noqa: B018 - read now, inside the raised limit
        if while_reading is not None:
            while_reading()
    except RequestEntityTooLarge:
        raise InvalidInput({"evidence": f"上传内容超过上限：每份申报最多 {settings.evidence_max_files} 个文件，"
                                        f"每个不超过 {settings.max_size_text}。"}) from None
    given = {material: _given(files) for material, files in named.items()}
    return _given(others), {material: files for material, files in given.items() if files}


def _given(files) -> list[Upload]:
    return [(file.stream, file.filename) for file in files if file and file.filename]


@dataclass(frozen=True)
class Slot:
    """One upload input of the form: a material and whether every declaration of the kind needs it."""

    material: Material
    always: bool

    @property
    def field(self) -> str:
        return FIELD_PREFIX + self.material.id


def form_slots(kind: Kind) -> list[Slot]:
    """The kind's materials as upload inputs, in the rule set's order."""
    if kind.materials is None:
        return []
    options = kind.materials.options
    return [Slot(material, all(any(material.id in slot for slot in option.slots) for option in options))
            for material in kind.materials.items.values()]


def form_hints(kind: Kind) -> list[str]:
    """What to provide, one line per option of the text ("提供以下材料之一"), with when each applies."""
    if kind.materials is None:
        return []
    lines = []
    for option in kind.materials.options:
        when = when_text(kind, option)
        lines.append((f"{when}：" if when else "") + option_text(kind, option))
    return lines


def check_named(kind: Kind, facts: Mapping[str, Any], named: Mapping[str, list[Upload]]) -> MaterialsCheck:
    """Refuse materials the kind does not name, and a submission without every required one (Chinese message)."""
    known = kind.materials.items if kind.materials else {}
    unknown = sorted(set(named) - set(known))
    if unknown:
        raise InvalidInput({"evidence": f"此类申报没有这些材料项：{'、'.join(unknown)}。"})
    try:
        values = check_facts(kind, facts)
    except FactsError:
        values = {}
    check = check_materials(kind, values, {material for material, files in named.items() if files})
    if not check.complete:
        fields = {"evidence": missing_message(kind, check)}
        for slot in check.missing:
            for material in slot:
                fields[FIELD_PREFIX + material.id] = f"请上传{material.label}。"
        raise InvalidInput(fields)
    return check


@dataclass(frozen=True)
class ChecklistRow:
    material: Material
    files: list[DeclarationEvidence]
    needed: bool  # in the option the declaration is measured against


@dataclass(frozen=True)
class Checklist:
    """What the reviewer sees: each material with its files, the other files, and whether anything is missing."""

    rows: list[ChecklistRow]
    others: list[DeclarationEvidence]
    missing_message: str | None
    hints: list[str]


def checklist(declaration: Declaration) -> Checklist:
    """Sort a declaration's files under the materials its kind names and check them against the rule set."""
    rule_set = default_rule_sets().get(declaration.rule_set_id)
    kind = rule_set.kinds.get(declaration.kind) if rule_set else None
    if kind is None or kind.materials is None:
        return Checklist([], list(declaration.evidence), None, [])
    by_material: dict[str | None, list[DeclarationEvidence]] = {}
    for item in declaration.evidence:
        key = item.material if item.material in kind.materials.items else None
        by_material.setdefault(key, []).append(item)
    try:
        values = check_facts(kind, declaration.facts)
    except FactsError:
        values = {}
    check = check_materials(kind, values, {key for key in by_material if key})
    needed = {item_id for slot in (check.option.slots if check.option else ()) for item_id in slot}
    rows = [ChecklistRow(material, by_material.get(material.id, []), material.id in needed)
            for material in kind.materials.items.values()]
    return Checklist(rows, by_material.get(None, []), None if check.complete else missing_message(kind, check),
                     form_hints(kind))
