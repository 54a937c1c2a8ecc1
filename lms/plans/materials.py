"""年度工作材料报送 (admin manual 5.3): a competent department sends its yearly materials to the HR bureau above.

For a year the department adds materials (学习指南, 工作通知, other files), edits them (title, kind, note; files
added or removed) and downloads them; the HR bureaus above read them and see, for their subtree, which approved
departments have and have not submitted for the year. Every change writes an audit row; callers commit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from lms.accounts.models import User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.ledger.service import china_today
from lms.orgs.access import has_permission, require
from lms.orgs.models import HR_KINDS, Org, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission
from lms.plans import content, files
from lms.plans.models import MaterialKind, WorkMaterial, WorkMaterialFile

WHAT = "年度工作材料"


def bureau_above(department: Org) -> Org:
    """Return the HR bureau a department reports to: the nearest HR bureau above it."""
    ancestor = department.parent
    while ancestor is not None and ancestor.kind not in HR_KINDS:
        ancestor = ancestor.parent
    if ancestor is None:
        raise NotFound(f"{department.name}没有上级人社部门，无法报送。")
    return ancestor


def _fields(raw: dict) -> dict:
    try:
        kind = MaterialKind(str(raw.get("kind") or ""))
    except ValueError:
        raise InvalidInput({"kind": "请选择材料类型：学习指南、工作通知或其他材料。"}) from None
    return {"kind": kind, "title": content.check_title(raw.get("title")), "note": content.check_note(raw.get("note"))}


def _snapshot(material: WorkMaterial) -> dict:
    return {"year": material.year, "kind": material.kind.value, "title": material.title,
            "files": [f.filename for f in material.files]}


def _store(material: WorkMaterial, checked: list) -> list[str]:
    stored = files.store_checked(f"materials/{material.id}", checked)
    for key, file in stored:
        db.session.add(WorkMaterialFile(material_id=material.id, key=key, filename=file.filename,
                                        content_type=file.content_type, size_bytes=file.size))
    db.session.flush()
    db.session.expire(material, ["files"])
    return [key for key, _ in stored]


def submit(actor: User, raw: dict, uploads: list[files.Upload]) -> tuple[WorkMaterial, list[str]]:
    """Add a material of the actor's department for a year, with at least one file; return it and the keys stored."""
    department = require(actor, Permission.SUBMIT_MATERIALS)
    if not department.is_active:
        raise NotAllowed(f"{department.name}尚未通过审核或已停用，不能报送。")
    year = content.check_year(raw.get("year"), china_today())
    fields = _fields(raw)
    if not uploads:
        raise InvalidInput({files.FIELD: "请上传要报送的材料文件（PDF、Word、Excel 或图片）。"})
    checked = files.check_uploads(uploads, 0, WHAT)
    material = WorkMaterial(department_id=department.id, bureau_id=bureau_above(department).id, year=year,
                            submitted_by_id=actor.id, **fields)
    db.session.add(material)
    db.session.flush()
    keys = _store(material, checked)
    record(actor, "material.submit", object_type="work_material", object_id=material.id,
           label=f"{department.name}：{year}年{material.kind.label}“{material.title}”", org=department,
           after=_snapshot(material))
    return material, keys


def edit(actor: User, material_id: Any, raw: dict, uploads: list[files.Upload],
         remove_file_ids: Any = ()) -> tuple[WorkMaterial, list[str]]:
    """Change a material of the actor's department: its title, kind and note; add files, remove files."""
    department = require(actor, Permission.SUBMIT_MATERIALS)
    material = _locked(material_id)
    if material is None or material.department_id != department.id:
        raise NotFound("材料不存在或不属于本单位。")
    fields = _fields(raw)
    remove = {str(key) for key in (remove_file_ids or ())}
    staying = [f for f in material.files if str(f.id) not in remove]
    if not staying and not uploads:
        raise InvalidInput({files.FIELD: "材料至少要保留或上传一个文件。"})
    checked = files.check_uploads(uploads, len(staying), WHAT)
    before = _snapshot(material)
    for item in material.files:
        if str(item.id) in remove:
            db.session.delete(item)  # the stored object stays: the audit row names it and a backup may need it
    for name, value in fields.items():
        setattr(material, name, value)
    material.updated_at = utcnow()
    db.session.flush()
    db.session.expire(material, ["files"])
    keys = _store(material, checked)
    record(actor, "material.edit", object_type="work_material", object_id=material.id,
           label=f"{department.name}：{material.year}年{material.kind.label}“{material.title}”", org=department,
           before=before, after=_snapshot(material))
    return material, keys


def _locked(material_id: Any) -> WorkMaterial | None:
    try:
        key = int(material_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(sa.select(WorkMaterial).where(WorkMaterial.id == key).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def may_view(actor: User, material: WorkMaterial) -> bool:
    """The department's own admins (who submit) and the HR bureaus above it."""
    return (has_permission(actor, Permission.SUBMIT_MATERIALS, material.department)
            or has_permission(actor, Permission.VIEW_MATERIALS, material.department))


def material_for(actor: User, material_id: Any) -> WorkMaterial:
    """Return a material the actor may read, or 404."""
    try:
        material = db.session.get(WorkMaterial, int(material_id))
    except (TypeError, ValueError):
        material = None
    if material is None or not may_view(actor, material):
        raise NotFound("材料不存在或不在本单位管辖范围内。")
    return material


def file_of(material: WorkMaterial, file_id: Any) -> WorkMaterialFile:
    for item in material.files:
        if str(item.id) == str(file_id):
            return item
    raise NotFound("文件不存在。")


def own_materials(actor: User, year: Any = None) -> list[WorkMaterial]:
    """The actor's department's materials, newest year first."""
    department = require(actor, Permission.SUBMIT_MATERIALS)
    query = (sa.select(WorkMaterial).where(WorkMaterial.department_id == department.id)
             .options(selectinload(WorkMaterial.files))
             .order_by(WorkMaterial.year.desc(), WorkMaterial.submitted_at.desc()))
    if year not in (None, ""):
        query = query.where(WorkMaterial.year == _year(year))
    return list(db.session.scalars(query))


def _year(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidInput({"year": "年度应为整数。"}) from None


def overview(actor: User, year: Any = None) -> dict:
    """For a year, every approved, active department of the bureau's subtree with its materials (or none)."""
    home = require(actor, Permission.VIEW_MATERIALS)
    year = _year(year) if year not in (None, "") else china_today().year
    departments = list(db.session.scalars(
        sa.select(Org).where(Org.kind == OrgKind.DEPARTMENT, Org.path.startswith(home.path),
                             Org.status == ReviewStatus.APPROVED, Org.disabled_at.is_(None)).order_by(Org.name)))
    materials = list(db.session.scalars(
        sa.select(WorkMaterial).where(WorkMaterial.year == year,
                                      WorkMaterial.department_id.in_([d.id for d in departments]))
        .options(selectinload(WorkMaterial.files)).order_by(WorkMaterial.submitted_at)))
    by_department: dict[int, list[WorkMaterial]] = {}
    for material in materials:
        by_department.setdefault(material.department_id, []).append(material)
    rows = [{"department": d, "materials": by_department.get(d.id, [])} for d in departments]
    return {"year": year, "rows": rows, "submitted": sum(1 for r in rows if r["materials"]),
            "missing": sum(1 for r in rows if not r["materials"])}
