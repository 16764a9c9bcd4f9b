"""Ranking of add-on recommendation candidates (SPEC section 8), pure and configurable.

The design follows Twitter's push-notification ranker (``RFPHRanker.scala``): candidates come
from several candidate sources ("types": similarity, locale popularity, co-installation,
curated, ...), and ranking is two stages.

``initial_rank`` orders by relevance; the first matching branch wins:

1. random ranking (``use_random_ranking``): a seeded shuffle, for exploration or hold-back;
2. relevance disabled (``disable_all_relevance``): input order;
3. heavy ranking disabled (``disable_heavy_ranking``): input order;
4. heavy ranking: a stable sort by ``predicted_score`` (the heavy ranker's install
   probability), descending, missing = 0; then optionally a stable re-sort of all candidates
   by the quality-adjusted score ``s = score * (1 + beta * T(q))``; then optionally a re-sort
   of only the discovery candidates by ``base * r`` inside the slots they already hold, ``r``
   being their producer's quality ratio (see ``ProducerQualityRule``).

``re_rank`` then applies type-level rules, in this order, later ones overriding earlier ones:
(R1) first-degree backfill, (R2) backfill type to the bottom, (R3) up-rank types to the top,
(R4) down-rank types to the bottom, (R5) subscribed-creator boost (hard or soft).

Every step only reorders: the output is always a permutation of the input (no candidate is
dropped, merged or duplicated, even when two candidates are equal) and every move and sort is
stable, i.e. candidates with equal keys keep their relative order. ``RankerMetrics`` counts
which branches and steps ran, accumulating across calls.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

QUALITY_TRANSFORMS = ("sigmoid", "linear", "identity")
SUBSCRIBED_MODES = ("hard", "soft")

# The sigmoid's exponent is clamped so exp() never overflows (the seed's transformSigmoid).
SIGMOID_EXPONENT_LIMIT = 100.0


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class RankerConfig:
    """Every switch and parameter of the ranker, validated on construction.

    initial_rank branches (first match wins): ``use_random_ranking`` (shuffle seeded by
    ``random_seed``), ``disable_all_relevance``, ``disable_heavy_ranking``, else heavy ranking.

    Quality upranking (heavy ranking only): ``enable_quality_upranking``; ``quality_transform``
    T is "sigmoid" (``sigmoid_weight`` w, ``sigmoid_bias`` b), "linear" (``linear_bar``) or
    "identity"; ``quality_boost`` is beta.

    Producer boosting (heavy ranking only): ``enable_producer_boosting``,
    ``producer_quality_rule``, and the ratio each verdict multiplies the score by:
    ``producer_boost_ratio`` (high), ``producer_downboost_ratio`` (low), 1 (neutral).

    re_rank: (R1) ``enable_first_degree_backfill``, ``first_degree_threshold``,
    ``first_degree_types`` (sources derived from the client's own add-ons); (R2)
    ``backfill_down_rank``, ``backfill_type`` (the locale-popularity analogue of the seed's
    geo-popular type); (R3) ``up_rank_types``; (R4) ``down_rank_types``; (R5)
    ``boost_subscribed_creators``, ``subscribed_mode`` ("hard" or "soft"),
    ``subscribed_soft_factor``.

    Raises TypeError or ValueError naming the offending field. Lists given for the type
    tuples are stored as tuples.
    """

    use_random_ranking: bool = False
    random_seed: int = 0
    disable_all_relevance: bool = False
    disable_heavy_ranking: bool = False

    enable_quality_upranking: bool = False
    quality_transform: str = "sigmoid"
    sigmoid_weight: float = 1.0
    sigmoid_bias: float = 0.0
    linear_bar: float = 1.0
    quality_boost: float = 1.0

    enable_producer_boosting: bool = False
    producer_quality_rule: ProducerQualityRule = field(default_factory=ProducerQualityRule)
    producer_boost_ratio: float = 1.2
    producer_downboost_ratio: float = 0.8

    enable_first_degree_backfill: bool = False
    first_degree_threshold: int = 0
    first_degree_types: tuple[str, ...] = ("co_installation",)
    backfill_down_rank: bool = False
    backfill_type: str = "locale_popularity"
    up_rank_types: tuple[str, ...] = ()
    down_rank_types: tuple[str, ...] = ()
    boost_subscribed_creators: bool = False
    subscribed_mode: str = "hard"
    subscribed_soft_factor: float = 1.5

    def __post_init__(self) -> None:
        for name in (
            "use_random_ranking",
            "disable_all_relevance",
            "disable_heavy_ranking",
            "enable_quality_upranking",
            "enable_producer_boosting",
            "enable_first_degree_backfill",
            "backfill_down_rank",
            "boost_subscribed_creators",
        ):
            _check_bool(self, name)
        # numpy seeds must be non-negative integers.
        _check_integer(self, "random_seed", minimum=0)
        _check_choice(self, "quality_transform", QUALITY_TRANSFORMS)
        _check_real(self, "sigmoid_weight")
        _check_real(self, "sigmoid_bias")
        _check_real(self, "linear_bar")
        if self.linear_bar == 0:
            _fail(self, "linear_bar", "must be non-zero (the linear transform divides by it)",
                  self.linear_bar)
        _check_real(self, "quality_boost", minimum=0.0)
        if not isinstance(self.producer_quality_rule, ProducerQualityRule):
            _fail(self, "producer_quality_rule", "must be a ProducerQualityRule",
                  self.producer_quality_rule, error=TypeError)
        _check_real(self, "producer_boost_ratio", minimum=0.0)
        _check_real(self, "producer_downboost_ratio", minimum=0.0)
        _check_integer(self, "first_degree_threshold", minimum=0)
        for name in ("first_degree_types", "up_rank_types", "down_rank_types"):
            _check_type_tuple(self, name)
        _check_type_name(self, "backfill_type", self.backfill_type)
        _check_choice(self, "subscribed_mode", SUBSCRIBED_MODES)
        _check_real(self, "subscribed_soft_factor")
        if not self.subscribed_soft_factor > 0:
            _fail(self, "subscribed_soft_factor", "must be > 0", self.subscribed_soft_factor)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RankerConfig:
        """Build from plain configuration (e.g. YAML or Dagster run config).

        Unknown keys are rejected with a ValueError listing them and the known ones;
        ``producer_quality_rule`` may be a nested mapping.
        """
        _reject_unknown_keys(cls, values)
        values = dict(values)
        rule = values.get("producer_quality_rule")
        if isinstance(rule, Mapping):
            values["producer_quality_rule"] = ProducerQualityRule.from_dict(rule)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain configuration (lists, nested dict) that ``from_dict`` turns back into self."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
        }

    @property
    def uses_heavy_ranking(self) -> bool:
        """Whether initial_rank reaches the heavy-ranking branch (4)."""
        return not (
            self.use_random_ranking or self.disable_all_relevance or self.disable_heavy_ranking
        )

    def producer_ratio(self, quality: ProducerQuality) -> float:
        """The score multiplier for a producer verdict."""
        if quality is ProducerQuality.HIGH:
            return self.producer_boost_ratio
        if quality is ProducerQuality.LOW:
            return self.producer_downboost_ratio
        return 1.0


@dataclass
class RankerMetrics:
    """Counters of what the ranker did, accumulated over every call that is given this object.

    Branch and step counters count calls; ``*_candidates`` counters count candidates.

    - ``random_ranking``, ``disable_all_relevance``, ``disable_heavy_ranking``,
      ``heavy_ranking``: calls that took each initial_rank branch.
    - ``candidates_ranked``: candidates entering initial_rank; ``heavy_ranker_candidates``:
      those that went through heavy ranking.
    - ``quality_upranking``, ``producer_upranking``: calls that applied each re-sort.
    - ``producer_boosted_candidates`` / ``producer_downboosted_candidates``: discovery
      candidates whose producer was judged high / low quality;
      ``producer_signals_missing_candidates``: discovery candidates whose named producer had
      no signals (judged as zero audience).
    - ``first_degree_backfill``, ``backfill_down_ranking``, ``type_up_ranking``,
      ``type_down_ranking``, ``subscribed_boosting``: calls in which R1 (threshold exceeded),
      R2 (enabled), R3 / R4 (non-empty list), R5 (enabled) applied; the matching
      ``*_candidates`` counters count the candidates those steps moved or boosted.

    Not thread-safe: give each thread its own and add them up with ``as_dict``.
    """

    random_ranking: int = 0
    disable_all_relevance: int = 0
    disable_heavy_ranking: int = 0
    heavy_ranking: int = 0
    candidates_ranked: int = 0
    heavy_ranker_candidates: int = 0
    quality_upranking: int = 0
    producer_upranking: int = 0
    producer_boosted_candidates: int = 0
    producer_downboosted_candidates: int = 0
    producer_signals_missing_candidates: int = 0
    first_degree_backfill: int = 0
    first_degree_backfilled_candidates: int = 0
    backfill_down_ranking: int = 0
    backfill_down_ranked_candidates: int = 0
    type_up_ranking: int = 0
    type_up_ranked_candidates: int = 0
    type_down_ranking: int = 0
    type_down_ranked_candidates: int = 0
    subscribed_boosting: int = 0
    subscribed_boosted_candidates: int = 0

    def as_dict(self) -> dict[str, int]:
        """All counters by name."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


def transform_quality(quality: np.ndarray, config: RankerConfig) -> np.ndarray:
    """T(q) of quality upranking, elementwise.

    sigmoid: ``1 / (1 + exp(clamp(-(w*q + b), -100, 100)))``, in (0, 1] and never
    overflowing; linear: ``clamp(q, -|bar|, |bar|) / |bar|``, in [-1, 1]; identity: ``q``.
    """
    quality = np.asarray(quality, dtype=float)
    if config.quality_transform == "sigmoid":
        # w*q may overflow to +-inf for extreme inputs; the clamp makes that harmless.
        with np.errstate(over="ignore", invalid="ignore"):
            exponent = -(config.sigmoid_weight * quality + config.sigmoid_bias)
        exponent = np.clip(exponent, -SIGMOID_EXPONENT_LIMIT, SIGMOID_EXPONENT_LIMIT)
        return 1.0 / (1.0 + np.exp(exponent))
    if config.quality_transform == "linear":
        bar = abs(config.linear_bar)
        return np.clip(quality, -bar, bar) / bar
    return quality


def predicted_scores(candidates: Sequence[Candidate]) -> np.ndarray:
    """The heavy ranker's scores, missing (None or NaN) as 0."""
    return _missing_as_zero([candidate.predicted_score for candidate in candidates])


def quality_adjusted_scores(candidates: Sequence[Candidate], config: RankerConfig) -> np.ndarray:
    """``s = score * (1 + beta * T(q))`` with score and q missing as 0."""
    quality = _missing_as_zero([candidate.quality_score for candidate in candidates])
    # inf * 0 gives NaN for absurd inputs; NaN keys sort last, so ranking stays defined.
    with np.errstate(over="ignore", invalid="ignore"):
        return predicted_scores(candidates) * (
            1.0 + config.quality_boost * transform_quality(quality, config)
        )


def heavy_scores(candidates: Sequence[Candidate], config: RankerConfig) -> np.ndarray:
    """The score heavy ranking orders by: ``s`` when quality upranking ran, else the
    predicted score (missing as 0). Used as the base of producer boosting and soft
    subscribed-creator boosting."""
    if config.uses_heavy_ranking and config.enable_quality_upranking:
        return quality_adjusted_scores(candidates, config)
    return predicted_scores(candidates)


# --------------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------------


def rank(
    candidates: Sequence[Candidate],
    config: RankerConfig,
    producer_signals: Mapping[str, ProducerSignals] | None = None,
    metrics: RankerMetrics | None = None,
    *,
    random_key: str | None = None,
) -> list[Candidate]:
    """``re_rank(initial_rank(...))``: the candidates, reordered (never dropped or duplicated).

    ``producer_signals`` maps a producer to its signals (only read by producer boosting);
    ``metrics``, if given, accumulates counters; ``random_key`` see ``initial_rank``.
    """
    metrics = metrics if metrics is not None else RankerMetrics()
    ranked = initial_rank(candidates, config, producer_signals, metrics, random_key=random_key)
    return re_rank(ranked, config, metrics)


def initial_rank(
    candidates: Sequence[Candidate],
    config: RankerConfig,
    producer_signals: Mapping[str, ProducerSignals] | None = None,
    metrics: RankerMetrics | None = None,
    *,
    random_key: str | None = None,
) -> list[Candidate]:
    """Order by relevance; the first matching branch of the module docstring wins.

    Random ranking shuffles with a numpy Generator seeded by ``config.random_seed`` and, if
    given, ``random_key`` (e.g. a client or locale id): the same seed alone gives the same
    permutation to every list of the same length, which would bias exploration by position.

    Producer boosting: a discovery candidate whose ``producer`` is None has nothing to judge and
    gets ratio 1; a named producer missing from ``producer_signals`` (or all of them, when it is
    None) is judged on zero audience, hence low quality.
    """
    candidates = list(candidates)
    metrics = metrics if metrics is not None else RankerMetrics()
    metrics.candidates_ranked += len(candidates)

    if config.use_random_ranking:
        metrics.random_ranking += 1
        order = _shuffle_generator(config.random_seed, random_key).permutation(len(candidates))
        return [candidates[index] for index in order]
    if config.disable_all_relevance:
        metrics.disable_all_relevance += 1
        return candidates
    if config.disable_heavy_ranking:
        metrics.disable_heavy_ranking += 1
        return candidates

    metrics.heavy_ranking += 1
    metrics.heavy_ranker_candidates += len(candidates)
    scores = predicted_scores(candidates)
    order = _stable_descending(scores)
    if config.enable_quality_upranking:
        metrics.quality_upranking += 1
        scores = quality_adjusted_scores(candidates, config)
        # Re-sorting the heavy order (not the input) makes heavy order break ties in s.
        order = order[_stable_descending(scores[order])]
    if config.enable_producer_boosting:
        metrics.producer_upranking += 1
        order = _resort_discovery_by_producer_quality(
            candidates, order, scores, config, producer_signals or {}, metrics
        )
    return [candidates[index] for index in order]


def re_rank(
    candidates: Sequence[Candidate],
    config: RankerConfig,
    metrics: RankerMetrics | None = None,
) -> list[Candidate]:
    """Apply the type rules R1-R5 (module docstring) to an already ranked list, in order."""
    ranked = list(candidates)
    metrics = metrics if metrics is not None else RankerMetrics()

    if config.enable_first_degree_backfill:
        first_degree = set(config.first_degree_types)
        first_degree_count = sum(candidate.source in first_degree for candidate in ranked)
        if first_degree_count > config.first_degree_threshold:
            metrics.first_degree_backfill += 1
            metrics.first_degree_backfilled_candidates += first_degree_count
            ranked = _move_to_top(ranked, lambda candidate: candidate.source in first_degree)

    if config.backfill_down_rank:
        metrics.backfill_down_ranking += 1
        metrics.backfill_down_ranked_candidates += sum(
            candidate.source == config.backfill_type for candidate in ranked
        )
        ranked = _move_to_bottom(ranked, lambda candidate: candidate.source == config.backfill_type)

    if config.up_rank_types:
        metrics.type_up_ranking += 1
        metrics.type_up_ranked_candidates += _count_of_types(ranked, config.up_rank_types)
        # One move per listed type, in turn: the last listed type ends on top.
        for source in config.up_rank_types:
            ranked = _move_to_top(ranked, lambda candidate: candidate.source == source)

    if config.down_rank_types:
        metrics.type_down_ranking += 1
        metrics.type_down_ranked_candidates += _count_of_types(ranked, config.down_rank_types)
        # The last listed type ends at the very bottom.
        for source in config.down_rank_types:
            ranked = _move_to_bottom(ranked, lambda candidate: candidate.source == source)

    if config.boost_subscribed_creators:
        metrics.subscribed_boosting += 1
        metrics.subscribed_boosted_candidates += sum(c.subscribed_creator for c in ranked)
        if config.subscribed_mode == "hard":
            ranked = _move_to_top(ranked, lambda candidate: candidate.subscribed_creator)
        else:
            factors = np.array(
                [config.subscribed_soft_factor if c.subscribed_creator else 1.0 for c in ranked]
            )
            with np.errstate(over="ignore", invalid="ignore"):
                boosted = heavy_scores(ranked, config) * factors
            ranked = [ranked[index] for index in _stable_descending(boosted)]

    return ranked


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _resort_discovery_by_producer_quality(
    candidates: list[Candidate],
    order: np.ndarray,
    base_scores: np.ndarray,
    config: RankerConfig,
    producer_signals: Mapping[str, ProducerSignals],
    metrics: RankerMetrics,
) -> np.ndarray:
    """Re-sort the discovery candidates by ``base * r`` inside the slots they hold in
    ``order``; every other candidate keeps its slot."""
    slots = np.flatnonzero([candidates[index].discovery for index in order])
    discovery = order[slots]
    ratios = np.ones(len(discovery))
    for position, index in enumerate(discovery):
        producer = candidates[index].producer
        if producer is None:
            continue
        signals = producer_signals.get(producer)
        if signals is None:
            metrics.producer_signals_missing_candidates += 1
            signals = ProducerSignals()  # zero audience
        quality = config.producer_quality_rule.classify(signals)
        if quality is ProducerQuality.HIGH:
            metrics.producer_boosted_candidates += 1
        elif quality is ProducerQuality.LOW:
            metrics.producer_downboosted_candidates += 1
        ratios[position] = config.producer_ratio(quality)
    with np.errstate(over="ignore", invalid="ignore"):
        keys = base_scores[discovery] * ratios
    reordered = order.copy()
    reordered[slots] = discovery[_stable_descending(keys)]
    return reordered


def _stable_descending(keys: np.ndarray) -> np.ndarray:
    """Indices that order ``keys`` from high to low; ties keep their order; NaN goes last."""
    return np.argsort(-np.where(np.isnan(keys), -np.inf, keys), kind="stable")


def _missing_as_zero(values: list[float | None]) -> np.ndarray:
    scores = np.array([0.0 if value is None else value for value in values], dtype=float)
    scores[np.isnan(scores)] = 0.0
    return scores


def _shuffle_generator(seed: int, key: str | None) -> np.random.Generator:
    if key is None:
        return np.random.default_rng(seed)
    key_hash = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, key_hash]))


