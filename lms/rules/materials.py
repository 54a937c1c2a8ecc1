"""Which evidence a declaration of a kind needs (the texts' lists of 证明材料), and whether what was given suffices."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from lms.rules.model import FactValue, Kind, Material, MaterialOption


@dataclass(frozen=True)
class MaterialsCheck:
    """The options that apply to the facts, the one closest to complete, and what it still lacks.

    ``option`` is None only for a kind that names no materials.
    """

    applicable: tuple[MaterialOption, ...]
    option: MaterialOption | None
    missing: tuple[tuple[Material, ...], ...]  # per missing slot, the materials any one of which would do

    @property
    def complete(self) -> bool:
        return not self.missing


def applicable_options(kind: Kind, values: Mapping[str, FactValue]) -> tuple[MaterialOption, ...]:
    """The evidence options whose conditions the declared facts meet (the loader ensures at least one)."""
    if kind.materials is None:
        return ()
    return tuple(option for option in kind.materials.options
                 if all(values.get(when.fact) == when.equals for when in option.when))


def check_materials(kind: Kind, values: Mapping[str, FactValue], provided: Collection[str]) -> MaterialsCheck:
    """Tell whether the materials provided (ids of the slots files were uploaded in) satisfy an applicable option."""
    options = applicable_options(kind, values)
    if not options:
        return MaterialsCheck((), None, ())
    items = kind.materials.items
    best, best_missing = None, None
    for option in options:
        missing = tuple(tuple(items[item_id] for item_id in slot) for slot in option.slots
                        if not any(item_id in provided for item_id in slot))
        if best_missing is None or len(missing) < len(best_missing):
            best, best_missing = option, missing
    return MaterialsCheck(options, best, best_missing)


def slot_text(slot: tuple[Material, ...] | tuple[str, ...], kind: Kind | None = None) -> str:
    """Write one slot as a person reads it: 结业证书, or 培训通知（或培训签到表、培训课程表之一）."""
    labels = [m.label if isinstance(m, Material) else kind.materials.items[m].label for m in slot]
    return labels[0] if len(labels) == 1 else f"{labels[0]}（或{'、'.join(labels[1:])}之一）"


def option_text(kind: Kind, option: MaterialOption) -> str:
    """Write one option: 培训通知、培训课程表、培训签到表."""
    return "、".join(slot_text(slot, kind) for slot in option.slots)


def when_text(kind: Kind, option: MaterialOption) -> str:
    """Write when an option applies: 在会上报告论文：是."""
    parts = []
    for when in option.when:
        fact = kind.facts[when.fact]
        value = ("是" if when.equals else "否") if fact.type == "bool" else fact.values[when.equals]
        parts.append(f"{fact.label}：{value}")
    return "，".join(parts)


def missing_message(kind: Kind, check: MaterialsCheck) -> str:
    """The Chinese refusal naming what is missing, and the other options when the text offers several."""
    missing = "；".join(slot_text(slot) for slot in check.missing)
    message = f"缺少证明材料：{missing}（{kind.materials.article}）。"
    if len(check.applicable) > 1:
        choices = "；".join(f"（{index}）{option_text(kind, option)}"
                            for index, option in enumerate(check.applicable, start=1))
        message += f"可提供以下材料之一：{choices}。"
    return message
