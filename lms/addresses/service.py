"""The rules of an organisation's known addresses (issue 16): registered with a reason, approved by the level above,
or learned from the organisation's own approved people; and the question the watch-time rules ask of them: "is this
address this person's workplace?" (``AddressBook``).

Many accounts studying from an address of their own organisation is not evidence of anything (docs/review.md).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from lms.accounts.models import User
from lms.addresses.models import AddressSource, AddressState, OrgAddress
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.validation import clean_text, text_problem
from lms.extensions import db
from lms.orgs.access import admin_org, has_permission, require
from lms.orgs.models import Org, ReviewStatus
from lms.orgs.permissions import Permission

REASON_MAX = 500
# A range wider than this is a carrier's, not an organisation's: it would make a whole city "at home".
NARROWEST_PREFIX = {4: 20, 6: 40}
BOOK_TTL_S = 30.0


# ------------------------------------------------------------------------------------------------ the book


@dataclass
class AddressBook:
    """Every approved address, for the watch-time rules: whose workplace an address is."""

    exact: dict[str, list[tuple[int, str, bool]]] = field(default_factory=dict)  # address → (org id, path, subtree)
    ranges: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int, str, bool]] = field(default_factory=list)
    by_org: dict[int, set[str]] = field(default_factory=dict)  # org id → its cidrs

    def owners(self, address: str) -> list[tuple[int, str, bool]]:
        """Return (org id, org path, covers subtree) of every organisation the address belongs to."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return []
        found = list(self.exact.get(str(ip), []))
        found += [(org_id, path, subtree) for network, org_id, path, subtree in self.ranges
                  if ip.version == network.version and ip in network]
        return found

    def at_home(self, address: str, org_id: int | None, org_path: str) -> bool:
        """Tell whether the address is the person's organisation's (or, registered for a subtree, an ancestor's)."""
        return any(owner == org_id or (subtree and org_path.startswith(path))
                   for owner, path, subtree in self.owners(address))

    def share_an_address(self, org_a: int | None, org_b: int | None) -> bool:
        return bool(self.by_org.get(org_a, set()) & self.by_org.get(org_b, set()))


def address_book() -> AddressBook:
    """Return this process's address book, rebuilt from the database every ``BOOK_TTL_S`` or after a change."""
    app = current_app._get_current_object()
    cached = app.extensions.get("lms.addresses.book")
    if cached is not None and time.monotonic() - cached[0] < BOOK_TTL_S:
        return cached[1]
    book = AddressBook()
    rows = db.session.execute(sa.select(OrgAddress.org_id, OrgAddress.cidr, OrgAddress.covers_subtree, Org.path)
                              .join(Org, Org.id == OrgAddress.org_id)
                              .where(OrgAddress.state == AddressState.APPROVED))
    for org_id, cidr, subtree, path in rows:
        network = ipaddress.ip_network(cidr)
        book.by_org.setdefault(org_id, set()).add(cidr)
        if network.num_addresses == 1:
            book.exact.setdefault(str(network.network_address), []).append((org_id, path, subtree))
        else:
            book.ranges.append((network, org_id, path, subtree))
    app.extensions["lms.addresses.book"] = (time.monotonic(), book)
    return book


def forget_book() -> None:
    current_app.extensions.pop("lms.addresses.book", None)


# ------------------------------------------------------------------------------------------------ learning