def _partition(
    ranked: list[Candidate], selected: Callable[[Candidate], bool]
) -> tuple[list[Candidate], list[Candidate]]:
    chosen, others = [], []
    for candidate in ranked:
        (chosen if selected(candidate) else others).append(candidate)
    return chosen, others


def _move_to_top(
    ranked: list[Candidate], selected: Callable[[Candidate], bool]
) -> list[Candidate]:
    chosen, others = _partition(ranked, selected)
    return chosen + others


def _move_to_bottom(
    ranked: list[Candidate], selected: Callable[[Candidate], bool]
) -> list[Candidate]:
    chosen, others = _partition(ranked, selected)
    return others + chosen


def _count_of_types(ranked: list[Candidate], sources: tuple[str, ...]) -> int:
    wanted = set(sources)
    return sum(candidate.source in wanted for candidate in ranked)


# Validation: each check reads one field and raises an error that names it.


def _fail(owner: object, name: str, requirement: str, value: object, error=ValueError) -> None:
    raise error(f"{type(owner).__name__}.{name} {requirement}, got {value!r}")


def _reject_unknown_keys(cls: type, values: Mapping[str, Any]) -> None:
    if not isinstance(values, Mapping):
        raise TypeError(f"{cls.__name__} configuration must be a mapping, got {values!r}")
    known = [config_field.name for config_field in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} key(s) {unknown}; known keys: {known}")


