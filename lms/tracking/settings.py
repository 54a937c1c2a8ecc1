"""The tracking settings: production defaults, overridden per deployment (``LMS_TRACKING_*``) or per app.

Kept apart from the service so that ``lms.config`` can validate the environment without importing the app.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class TrackingSettings:
    """The tracking knobs; defaults are production values, overridden by ``LMS_TRACKING_*`` and ``LMS_TRACKING``."""

    heartbeat_interval_s: float = 5.0
    # Each acknowledgement asks for the next heartbeat after interval × (1 ± jitter), drawn by the server, so an
    # honest page's cadence is irregular and a machine that ignores it stands out.
    heartbeat_jitter: float = 0.2
    min_interval_s: float = 2.0  # faster heartbeats are a flood: rejected, no credit
    # Beyond the longest requested delay, a heartbeat still credits the whole interval: hls.js buffers 30 s ahead,
    # so a page can play through a network drop that long; a longer absence earns nothing (invariant 5).
    grace_s: float = 25.0
    allowed_rate: float = 1.0
    position_tolerance_s: float = 2.0  # timer and network jitter allowed in media position vs server time
    check_mean_interval_s: float = 900.0  # of credited playing time, exponentially distributed
    check_min_gap_s: float = 60.0
    check_answer_window_s: float = 90.0
    check_min_answer_s: float = 1.0  # faster answers are evidence of a machine
    daily_cap_hours: float = 8.0
    day_utc_offset_hours: float = 8.0  # the cap's day is China Standard Time's
    coverage_share: float = 0.95
    flush_interval_s: float = 30.0
    idle_close_s: float = 1800.0
    hold_threshold: int = 100
    # Cross-person evidence (docs/tracking-protocol.md §5). An address is a workplace's or a carrier's before it is
    # a cheat's: more than address_max_accounts accounts from one address within the window, none of them at home
    # there, is weak evidence (shared_address); accounts of more than address_max_orgs organisations that share no
    # known address, each of them alone or nearly so there, is strong (address_mixed_orgs).
    address_window_s: float = 3600.0
    address_max_accounts: int = 3
    address_max_orgs: int = 3
    # A device id is a random id in one browser's storage: more accounts than this on one within device_window_s
    # is evidence whatever the addresses were (one person studying for several accounts).
    device_window_s: float = 86400.0
    device_max_accounts: int = 1
    # An organisation's usual addresses are learned from its own approved people: an address from which at least
    # learn_min_people of them studied on at least learn_min_days days within learn_lookback_days.
    learn_min_people: int = 5
    learn_min_days: int = 3
    learn_lookback_days: int = 60
    opens_per_minute: int = 20
    flush_in_background: bool = True
    # The flusher's dirty set and the idle sweep's live set are split into this many buckets, each in a Redis
    # Cluster slot of its own (a person's bucket: a stable hash of the id). A deployment constant: changing it
    # strands the marks of the old buckets until their sessions change again.
    shards: int = 16
    # A closed session whose time is decided stays in Redis this long once the database holds it (a late
    # duplicate of its last message is still answered "ended"), then expires; a superseded one for idle_close_s,
    # so that its page can still take it back.
    closed_keep_s: float = 60.0

    def __post_init__(self):
        problems = []
        if self.heartbeat_interval_s <= 0 or not 0 <= self.heartbeat_jitter < 1:
            problems.append("heartbeat_interval_s > 0 and 0 <= heartbeat_jitter < 1")
        if not 0 < self.min_interval_s < self.heartbeat_interval_s * (1 - self.heartbeat_jitter):
            problems.append("0 < min_interval_s < heartbeat_interval_s × (1 - heartbeat_jitter)")
        if self.grace_s < 0 or self.allowed_rate <= 0 or self.position_tolerance_s < 0:
            problems.append("grace_s >= 0, allowed_rate > 0, position_tolerance_s >= 0")
        if self.check_mean_interval_s <= 0 or self.check_min_gap_s < 0 or self.check_answer_window_s <= 0:
            problems.append("check_mean_interval_s > 0, check_min_gap_s >= 0, check_answer_window_s > 0")
        if self.daily_cap_hours <= 0 or not 0 < self.coverage_share <= 1:
            problems.append("daily_cap_hours > 0 and 0 < coverage_share <= 1")
        if self.flush_interval_s <= 0 or self.idle_close_s <= self.max_gap_s or self.hold_threshold <= 0:
            problems.append("flush_interval_s > 0, idle_close_s > max_gap_s, hold_threshold > 0")
        if min(self.address_window_s, self.device_window_s) <= 0 or min(
                self.address_max_accounts, self.address_max_orgs, self.device_max_accounts) < 1:
            problems.append("address_window_s, device_window_s > 0 and address/device limits >= 1")
        if min(self.learn_min_people, self.learn_min_days, self.learn_lookback_days) < 1:
            problems.append("learn_min_people, learn_min_days, learn_lookback_days >= 1")
        if not 1 <= self.shards <= 1024 or self.closed_keep_s <= 0:
            problems.append("1 <= shards <= 1024, closed_keep_s > 0")
        if problems:
            raise ValueError("LMS_TRACKING 设置无效：" + "；".join(problems))

    @property
    def max_gap_s(self) -> float:
        """The longest interval between heartbeats that still earns credit (invariant 5)."""
        return self.heartbeat_interval_s * (1 + self.heartbeat_jitter) + self.grace_s

    @classmethod
    def from_mapping(cls, values: dict | None) -> TrackingSettings:
        """Build settings from a mapping of overrides; unknown names are an error that names them."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"LMS_TRACKING 中有未知设置：{', '.join(unknown)}（可用：{', '.join(sorted(known))}）")
        return cls(**values)

    @functools.cached_property
    def script_config(self) -> str:
        """Return the JSON the Lua scripts read their limits from (ms, integers)."""
        ms = lambda seconds: int(round(seconds * 1000))  # noqa: E731
        return json.dumps({
            "min_interval_ms": ms(self.min_interval_s),
            "max_gap_ms": ms(self.max_gap_s),
            "rate": self.allowed_rate,
            "pos_tol_ms": ms(self.position_tolerance_s),
            "still_ms": 250,
            "jump_rate": 16,  # an advance faster than 16× is a jump (seek), not a playback rate
            "gap_carry_ms": 120_000,  # the most media a page can play from its buffer while disconnected
            "check_window_ms": ms(self.check_answer_window_s),
            "min_answer_ms": ms(self.check_min_answer_s),
            "end_tol_ms": 1500,
            "daily_cap_ms": ms(self.daily_cap_hours * 3600),
            "day_offset_ms": ms(self.day_utc_offset_hours * 3600),
            "hold_threshold": self.hold_threshold,
            "risk": {kind: list(points) for kind, points in RISK_POLICY.items()},
            "max_events": MAX_EVENTS_PER_SESSION,
            "max_trace": MAX_TRACE_POINTS,
            "cadence_min_n": 20,
            "cadence_max_sd_ms": 10,
            # docs/tracking-protocol.md §7: what the database holds is loaded again at the next open; a session
            # waits this long after its last change for the person's next check to decide its pending time.
            "session_ttl_ms": SESSION_TTL_MS,
            "person_ttl_ms": PERSON_TTL_MS,
            "opens_per_min": self.opens_per_minute,
        }, separators=(",", ":"))