def learn_addresses(min_people: int, min_days: int, lookback_days: int, now: dt.datetime | None = None) -> int:
    """Record as an organisation's the addresses from which at least ``min_people`` of its approved people studied
    on at least ``min_days`` days of the last ``lookback_days``; return how many were new. No commit."""
    from lms.tracking.models import PlaybackSession  # tracking builds on addresses; imported at use

    since = (now or utcnow()) - dt.timedelta(days=lookback_days)
    day = sa.func.date(PlaybackSession.started_at)
    found = db.session.execute(
        sa.select(User.org_id, PlaybackSession.ip, sa.func.count(sa.distinct(PlaybackSession.user_id)),
                  sa.func.count(sa.distinct(day)))
        .join(User, User.id == PlaybackSession.user_id)
        .where(PlaybackSession.started_at >= since, PlaybackSession.ip != "", User.status == ReviewStatus.APPROVED)
        .group_by(User.org_id, PlaybackSession.ip)
        .having(sa.func.count(sa.distinct(PlaybackSession.user_id)) >= min_people,
                sa.func.count(sa.distinct(day)) >= min_days)).all()
    known = {(org_id, cidr): row for org_id, cidr, row in db.session.execute(
        sa.select(OrgAddress.org_id, OrgAddress.cidr, OrgAddress).where(OrgAddress.source == AddressSource.LEARNED))}
    added = 0
    for org_id, ip, people, days in found:
        try:
            cidr = str(ipaddress.ip_network(ip))
        except ValueError:
            continue
        row = known.get((org_id, cidr))
        if row is None:
            db.session.add(OrgAddress(org_id=org_id, cidr=cidr, source=AddressSource.LEARNED,
                                      state=AddressState.APPROVED, people=people, days=days, decided_at=utcnow(),
                                      reason=f"本单位 {people} 名已审核人员在 {days} 天内从该地址学习"))
            added += 1
        elif row.state == AddressState.APPROVED:
            row.people, row.days = people, days
    db.session.flush()
    if added:
        forget_book()
    return added


# ------------------------------------------------------------------------------------------------ registration


def parse_cidr(raw) -> str:
    """Normalise an address or CIDR range; refuse what is not one, or a range wider than an organisation's."""
    text = clean_text(raw).replace("／", "/")
    if not text:
        raise InvalidInput({"cidr": "请填写网络地址，如 202.103.24.68 或 202.103.24.0/24。"})
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput({"cidr": f"“{text[:50]}”不是有效的网络地址或地址段。"}) from None
    if network.prefixlen < NARROWEST_PREFIX[network.version]:
        raise InvalidInput({"cidr": f"地址段过大（最多 /{NARROWEST_PREFIX[network.version]}），"
                                    "请只登记本单位自己的出口地址。"})
    if not network.is_global:
        raise InvalidInput({"cidr": "请登记公网出口地址；内网地址（如 10.x、192.168.x）在服务器上看不到。"})
    return str(network)


def _reason(raw, label: str = "理由") -> str:
    reason = clean_text(raw)
    problem = text_problem(reason, label, REASON_MAX)
    if problem:
        raise InvalidInput({"reason": problem})
    return reason


def _deciding_org(address: OrgAddress) -> Org:
    """The level above the organisation decides its registration; the province decides its own."""
    return address.org.parent or address.org


def register_address(actor: User, cidr, reason, covers_subtree=False) -> OrgAddress:
    """Ask for an address of the actor's organisation to be known; the level above approves it. No commit."""
    org = require(actor, Permission.MANAGE_ADDRESSES)
    cidr = parse_cidr(cidr)
    reason = _reason(reason)
    if not isinstance(covers_subtree, bool):
        raise InvalidInput({"covers_subtree": "“适用于下级单位”应为是或否。"})
    clash = db.session.scalar(sa.select(OrgAddress).where(
        OrgAddress.org_id == org.id, OrgAddress.cidr == cidr,
        OrgAddress.state.in_([AddressState.PENDING, AddressState.APPROVED])))
    if clash is not None:
        raise Conflict(f"{cidr} 已登记（{clash.state.label}），无需重复登记。")
    address = OrgAddress(org_id=org.id, org=org, cidr=cidr, source=AddressSource.REGISTERED,
                         state=AddressState.PENDING, covers_subtree=covers_subtree, reason=reason,
                         requested_by_id=actor.id)
    db.session.add(address)
    db.session.flush()
    audit.record(actor, "address.register", object_type="org_address", object_id=address.id,
                 label=f"{org.name} {cidr}", org=org, reason=reason,
                 after={"cidr": cidr, "covers_subtree": covers_subtree, "state": AddressState.PENDING.value})
    return address


