"""Candidate sources: where the add-ons the ranker orders come from (the seed ranker's candidate types).

Every module of this package that defines a ``CandidateSource`` subclass (``base.py``) is a
source; ``SOURCES`` lists them in their ``order``:

- ``similarity``: the similarity model's recommendations (TAAR's weights);
- ``locale_popularity``: the add-ons most clients of the client's locale have, with a fallback
  over all clients for unknown or small locales;
- ``co_installation``: add-ons often installed together with the client's add-ons (first-degree:
  the only source that is not discovery);
- ``curated``: the curated whitelist, earlier entries scoring higher.

``CandidateSources`` bundles the fitted ones: it gives every candidate of a client the same
per-add-on features (``ADDON_FEATURES``: each source's, the proposing source's rank, the add-on
metadata), so a model can compare candidates across sources (``install_model``), and it stores
them as one JSON document.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taar_assets.recommendation.addon_metadata import AddonInfo
from taar_assets.recommendation.ranker import Candidate
from taar_assets.recommendation.sources.base import (
    CandidateSource,
    Client,
    Profile,
    Scored,
    TrainingData,
    check_positive,
)
from taar_assets.recommendation.sources.co_installation import CoInstallation
from taar_assets.recommendation.sources.curated import Curated
from taar_assets.recommendation.sources.locale_popularity import LocalePopularity
from taar_assets.recommendation.sources.similarity import SimilarityBatch, SimilaritySource, similarity_scores

SCHEMA_VERSION = 1


def _discover() -> tuple[type[CandidateSource], ...]:
    """Every CandidateSource subclass defined in this package's modules, in `order`."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    kinds = sorted(CandidateSource.__subclasses__(), key=lambda kind: kind.order)
    names = [kind.name for kind in kinds]
    if len(set(names)) != len(names) or len({kind.order for kind in kinds}) != len(kinds):
        raise ValueError(f"candidate sources need unique names and orders, got {[(k.name, k.order) for k in kinds]}")
    return tuple(kinds)


SOURCES = _discover()
SOURCE_TYPES = tuple(kind.name for kind in SOURCES)
FITTED_SOURCES = tuple(kind for kind in SOURCES if kind.fitted)
DISCOVERY_SOURCES = frozenset(kind.name for kind in SOURCES if kind.discovery)
SIMILARITY, LOCALE_POPULARITY, CO_INSTALLATION, CURATED = (
    SimilaritySource.name, LocalePopularity.name, CoInstallation.name, Curated.name
)

METADATA_FEATURES = ("has_metadata", "log_weekly_users", "average_rating", "flagged", "subscribed")
# The features every candidate carries (candidate.features), whichever source proposed it.
ADDON_FEATURES = (
    *(name for kind in SOURCES for name in kind.features),
    "source_rank_score",  # 1 / (1 + position in the proposing source's list)
    *METADATA_FEATURES,  # has_metadata: 1 when the metadata describes the add-on, else all 0
)


@dataclass(frozen=True)
class CandidateSources:
    """The fitted sources by name (a missing one proposes nothing) and how many candidates
    each source proposes per client (``per_source_limit``). Similarity always takes part: it
    proposes what the similarity model recommended for the client, if anything."""

    fitted: Mapping[str, CandidateSource] = field(default_factory=dict)
    per_source_limit: int = 20

    def __post_init__(self) -> None:
        check_positive("per_source_limit", self.per_source_limit)
        unknown = sorted(set(self.fitted) - {kind.name for kind in FITTED_SOURCES})
        if unknown:
            raise ValueError(f"unknown fitted sources {unknown}; known: {[k.name for k in FITTED_SOURCES]}")

    @classmethod
    def fit(cls, data: TrainingData, per_source_limit: int = 20) -> CandidateSources:
        """Every fitted source learnt from ``data`` with its defaults."""
        fitted = {kind.name: kind.fit(data) for kind in FITTED_SOURCES}
        return cls({name: source for name, source in fitted.items() if source is not None}, per_source_limit)

    def get(self, name: str) -> CandidateSource | None:
        return self.fitted.get(name)

    def _taking_part(self) -> list[CandidateSource]:
        similarity = SimilaritySource(self.per_source_limit)
        return [similarity if kind is SimilaritySource else self.fitted[kind.name]
                for kind in SOURCES if kind is SimilaritySource or kind.name in self.fitted]

    def candidates(
        self,
        profile: Profile,
        similar: Scored | None = None,
        metadata: Mapping[str, AddonInfo] | None = None,
    ) -> list[Candidate]:
        """Every source's candidates for one client, source by source (``SOURCES`` order).

        ``similar`` is the similarity model's recommendations for this profile (None: no
        similarity candidates); ``metadata`` gives producers, the subscribed flag and the
        metadata features. The same add-on may come from several sources (one candidate each);
        installed add-ons never come.
        """
        client = Client(profile, similar)
        sources = self._taking_part()
        proposals = {source.name: source.propose(client, self.per_source_limit) for source in sources}
        shared: dict[str, dict[str, float]] = {}

        def addon_features(guid: str) -> dict[str, float]:
            if guid not in shared:
                features = {name: 0.0 for kind in SOURCES for name in kind.features}
                for source in sources:
                    features.update(source.addon_features(client, guid))
                features.update(_metadata_features(metadata.get(guid) if metadata else None))
                shared[guid] = features
            return shared[guid]

        candidates = []
        for source in sources:
            for position, (guid, score) in enumerate(proposals[source.name]):
                info = metadata.get(guid) if metadata else None
                candidates.append(
                    Candidate(
                        addon_id=guid,
                        source=source.name,
                        source_score=score,
                        producer=info.producer if info else None,
                        discovery=source.discovery,
                        subscribed_creator=bool(info and info.subscribed),
                        features={**addon_features(guid), "source_rank_score": 1.0 / (1.0 + position)},
                    )
                )
        return candidates

    def to_json(self) -> bytes:
        """The fitted sources as a JSON document ``from_json`` reads back."""
        document: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "per_source_limit": self.per_source_limit}
        for kind in FITTED_SOURCES:
            document[kind.name] = self.fitted[kind.name].to_dict() if kind.name in self.fitted else None
        return json.dumps(document, allow_nan=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> CandidateSources:
        document = json.loads(data)
        if not isinstance(document, Mapping) or document.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not a candidate sources document of schema_version {SCHEMA_VERSION}")
        fitted = {
            kind.name: kind.from_dict(document[kind.name]) for kind in FITTED_SOURCES if document.get(kind.name) is not None
        }
        return cls(fitted, per_source_limit=int(document["per_source_limit"]))


def _metadata_features(info: AddonInfo | None) -> dict[str, float]:
    if info is None:
        return dict.fromkeys(METADATA_FEATURES, 0.0)
    flagged = info.policy_violation or info.abuse_flagged or info.abuse_flagged_severe
    return {
        "has_metadata": 1.0,
        "log_weekly_users": math.log1p(info.weekly_users),
        "average_rating": info.average_rating,
        "flagged": float(flagged),
        "subscribed": float(info.subscribed),
    }


__all__ = [
    "ADDON_FEATURES", "CO_INSTALLATION", "CURATED", "DISCOVERY_SOURCES", "LOCALE_POPULARITY", "SIMILARITY",
    "SOURCES", "SOURCE_TYPES", "CandidateSource", "CandidateSources", "Client", "CoInstallation", "Curated",
    "LocalePopularity", "Profile", "Scored", "SimilarityBatch", "SimilaritySource", "TrainingData", "similarity_scores",
]
