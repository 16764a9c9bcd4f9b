"""The curated source: the whitelist in its curated order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from taar_assets.recommendation.sources.base import CandidateSource, Client, Profile, Scored, TrainingData, installed_addons


@dataclass(frozen=True)
class Curated(CandidateSource):
    """The curated whitelist in its order; entry i of n scores ``1 - i / n`` (first: 1)."""

    name: ClassVar[str] = "curated"
    order: ClassVar[int] = 3
    discovery: ClassVar[bool] = True
    features: ClassVar[tuple[str, ...]] = ("curated_score",)  # 1 for the first entry down to 1/n, 0 if absent

    guids: list[str]
    _score: dict[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.guids)
        scores: dict[str, float] = {}
        for position, guid in enumerate(self.guids):
            scores.setdefault(guid, 1.0 - position / n)  # a repeated GUID keeps its first place
        object.__setattr__(self, "_score", scores)

    def score(self, addon_id: str) -> float:
        return self._score.get(addon_id, 0.0)

    def scores(self, profile: Profile, limit: int | None = 10) -> Scored:
        installed = set(installed_addons(profile))
        return [(guid, score) for guid, score in self._score.items() if guid not in installed][:limit]

    @classmethod
    def fit(cls, data: TrainingData) -> Curated | None:
        return cls(list(data.whitelist)) if data.whitelist is not None else None

    def propose(self, client: Client, limit: int | None) -> Scored:
        return self.scores(client.profile, limit)

    def addon_features(self, client: Client, addon_id: str) -> dict[str, float]:
        return {"curated_score": self.score(addon_id)}

    def to_dict(self) -> dict[str, Any]:
        return {"guids": list(self.guids)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Curated:
        return cls(guids=[str(guid) for guid in values["guids"]])