SESSION_TTL_MS = 3 * 86400 * 1000
PERSON_TTL_MS = 3 * 86400 * 1000
MAX_EVENTS_PER_SESSION = 2000
MAX_TRACE_POINTS = 20000

# Evidence type → (risk points per event, most points this type can add). A session reaching the hold threshold
# (default 100) is held for review. Weights follow how well each sign tells a cheat from an honest learner:
# an honest page on a bad network sees gaps (0 points), an occasional bad token after a lost acknowledgement,
# a takeover when switching devices; none of these alone reaches the threshold.
RISK_POLICY: dict[str, tuple[int, int]] = {
    "bad_token": (10, 60),
    "flood": (5, 50),
    "rate": (35, 100),
    "rate_setting": (30, 60),
    "seek_ahead": (15, 60),
    "beyond_verified": (5, 30),
    "concurrent": (25, 75),
    "superseded_heartbeat": (5, 30),
    "played_during_check": (10, 50),
    "check_missed": (30, 90),
    "check_wrong": (15, 45),
    "check_fast": (40, 100),
    "hidden_playing": (5, 20),
    "seek_attempt": (2, 10),
    "rate_attempt": (2, 10),  # the page undid it at once: a curious learner, not a cheat, unless it keeps trying
    "automation": (100, 100),
    "regular_cadence": (100, 100),
    # Cross-person evidence, judged when a playback opens (service.cross_person_evidence). Many accounts behind
    # one address is what every hospital and county office looks like, so it never holds a session alone; it
    # adds to other signs. Accounts of several unrelated organisations behind one address, each alone there, and
    # several accounts on one browser's device id are what one person studying for others looks like.
    "shared_address": (30, 30),
    "address_mixed_orgs": (100, 100),
    "shared_device": (100, 100),
    # The same courseware played by several accounts one after another on one device id (strong), or on
    # browsers alike in every coarse property behind one address (weak: offices buy identical computers).
    "device_relay": (50, 100),
    "similar_device": (20, 40),
}
