"""第十七条 beyond the grant itself: reasons outside the text's list ("伤、病、孕等"), the unit's certificate attached
to a deferral, and the note a failed year carries into title applications ("无正当理由不参加补学的……延长相应年限").

Whether the list is open and what the note says are settings of the rule set (``[deferral]``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, BinaryIO

import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotFound
from lms.declarations import evidence
from lms.declarations.models import Deferral, DeferralReason
from lms.extensions import db
from lms.ledger import service as ledger
from lms.orgs.access import has_permission, require
from lms.orgs.permissions import Permission
from lms.rules import RuleSet

MAX_NOTE_CHARS = 500
Upload = tuple[BinaryIO, str | None]


def reason_choices(rule_set: RuleSet | None = None) -> list[DeferralReason]:
    """The reasons a unit may choose: the text's three, and "其他特殊原因" where the rule set keeps the list open."""
    open_list = rule_set is None or (rule_set.deferral is not None and rule_set.deferral.other_reasons)
    return [reason for reason in DeferralReason if open_list or reason != DeferralReason.OTHER]


def check_attachment(rule_set: RuleSet, reason_kind: str, attachment: Upload | None) -> evidence.CheckedFile | None:
    """Refuse another reason where the list is closed, or without the unit's certificate; check the file given."""
    if reason_kind == DeferralReason.OTHER.value:
        if not (rule_set.deferral and rule_set.deferral.other_reasons):
            raise InvalidInput({"reason_kind": f"{rule_set.title}只列明伤、病、孕，不能以其他原因办理顺延补学。"})
        if attachment is None:
            raise InvalidInput({"attachment": "以其他特殊原因办理顺延补学的，须上传单位出具的证明"
                                              f"（{rule_set.deferral.article}“由所在单位出具证明”）。"})
    if attachment is None:
        return None
    return evidence.check_file(attachment[0], attachment[1], evidence.EvidenceSettings.current())


def store_attachment(deferral: Deferral, checked: evidence.CheckedFile) -> str:
    """Keep the certificate in object storage and on the deferral; return the key (the caller unstores on failure)."""
    key = f"deferrals/{deferral.user_id}/{secrets.token_hex(12)}{checked.extension}"
    deferral.attachment_key, deferral.attachment_filename = key, checked.filename
    deferral.attachment_content_type, deferral.attachment_size = checked.content_type, checked.size
    db.session.flush()
    evidence.put(key, checked)
    return key


def can_read_attachment(user: User, deferral: Deferral) -> bool:
    """The person, their unit's deferral admins, and reviewers of declarations above the unit."""
    org = deferral.user.org
    return (user.id == deferral.user_id or has_permission(user, Permission.GRANT_DEFERRALS, org)
            or has_permission(user, Permission.REVIEW_DECLARATIONS, org))


def deferral_for_attachment(user: User, deferral_id: int) -> Deferral:
    deferral = db.session.get(Deferral, deferral_id)
    if deferral is None or deferral.attachment_key is None or not can_read_attachment(user, deferral):
        raise NotFound("证明材料不存在或无权查看。")
    return deferral


def record_title_extension(actor: User, deferral_id: Any, reason: Any, today: dt.date | None = None) -> Deferral:
    """Record on a failed deferred year that the person did not make it up without good reason (第十七条).

    Only the unit's deferral admin, only once, and only after the deferral ended with the year still short.
    """
    today = today or ledger.china_today()
    unit = require(actor, Permission.GRANT_DEFERRALS, message="只有用人单位管理员可以记录未参加补学。")
    deferral = db.session.scalar(sa.select(Deferral).where(Deferral.id == deferral_id).with_for_update()) \
        if str(deferral_id).isdigit() else None
    if deferral is None or deferral.user.org_id != unit.id:
        raise NotFound("本单位没有这条顺延补学记录。")
    if deferral.title_extension_at is not None:
        raise Conflict(f"{deferral.user.name} {deferral.year} 年度已记录无正当理由未参加补学。")
    if today <= deferral.ends_on or ledger.year_summary(deferral.user, deferral.year).met:
        raise Conflict(f"{deferral.user.name} {deferral.year} 年度的顺延期未满或学时已完成，不能记录未参加补学。")
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput({"reason": "请填写未参加补学、且无正当理由的情况。"})
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput({"reason": f"情况说明最多 {MAX_NOTE_CHARS} 字。"})
    deferral.title_extension_reason, deferral.title_extension_by_id = text, actor.id
    deferral.title_extension_at = utcnow()
    db.session.flush()
    audit.record(actor, "deferral.title_extension", object_type="deferral", object_id=deferral.id,
                 label=f"{deferral.user.name} {deferral.year} 年度", org=deferral.user.org, reason=text)
    return deferral


def title_note(deferral: Deferral) -> str | None:
    """What the person's year says for a title application, once the unit recorded it; None otherwise."""
    if deferral.title_extension_at is None:
        return None
    rule_set = ledger.rule_set_of(deferral.user, deferral.year)
    note = rule_set.deferral.title_note if rule_set.deferral and rule_set.deferral.title_note else \
        "无正当理由不参加补学，申报职称时应延长相应年限"
    return f"{deferral.year} 年度：{note}"
