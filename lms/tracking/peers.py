"""Evidence across people, judged when a playback opens (docs/tracking-protocol.md §5, issue 16).

``peers.lua`` records the opener behind its address and on its device and returns everyone seen there within the
window; ``judge`` turns that into events, for the opener's session and for the other sessions it implicates;
``evidence.lua`` adds them to each session (in that person's own keys). The rules, in short:

- an address is a workplace before it is a cheat's: accounts of an organisation studying from an address known
  as its own (registered, or learned from its people, ``lms.addresses``) are not evidence at all, and many
  accounts behind an unknown address are weak evidence (``shared_address``) that never holds a session alone;
- accounts of more than ``address_max_orgs`` organisations that share no known address, each alone (or nearly)
  behind the address, are what one person studying for strangers' accounts looks like (``address_mixed_orgs``);
- a device id is a random id kept in one browser's storage: more than ``device_max_accounts`` accounts on it
  within ``device_window_s`` is evidence whatever their addresses (``shared_device``), and the same courseware
  played by several of them one after another more so (``device_relay``);
- browsers alike in every coarse property (the device's traits) are never trusted alone: behind one address
  that is not the person's workplace, several accounts playing the same courseware on such browsers under
  different device ids add a little (``similar_device``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lms.tracking.settings import TrackingSettings

TRAIT_NAMES = ("screen", "tz", "lang", "platform", "cores", "memory", "touch")


@dataclass(frozen=True)
class OrgFacts:
    """The opener's organisation: its id and tree path (None for a person the database does not know)."""

    id: int | None
    path: str = ""


def device_traits(raw) -> str:
    """Return the coarse browser properties a page reports as one short canonical string ('' if none)."""
    if not isinstance(raw, dict):
        return ""
    parts = []
    for name in TRAIT_NAMES:
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        parts.append(f"{name}={str(value)[:40]}")
    return ";".join(parts)


def fingerprint(traits: str, user_agent: str) -> str:
    """Hash the coarse properties with the agent: alike browsers share it, which is why it is never enough alone."""
    if not traits:
        return ""
    return hashlib.sha256(f"{user_agent}|{traits}".encode()).hexdigest()[:16]


def member(user_id: int, sid: str, courseware_id: int, org: OrgFacts, device: str, fp: str) -> dict:
    """What peers.lua keeps of one opener."""
    return {"u": int(user_id), "s": sid, "c": int(courseware_id), "o": org.id, "p": org.path, "d": device, "f": fp}


def _org_key(peer: dict):
    return peer.get("o") if peer.get("o") is not None else f"person:{peer['u']}"


def judge(settings: TrackingSettings, me: dict, *, address: str, at_address: list[dict], on_device: list[dict],
          at_home, share_an_address) -> dict[tuple[int, str], list[list]]:
    """Return the events to add per (user id, sid): [type, values, once-key] each.

    ``at_home(peer)`` tells whether the address is the peer's workplace; ``share_an_address(org_a, org_b)``
    whether two organisations have a known address in common.
    """
    found: dict[tuple[int, str], list[list]] = {}

    def add(peer: dict, etype: str, values: dict, once: str) -> None:
        found.setdefault((peer["u"], peer["s"]), []).append([etype, values, once])

    # -- the device: one browser's storage, whatever the address
    others = [p for p in on_device if p["u"] != me["u"]]
    if me.get("d") and len(others) + 1 > settings.device_max_accounts:
        values = {"accounts": len(others) + 1, "device": me["d"]}
        for peer in [me, *others]:
            add(peer, "shared_device", values, f"dev:{me['d']}")
        relay = [p for p in others if p["c"] == me["c"]]
        if relay:
            values = {"accounts": len(relay) + 1, "device": me["d"], "courseware_id": me["c"]}
            for peer in [me, *relay]:
                add(peer, "device_relay", values, f"relay:{me['d']}:{me['c']}")

    # -- the address: a workplace's unless the accounts behind it have nothing in common
    if address:
        strangers = [p for p in at_address if not at_home(p)]
        mine_here = me in strangers or any(p["u"] == me["u"] for p in strangers)
        if mine_here and len(strangers) > settings.address_max_accounts:
            add(me, "shared_address", {"accounts": len(strangers), "ip": address}, f"addr:{address}")
        groups = _groups(strangers, share_an_address)
        small = [g for g in groups if len(g) <= settings.address_max_accounts]
        if len(small) > settings.address_max_orgs:
            values = {"organisations": len(small), "accounts": len(strangers), "ip": address}
            for group in small:
                for peer in group:
                    add(peer, "address_mixed_orgs", values, f"mixed:{address}")
        if mine_here and me.get("f"):
            alike = [p for p in strangers if p["u"] != me["u"] and p.get("f") == me["f"] and p["c"] == me["c"]
                     and p.get("d") != me.get("d")]
            if alike:
                add(me, "similar_device", {"accounts": len(alike) + 1, "ip": address, "courseware_id": me["c"]},
                    f"fp:{address}:{me['c']}")
    return found


def _groups(peers: list[dict], share_an_address) -> list[list[dict]]:
    """Group accounts by organisation, joining organisations that have a known address in common."""
    by_org: dict = {}
    for peer in peers:
        by_org.setdefault(_org_key(peer), []).append(peer)
    keys = list(by_org)
    parent = {k: k for k in keys}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if isinstance(a, int) and isinstance(b, int) and share_an_address(a, b):
                parent[root(a)] = root(b)
    grouped: dict = {}
    for key in keys:
        grouped.setdefault(root(key), []).extend(by_org[key])
    return list(grouped.values())
