"""Evidence across people (issue 16): addresses of an organisation, unrelated organisations, one device.

Driven through ``start_playback`` on the server clock the test moves, on both backends (fakeredis and Redis run the
same ``peers.lua`` and ``evidence.lua``); the organisations are real rows, so registered and learned addresses apply.
"""

from __future__ import annotations

import datetime as dt

from lms.accounts.models import Role
from lms.addresses import service as addresses
from lms.addresses.models import AddressSource, AddressState, OrgAddress
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.tracking import service
from lms.tracking.models import PlaybackSession
from lms.tracking.peers import OrgFacts
from tests.conftest import make_org, make_user
from tests.tracking import configure, media, synthetic_user_id

HOSPITAL_IP = "58.49.10.20"


def open_for(org, *, ip=HOSPITAL_IP, device=None, courseware_id=1, user_id=None, traits=None):
    user_id = user_id or synthetic_user_id()
    ack = service.start_playback(user_id, media(courseware_id), ip=ip, device=device or f"dev{user_id}x",
                                 org=OrgFacts(org.id, org.path), traits=traits).ack
    return user_id, ack


def events_of(user_id, sid):
    return [e["type"] for e in _redis_events(user_id, sid)]


def _redis_events(user_id, sid):
    import json
    store = service.get_store()
    return [json.loads(raw) for raw in store.redis.lrange(f"trk:{{{user_id}}}:s:{sid}:ev", 0, -1)]


def test_sixty_accounts_of_one_hospital_behind_one_unknown_address_are_never_held(app, tree):
    configure(app)
    acks = [open_for(tree.unit_a)[1] for _ in range(60)]
    assert not any(ack["held"] for ack in acks)
    # Weak evidence only (30 points), which never holds a session by itself.
    assert service.RISK_POLICY["shared_address"][1] < service.tracking_settings().hold_threshold


def test_accounts_at_an_address_of_their_own_organisation_leave_no_evidence(app, tree):
    configure(app)
    db.session.add(OrgAddress(org_id=tree.dept_a.id, cidr="58.49.10.0/24", source=AddressSource.REGISTERED,
                              state=AddressState.APPROVED, covers_subtree=True, reason="院区出口"))
    db.session.commit()
    opened = [open_for(tree.unit_a) for _ in range(8)]
    for user_id, ack in opened:
        assert "shared_address" not in events_of(user_id, ack["sid"])


def test_accounts_of_unrelated_organisations_behind_one_address_are_all_held(app, tree):
    configure(app)
    units = [make_org(OrgKind.UNIT, tree.dept_b) for _ in range(5)]
    opened = [open_for(unit, ip="61.183.5.6") for unit in units]
    clock_acks = [service.start_playback(uid, media(1), ip="61.183.5.6", device=f"dev{uid}x",
                                         org=OrgFacts(u.id, u.path), resume_sid=ack["sid"]).ack
                  for (uid, ack), u in zip(opened, units, strict=True)]
    assert all(ack["held"] for ack in clock_acks), [a["held"] for a in clock_acks]
    assert all("address_mixed_orgs" in events_of(uid, ack["sid"]) for uid, ack in opened)


def test_unrelated_organisations_sharing_a_known_address_are_one_group(app, tree):
    configure(app)
    units = [make_org(OrgKind.UNIT, tree.dept_b) for _ in range(5)]
    for unit in units:  # a hospital group: every member unit knows the group's shared address
        db.session.add(OrgAddress(org_id=unit.id, cidr="59.172.1.1/32", source=AddressSource.LEARNED,
                                  state=AddressState.APPROVED))
    db.session.commit()
    opened = [open_for(unit, ip="61.183.5.7") for unit in units]
    assert not any("address_mixed_orgs" in events_of(uid, ack["sid"]) for uid, ack in opened)


def test_one_device_studying_for_five_accounts_from_five_addresses_holds_all_of_them(app, tree):
    configure(app)
    opened = [open_for(tree.unit_a, ip=f"27.16.{n}.9", device="one-laptop-of-one-person") for n in range(5)]
    assert all(ack["held"] for _, ack in opened[1:])
    for uid, ack in opened:  # the first account is held too, once the second appears on its device
        types = events_of(uid, ack["sid"])
        assert "shared_device" in types and "device_relay" in types and types.count("shared_device") == 1


def test_alike_browsers_behind_one_unknown_address_add_a_little_and_never_hold(app, tree):
    configure(app)
    traits = {"screen": "1920x1080x24", "tz": "Asia/Shanghai", "lang": "zh-CN", "cores": 8}
    opened = [open_for(tree.unit_a, ip="27.17.0.1", traits=traits) for _ in range(5)]
    assert "similar_device" in events_of(*[(u, a["sid"]) for u, a in opened][-1])
    assert not any(ack["held"] for _, ack in opened)


def test_an_organisations_usual_address_is_learned_from_its_own_approved_people(app, tree):
    configure(app)
    people = [make_user(tree.unit_a, Role.LEARNER) for _ in range(5)]
    from tests.tracking import make_ready_courseware
    courseware = make_ready_courseware(tree.base_a, people)
    start = dt.datetime(2026, 11, 1, 1)
    for n, person in enumerate(people):
        for day in range(3):
            db.session.add(PlaybackSession(public_id=f"learn{n}d{day}xx", user_id=person.id,
                                           courseware_id=courseware.id, started_at=start + dt.timedelta(days=day),
                                           ip="58.49.77.1", last_heartbeat_at=start))
    db.session.commit()
    settings = service.tracking_settings()
    assert addresses.learn_addresses(settings.learn_min_people, settings.learn_min_days, 3650) == 1
    db.session.commit()
    book = addresses.address_book()
    assert book.at_home("58.49.77.1", tree.unit_a.id, tree.unit_a.path)
    assert not book.at_home("58.49.77.1", tree.unit_b.id, tree.unit_b.path)
    assert addresses.learn_addresses(settings.learn_min_people, settings.learn_min_days, 3650) == 0
