"""Serving: the one path from a client to its recommendations, shared by `taar-assets recommend`
and the daily evaluation.

similarity model's recommendations -> every candidate source -> the install model's score ->
the ranker (docs/behaviour.md §8) -> each add-on once, at its best place, up to the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from taar_assets.recommendation.addon_metadata import AddonMetadata, producer_signals
from taar_assets.recommendation.install_model import InstallModel
from taar_assets.recommendation.ranker import Candidate, ProducerSignals, RankerConfig, RankerMetrics, rank
from taar_assets.recommendation.sources import SIMILARITY, CandidateSources, Profile, Scored
from taar_assets.similarity.recommender import SimilarityModel


@dataclass
class Recommender:
    """What serves a client. Without `sources` the candidates are the similarity model's
    recommendations alone; without `install_model` they carry no predicted score; without
    `ranker` they keep the sources' order. `metrics` counts the ranker's branches and steps
    over every client served."""

    model: SimilarityModel | None = None  # needed by recommend_batch, not by serve
    sources: CandidateSources | None = None
    install_model: InstallModel | None = None
    metadata: AddonMetadata | None = None
    ranker: RankerConfig | None = None
    metrics: RankerMetrics = field(default_factory=RankerMetrics)
    _signals: dict[str, ProducerSignals] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._signals = producer_signals(self.metadata) if self.metadata else None

    def candidates(self, profile: Profile, similar: Scored) -> list[Candidate]:
        """The client's candidates, scored by the install model when there is one."""
        if self.sources is None:
            return [Candidate(addon_id=guid, source=SIMILARITY, source_score=weight) for guid, weight in similar]
        candidates = self.sources.candidates(profile, similar, self.metadata)
        return self.install_model.scored(candidates, profile) if self.install_model else candidates

    def serve(self, profile: Profile, similar: Scored, client_id: str | None, limit: int) -> list[Candidate]:
        """The client's recommendations, given the similarity model's for it. Random ranking
        shuffles per `client_id`, so a client gets the same order on every call."""
        candidates = self.candidates(profile, similar)
        if self.ranker is not None:
            candidates = rank(candidates, self.ranker, self._signals, self.metrics, random_key=client_id)
        return distinct_candidates(candidates, limit)

    def recommend_batch(
        self, profiles: Sequence[Profile], client_ids: Sequence[str | None], limit: int
    ) -> list[list[Candidate]]:
        """`serve` for each client, the similarity model scoring them together."""
        if self.model is None:
            raise ValueError("recommend_batch needs the similarity model")
        # The ranker or the other sources may move any similarity candidate into the top `limit`.
        needs_all = self.ranker is not None or self.sources is not None
        similar = self.model.recommend_batch(profiles, limit=None if needs_all else limit)
        return [self.serve(p, s, c, limit) for p, s, c in zip(profiles, similar, client_ids)]


def weight(candidate: Candidate) -> float:
    """The score the order came from: the install model's when there is one, else the source's."""
    return candidate.predicted_score if candidate.predicted_score is not None else candidate.source_score


def distinct_candidates(ranked: Iterable[Candidate], limit: int) -> list[Candidate]:
    """The first ``limit`` distinct add-ons of a ranked candidate list, each as the candidate at
    its best place (an add-on proposed by several sources appears once)."""
    chosen: dict[str, Candidate] = {}
    for candidate in ranked:
        if len(chosen) == limit:
            break
        chosen.setdefault(candidate.addon_id, candidate)
    return list(chosen.values())
