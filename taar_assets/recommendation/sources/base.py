"""What every candidate source is: the small protocol a new source implements.

A source proposes add-ons a client does not have yet, best first, with a score comparable
within the source (``propose``), and contributes per-add-on features that every candidate
carries whichever source proposed it (``addon_features``), so a model can compare candidates
across sources. A fitted source learns from the training clients (``fit``) and round-trips
through JSON (``to_dict``/``from_dict``); the similarity source is not fitted, it relays the
similarity model's recommendations.

To add a source: one new module in this package defining a ``CandidateSource`` subclass with
a unique ``name`` and ``order``; the registry (``taar_assets.recommendation.sources``) finds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

Profile = Mapping[str, Any]
Scored = list[tuple[str, float]]  # (addon_id, score), best first


@dataclass(frozen=True)
class TrainingData:
    """What fitted sources learn from: counts over the training clients (an ``AddonCounts``)
    and the day's curated whitelist."""

    counts: Any
    whitelist: Sequence[str] | None = None


@dataclass
class Client:
    """One client being served: its profile, its installed add-ons, the similarity model's
    recommendations for it (None: none) and what sources computed for it (``memo``)."""

    profile: Profile
    similar: Scored | None = None
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def installed(self) -> list[str]:
        return installed_addons(self.profile)

    def remembered(self, key: str, compute) -> Any:
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


class CandidateSource(ABC):
    name: ClassVar[str]  # the candidate type, e.g. "locale_popularity"
    order: ClassVar[int]  # place among the sources: proposals and features come in this order
    discovery: ClassVar[bool]  # proposes add-ons the client has no first-degree relation to
    features: ClassVar[tuple[str, ...]] = ()  # the per-add-on features this source contributes
    fitted: ClassVar[bool] = True  # learnt by `fit` and stored in the candidate_sources document

    @classmethod
    def fit(cls, data: TrainingData) -> CandidateSource | None:
        """The source learnt from `data` (None: this source has nothing to learn from it)."""
        raise NotImplementedError(f"{cls.__name__} is not fitted")

    @abstractmethod
    def propose(self, client: Client, limit: int | None) -> Scored:
        """At most `limit` add-ons for the client, not installed, best first."""

    def addon_features(self, client: Client, addon_id: str) -> dict[str, float]:
        """This source's `features` for one add-on and client (0 when it knows nothing of it)."""
        return dict.fromkeys(self.features, 0.0)

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CandidateSource:
        raise NotImplementedError


def installed_addons(profile: Profile) -> list[str]:
    return list(profile.get("installed_addons") or ())


def check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def pairs(entries: Iterable[Sequence]) -> list[tuple[str, float]]:
    return [(str(guid), float(value)) for guid, value in entries]
