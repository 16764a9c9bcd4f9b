"""Ranking of add-on recommendation candidates (docs/behaviour.md §8), pure and configurable.

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

from taar_assets.recommendation.ranker.candidates import (
    Candidate,
    ProducerQuality,
    ProducerQualityRule,
    ProducerSignals,
)
from taar_assets.recommendation.ranker.config import QUALITY_TRANSFORMS, SUBSCRIBED_MODES, RankerConfig
from taar_assets.recommendation.ranker.ranking import (
    SIGMOID_EXPONENT_LIMIT,
    RankerMetrics,
    heavy_scores,
    initial_rank,
    predicted_scores,
    quality_adjusted_scores,
    rank,
    re_rank,
    transform_quality,
)

__all__ = [
    "QUALITY_TRANSFORMS",
    "SIGMOID_EXPONENT_LIMIT",
    "SUBSCRIBED_MODES",
    "Candidate",
    "ProducerQuality",
    "ProducerQualityRule",
    "ProducerSignals",
    "RankerConfig",
    "RankerMetrics",
    "heavy_scores",
    "initial_rank",
    "predicted_scores",
    "quality_adjusted_scores",
    "rank",
    "re_rank",
    "transform_quality",
]