def _check_bool(owner: object, name: str) -> None:
    value = getattr(owner, name)
    if not isinstance(value, bool):
        _fail(owner, name, "must be a bool", value, error=TypeError)


def _check_integer(owner: object, name: str, *, minimum: int) -> None:
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _fail(owner, name, "must be an integer", value, error=TypeError)
    if value < minimum:
        _fail(owner, name, f"must be >= {minimum}", value)
    object.__setattr__(owner, name, int(value))


def _check_real(
    owner: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    allow_infinite: bool = False,
) -> None:
    """A real number (not bool, not NaN; finite unless allowed) within the bounds, stored as
    a Python float."""
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        _fail(owner, name, "must be a number", value, error=TypeError)
    if math.isnan(value) or (math.isinf(value) and not allow_infinite):
        _fail(owner, name, "must be finite" if not allow_infinite else "must not be NaN", value)
    if minimum is not None and value < minimum:
        _fail(owner, name, f"must be >= {minimum}", value)
    if maximum is not None and value > maximum:
        _fail(owner, name, f"must be <= {maximum}", value)
    object.__setattr__(owner, name, float(value))


def _check_choice(owner: object, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(owner, name)
    if value not in choices:
        _fail(owner, name, f"must be one of {list(choices)}", value)


def _check_type_name(owner: object, name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        _fail(owner, name, "must be a non-empty candidate type name", value, error=TypeError)


def _check_type_tuple(owner: object, name: str) -> None:
    value = getattr(owner, name)
    # A bare string would silently become a tuple of its characters.
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        _fail(owner, name, "must be a list or tuple of candidate type names", value,
              error=TypeError)
    for type_name in value:
        _check_type_name(owner, name, type_name)
    object.__setattr__(owner, name, tuple(value))
