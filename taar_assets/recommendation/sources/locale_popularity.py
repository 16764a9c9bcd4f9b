"""Locale popularity: the add-ons most clients of the client's locale have (the seed's geo-popular type)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse

from taar_assets.recommendation.sources.base import (
    CandidateSource,
    Client,
    Profile,
    Scored,
    TrainingData,
    addon_matrix,
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
        return cls.from_clients(data.addons_per_client, data.samples)

    @classmethod
    def from_clients(
        cls, addons_per_client: pd.DataFrame, samples: pd.DataFrame, top_k: int = 100, min_clients: int = 50
    ) -> LocalePopularity:
        """Count from ``addons_per_client`` (client_id, addon_ids) and each client's locale in
        ``samples`` (client_id, locale); keep the ``top_k`` add-ons per table (ties: add-on id)."""
        check_positive("top_k", top_k)
        locale_of = samples.drop_duplicates("client_id").set_index("client_id")["locale"]
        locales = locale_of.reindex(addons_per_client["client_id"]).to_numpy(dtype=object)
        has_locale = ~pd.isna(locales)
        matrix, guids = addon_matrix(list(addons_per_client["addon_ids"]))
        names, locale_codes = np.unique(locales[has_locale].astype(str), return_inverse=True)
        # (locales x clients) indicator times (clients x add-ons): clients per locale and add-on.
        membership = sparse.csr_array(
            (np.ones(len(locale_codes)), (locale_codes, np.flatnonzero(has_locale))),
            shape=(len(names), matrix.shape[0]),
        )
        counts = (membership @ matrix).toarray()
        clients_by_locale = np.asarray(membership.sum(axis=1)).ravel()
        by_locale, sizes = {}, {}
        for index, locale in enumerate(names):
            if clients_by_locale[index] >= min_clients:
                by_locale[str(locale)] = _top_shares(counts[index], clients_by_locale[index], guids, top_k)
                sizes[str(locale)] = int(clients_by_locale[index])
        overall = _top_shares(np.asarray(matrix.sum(axis=0)).ravel(), matrix.shape[0], guids, top_k)
        return cls(by_locale, overall, sizes, int(matrix.shape[0]))

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



def _top_shares(counts: np.ndarray, clients: float, guids: np.ndarray, top_k: int) -> list[tuple[str, float]]:
    """The ``top_k`` add-ons by count (ties: id, as guids are sorted), as (id, count / clients)."""
    present = np.flatnonzero(counts > 0)
    best = present[np.argsort(-counts[present], kind="stable")][:top_k]
    return [(str(guids[index]), float(counts[index] / clients)) for index in best]


