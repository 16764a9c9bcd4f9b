"""What the ranker orders and what it knows about producers: ``Candidate``, ``ProducerSignals``,
and the ``ProducerQualityRule`` that turns signals into a ``ProducerQuality`` verdict."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taar_assets.recommendation.ranker.validation import (
    _check_bool,
    _check_integer,
    _check_real,
    _fail,
    _reject_unknown_keys,
)


@dataclass(frozen=True)
class Candidate:
    """One add-on proposed by one candidate source.

    ``source`` is the candidate type (e.g. "similarity", "locale_popularity",
    "co_installation", "curated"). ``predicted_score`` is the heavy ranker's install
    probability, ``quality_score`` the "q" of quality upranking; None (or NaN) means missing
    and counts as 0. ``discovery`` marks candidates the client has no first-degree relation to
    (the seed's "out-of-network"): only those are re-sorted by producer quality.
    ``features`` is carried through for consumers; it is not part of equality or the hash, so
    candidates stay hashable.
    """

    addon_id: str
    source: str
    source_score: float
    predicted_score: float | None = None
    quality_score: float | None = None
    producer: str | None = None
    discovery: bool = False
    subscribed_creator: bool = False
    features: Mapping[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ProducerSignals:
    """What is known about a producer (an add-on's developer account).

    The add-on analogues of the seed's author health features: ``weekly_users`` (active
    followers: audience size), ``risk_score`` (a 0-1 automated-review risk score; nsfw score;
    0.5 = unknown, as the seed's default), ``policy_violation`` (has an add-on currently in
    violation of the add-on policies; nsfw token), ``abuse_flagged`` / ``abuse_flagged_severe``
    (among the most reported producers, moderate / severe tier; abuse strike top 2% / 1%),
    ``recent_updates`` (versions released recently; tweets in 28 days), ``average_rating``
    (1-5 stars, 0 = unrated) and ``rating_count``, ``report_rate`` (abuse reports per weekly
    user). The defaults describe a producer nobody uses: zero audience, hence low quality.
    """

    weekly_users: float = 0.0
    risk_score: float = 0.5
    policy_violation: bool = False
    abuse_flagged: bool = False
    abuse_flagged_severe: bool = False
    recent_updates: int = 0
    average_rating: float = 0.0
    rating_count: int = 0
    report_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("policy_violation", "abuse_flagged", "abuse_flagged_severe"):
            _check_bool(self, name)
        for name in ("weekly_users", "report_rate"):
            _check_real(self, name, minimum=0.0, allow_infinite=True)
        for name in ("recent_updates", "rating_count"):
            _check_integer(self, name, minimum=0)
        _check_real(self, "risk_score", minimum=0.0, maximum=1.0)
        _check_real(self, "average_rating", minimum=0.0, maximum=5.0)


class ProducerQuality(enum.Enum):
    """The verdict of a ``ProducerQualityRule``."""

    HIGH = "high"
    LOW = "low"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class ProducerQualityRule:
    """Thresholds that classify a producer as high, low or neutral quality.

    Every comparison is strict, as the field names say (``*_above`` means ``>``, ``*_below``
    means ``<``). The high rule is tested first, so it wins over the low rule. A producer is
    HIGH if any of three conjunctions holds (the seed's three, on audience, safety and
    engagement):

    - ``weekly_users > high_users_above``;
    - ``weekly_users > safe_high_users_above`` and *safe*;
    - ``weekly_users > engaged_high_users_above`` and *safe* and *engaged*;

    with *safe* = ``risk_score < safe_risk_below``, no policy violation and no abuse flag
    (either tier), and *engaged* = ``recent_updates > 0``,
    ``average_rating > engaged_rating_above``, ``rating_count > engaged_rating_count_above``
    and ``report_rate < engaged_report_rate_below``. Otherwise it is LOW if any of:
    ``weekly_users < low_users_below``, ``risk_score > low_risk_above``, a policy violation,
    a severe abuse flag, ``report_rate > low_report_rate_above``, or
    ``average_rating < low_rating_below`` with ``rating_count > low_rating_count_above`` (a bad
    average that enough ratings make credible; the seed's dislike rate and count). Otherwise
    NEUTRAL.

    Thresholds may be infinite (e.g. ``high_users_above=inf`` turns that clause off), not NaN.
    ``low_users_below`` must be positive so that a producer without signals (zero audience)
    is low quality.
    """

    high_users_above: float = 1_000_000.0
    safe_high_users_above: float = 100_000.0
    engaged_high_users_above: float = 10_000.0
    safe_risk_below: float = 0.7
    engaged_rating_above: float = 4.0
    engaged_rating_count_above: float = 50.0
    engaged_report_rate_below: float = 1e-5
    low_users_below: float = 5.0
    low_risk_above: float = 0.9
    low_report_rate_above: float = 1e-3
    low_rating_below: float = 2.0
    low_rating_count_above: float = 5.0

    def __post_init__(self) -> None:
        for config_field in dataclasses.fields(self):
            _check_real(self, config_field.name, minimum=0.0, allow_infinite=True)
        if not self.low_users_below > 0:
            _fail(self, "low_users_below", "must be > 0 so that missing signals are low quality",
                  self.low_users_below)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ProducerQualityRule:
        """Build from plain configuration, rejecting unknown keys."""
        _reject_unknown_keys(cls, values)
        return cls(**values)

    def classify(self, signals: ProducerSignals) -> ProducerQuality:
        """HIGH, LOW or NEUTRAL for one producer (high tested first)."""
        users = signals.weekly_users
        safe = (
            signals.risk_score < self.safe_risk_below
            and not signals.policy_violation
            and not signals.abuse_flagged
            and not signals.abuse_flagged_severe
        )
        engaged = (
            signals.recent_updates > 0
            and signals.average_rating > self.engaged_rating_above
            and signals.rating_count > self.engaged_rating_count_above
            and signals.report_rate < self.engaged_report_rate_below
        )
        if (
            users > self.high_users_above
            or (users > self.safe_high_users_above and safe)
            or (users > self.engaged_high_users_above and safe and engaged)
        ):
            return ProducerQuality.HIGH
        if (
            users < self.low_users_below
            or signals.risk_score > self.low_risk_above
            or signals.policy_violation
            or signals.abuse_flagged_severe
            or signals.report_rate > self.low_report_rate_above
            or (
                signals.average_rating < self.low_rating_below
                and signals.rating_count > self.low_rating_count_above
            )
        ):
            return ProducerQuality.LOW
        return ProducerQuality.NEUTRAL