def _address(address_id) -> OrgAddress:
    address = db.session.get(OrgAddress, address_id) if isinstance(address_id, int) else None
    if address is None:
        raise NotFound("网络地址登记不存在。")
    return address


def decide_address(actor: User, address_id, approve, reason) -> OrgAddress:
    """Approve or refuse a pending registration of a direct sub-organisation (or, at the top, one's own)."""
    address = _address(address_id)
    deciding = _deciding_org(address)
    require(actor, Permission.MANAGE_ADDRESSES, deciding)
    if not isinstance(approve, bool):
        raise InvalidInput({"approve": "请选择通过或驳回。"})
    home = admin_org(actor)
    if home.id != deciding.id:
        raise NotAllowed(f"{address.org.name}的地址登记由{deciding.name}审核。")
    if address.requested_by_id == actor.id:
        raise NotAllowed("不能审核自己提交的登记，请由本单位另一名管理员审核。")
    reason = _reason(reason, "审核意见")
    if address.state != AddressState.PENDING:
        raise Conflict(f"该登记已{address.state.label}，不能再审核。")
    address.state = AddressState.APPROVED if approve else AddressState.REFUSED
    address.decided_by_id, address.decided_at, address.decision_reason = actor.id, utcnow(), reason
    audit.record(actor, "address.approve" if approve else "address.refuse", object_type="org_address",
                 object_id=address.id, label=f"{address.org.name} {address.cidr}", org=address.org, reason=reason,
                 before={"state": AddressState.PENDING.value}, after={"state": address.state.value})
    db.session.flush()
    forget_book()
    return address


def withdraw_address(actor: User, address_id, reason) -> OrgAddress:
    """Withdraw a registered or learned address of the actor's subtree (it no longer counts as a workplace's)."""
    address = _address(address_id)
    require(actor, Permission.MANAGE_ADDRESSES, address.org)
    reason = _reason(reason)
    if address.state not in (AddressState.PENDING, AddressState.APPROVED):
        raise Conflict(f"该登记已{address.state.label}。")
    before = address.state.value
    address.state, address.decided_by_id, address.decided_at = AddressState.WITHDRAWN, actor.id, utcnow()
    address.decision_reason = reason
    audit.record(actor, "address.withdraw", object_type="org_address", object_id=address.id,
                 label=f"{address.org.name} {address.cidr}", org=address.org, reason=reason,
                 before={"state": before}, after={"state": AddressState.WITHDRAWN.value})
    db.session.flush()
    forget_book()
    return address


@dataclass
class AddressLists:
    own: list[OrgAddress]
    to_decide: list[OrgAddress]


def addresses_of(actor: User) -> AddressLists:
    """The actor's organisation's addresses (every state), and the pending registrations it decides."""
    org = require(actor, Permission.MANAGE_ADDRESSES)
    own = db.session.scalars(sa.select(OrgAddress).where(OrgAddress.org_id == org.id)
                             .order_by(OrgAddress.created_at.desc(), OrgAddress.id.desc())).all()
    children = sa.select(Org.id).where(Org.parent_id == org.id)
    pending = OrgAddress.state == AddressState.PENDING
    deciding = OrgAddress.org_id.in_(children) if org.parent_id is not None else sa.or_(
        OrgAddress.org_id.in_(children), OrgAddress.org_id == org.id)
    to_decide = db.session.scalars(sa.select(OrgAddress).where(pending, deciding)
                                   .order_by(OrgAddress.created_at, OrgAddress.id)).all()
    return AddressLists(own=list(own), to_decide=[a for a in to_decide if has_permission(
        actor, Permission.MANAGE_ADDRESSES, _deciding_org(a))])
