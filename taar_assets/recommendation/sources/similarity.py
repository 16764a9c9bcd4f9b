"""The similarity source: the similarity model's recommendations (TAAR's donors and LR curves)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from taar_assets.recommendation.sources.base import CandidateSource, Client, Profile, Scored, installed_addons

# Similarity recommendations for a batch of profiles, e.g. lambda ps: model.recommend_batch(ps, limit=None).
SimilarityBatch = Callable[[Sequence[Profile]], list[Scored]]


class SimilaritySource(CandidateSource):
    """Relays the similarity model's (addon_id, weight) output for the client; not fitted."""

    name: ClassVar[str] = "similarity"
    order: ClassVar[int] = 0
    discovery: ClassVar[bool] = True
    features: ClassVar[tuple[str, ...]] = ("similarity_score",)  # its weight / the client's largest, 0-1
    fitted: ClassVar[bool] = False

    def __init__(self, limit: int | None):
        self.limit = limit  # the proposals the scores are normalised over

    def propose(self, client: Client, limit: int | None) -> Scored:
        return similarity_scores(client.similar, client.profile, limit) if client.similar is not None else []

    def addon_features(self, client: Client, addon_id: str) -> dict[str, float]:
        weights = client.remembered(self.name, lambda: dict(self.propose(client, self.limit)))
        top = max(weights.values(), default=0.0)
        return {"similarity_score": weights.get(addon_id, 0.0) / top if top > 0 else 0.0}


def similarity_scores(recommendations: Scored, profile: Profile, limit: int | None = 10) -> Scored:
    """The similarity model's ``(addon_id, weight)`` output, best first, without installed add-ons."""
    installed = set(installed_addons(profile))
    ranked = sorted(((str(guid), float(weight)) for guid, weight in recommendations), key=lambda p: (-p[1], p[0]))
    return [(guid, weight) for guid, weight in ranked if guid not in installed][:limit]
