"""``RankerConfig``: every switch and parameter of the ranker, validated on construction."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taar_assets.recommendation.ranker.candidates import ProducerQuality, ProducerQualityRule
from taar_assets.recommendation.ranker.validation import (
    _check_bool,
    _check_choice,
    _check_integer,
    _check_real,
    _check_type_name,
    _check_type_tuple,
    _fail,
    _reject_unknown_keys,
)

QUALITY_TRANSFORMS = ("sigmoid", "linear", "identity")
SUBSCRIBED_MODES = ("hard", "soft")


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
