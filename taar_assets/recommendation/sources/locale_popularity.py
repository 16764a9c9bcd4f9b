"""Locale popularity: the add-ons most clients of the client's locale have (the seed's geo-popular type)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from taar_assets.recommendation.counts import AddonCounts
from taar_assets.recommendation.sources.base import (
    CandidateSource,
    Client,
    Profile,
    Scored,
    TrainingData,
    check_positive,
    installed_addons,
    pairs,
)


@dataclass(frozen=True)
class LocalePopularity(CandidateSource):
    """Each locale's most common add-ons as ``(addon_id, share of the locale's clients having it)``.

    ``overall`` is the same over all clients; it serves locales missing from ``by_locale``
    (unknown, missing, or with fewer than ``min_clients`` clients when fitted).
    ``clients_by_locale`` and ``clients`` count the clients each table was computed from.
    """

    name: ClassVar[str] = "locale_popularity"  # the seed ranker's geo-popular type
    order: ClassVar[int] = 1
    discovery: ClassVar[bool] = True
    features: ClassVar[tuple[str, ...]] = (
        "locale_share",  # share of the client's locale's clients having it (fallback: all clients)
        "overall_share",  # share of all clients having it
    )

    by_locale: dict[str, list[tuple[str, float]]]
    overall: list[tuple[str, float]]
    clients_by_locale: dict[str, int]
    clients: int
    _shares: dict[str | None, dict[str, float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shares: dict[str | None, dict[str, float]] = {locale: dict(top) for locale, top in self.by_locale.items()}
        shares[None] = dict(self.overall)
        object.__setattr__(self, "_shares", shares)

    @classmethod
    def fit(cls, data: TrainingData) -> LocalePopularity:
        return cls.from_counts(data.counts)

    @classmethod
    def from_counts(cls, counts: AddonCounts, top_k: int = 100, min_clients: int = 50) -> LocalePopularity:
        """Keep the ``top_k`` add-ons (ties: add-on id) overall and for each locale with at least
        ``min_clients`` clients."""
        check_positive("top_k", top_k)
        by_locale, sizes = {}, {}
        holders_by_locale = dict(tuple(counts.locale_holders.groupby("locale", sort=False)))
        for locale, clients in sorted(zip(counts.locale_clients["locale"], counts.locale_clients["clients"])):
            if clients >= min_clients:
                by_locale[str(locale)] = _top_shares(holders_by_locale.get(locale), int(clients), top_k)
                sizes[str(locale)] = int(clients)
        return cls(by_locale, _top_shares(counts.holders, counts.clients, top_k), sizes, counts.clients)

    @classmethod
    def from_clients(
        cls, addons_per_client: pd.DataFrame, samples: pd.DataFrame, top_k: int = 100, min_clients: int = 50
    ) -> LocalePopularity:
        """Counted in memory from ``addons_per_client`` (client_id, addon_ids) and the clients'
        locales in ``samples`` (client_id, locale)."""
        return cls.from_counts(AddonCounts.from_clients(addons_per_client, samples), top_k, min_clients)

    def ranking(self, locale: str | None) -> list[tuple[str, float]]:
        """The table used for ``locale``: its own, or ``overall`` when it has none."""
        return self.by_locale.get(locale, self.overall) if locale is not None else self.overall

    def share(self, locale: str | None, addon_id: str) -> float:
        """Share of ``locale``'s clients (fallback: all) having the add-on; 0 beyond the top_k."""
        table = self._shares.get(locale) if locale in self.by_locale else self._shares[None]
        return table.get(addon_id, 0.0)

    def overall_share(self, addon_id: str) -> float:
        return self._shares[None].get(addon_id, 0.0)

    def scores(self, profile: Profile, limit: int | None = 10) -> Scored:
        """The locale's top add-ons the client does not have, with their share, at most ``limit``."""
        installed = set(installed_addons(profile))
        return [(guid, share) for guid, share in self.ranking(profile.get("locale")) if guid not in installed][:limit]

    def propose(self, client: Client, limit: int | None) -> Scored:
        return self.scores(client.profile, limit)

    def addon_features(self, client: Client, addon_id: str) -> dict[str, float]:
        return {
            "locale_share": self.share(client.profile.get("locale"), addon_id),
            "overall_share": self.overall_share(addon_id),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_locale": {locale: [list(pair) for pair in top] for locale, top in self.by_locale.items()},
            "overall": [list(pair) for pair in self.overall],
            "clients_by_locale": dict(self.clients_by_locale),
            "clients": self.clients,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LocalePopularity:
        return cls(
            by_locale={locale: pairs(top) for locale, top in values["by_locale"].items()},
            overall=pairs(values["overall"]),
            clients_by_locale={locale: int(n) for locale, n in values["clients_by_locale"].items()},
            clients=int(values["clients"]),
        )



def _top_shares(holders: pd.DataFrame | None, clients: int, top_k: int) -> list[tuple[str, float]]:
    """The ``top_k`` add-ons of ``holders`` (addon_id, clients) by count, ties by id, as (id, count / clients)."""
    if holders is None or holders.empty:
        return []
    best = holders[holders["clients"] > 0].sort_values(["clients", "addon_id"], ascending=[False, True]).head(top_k)
    return [(str(guid), int(count) / clients) for guid, count in zip(best["addon_id"], best["clients"])]
