"""The two ranking stages, ``initial_rank`` and ``re_rank`` (see the package docstring of
``taar_assets.recommendation.ranker``), the scores they sort by and ``RankerMetrics``."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from taar_assets.recommendation.ranker.candidates import Candidate, ProducerQuality, ProducerSignals
from taar_assets.recommendation.ranker.config import RankerConfig

# The sigmoid's exponent is clamped so exp() never overflows (the seed's transformSigmoid).
SIGMOID_EXPONENT_LIMIT = 100.0


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
    """Order by relevance; the first matching branch of the package docstring wins.

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
    """Apply the type rules R1-R5 (package docstring) to an already ranked list, in order."""
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
