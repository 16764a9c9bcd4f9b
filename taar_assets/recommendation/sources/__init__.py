"""Candidate sources: where the add-ons the ranker orders come from (SPEC section 8).

Four sources ("candidate types") each propose add-ons a client does not have yet, as
``ranker.Candidate`` with the source's name, its score (higher is better, comparable within the
source) and features:

- ``similarity``: the similarity model's recommendations (SPEC section 6 weights);
- ``locale_popularity``: the add-ons most clients of the client's locale have (the seed's
  geo-popular type), with a fallback over all clients for unknown or small locales;
- ``co_installation``: add-ons often installed together with the client's add-ons
  (P(neighbour | installed add-on), averaged over the client's add-ons);
- ``curated``: the curated whitelist, earlier entries scoring higher.

Co-installation is derived from the client's own add-ons, so it is "first-degree"
(``discovery=False``); the other three propose add-ons the client has no relation to yet
(``discovery=True``, the seed's out-of-network), which is what producer boosting re-sorts.
``producer`` and ``subscribed_creator`` come from the add-on metadata when it is given.

The fitted sources (``LocalePopularity``, ``CoInstallation``, ``Curated``) are plain dataclasses
with a JSON form, so the pipeline can publish them next to the model; ``CandidateSources``
bundles them. Its ``candidates`` gives every candidate of a client the same per-add-on
features (``ADDON_FEATURES``: each source's score for that add-on, popularity, metadata), so a
model can compare candidates across sources (``install_model``).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from taar_assets.recommendation.addon_metadata import AddonInfo
from taar_assets.similarity.features import FEATURES, PROFILE_FIELDS, Feature
from taar_assets.recommendation.ranker import Candidate

SIMILARITY = "similarity"
LOCALE_POPULARITY = "locale_popularity"
CO_INSTALLATION = "co_installation"
CURATED = "curated"
SOURCE_TYPES = (SIMILARITY, LOCALE_POPULARITY, CO_INSTALLATION, CURATED)
DISCOVERY_SOURCES = frozenset({SIMILARITY, LOCALE_POPULARITY, CURATED})
SCHEMA_VERSION = 1

# The features every candidate carries (candidate.features), whichever source proposed it.
ADDON_FEATURES = (
    "similarity_score",  # the add-on's similarity weight / the client's largest, 0-1
    "locale_share",  # share of the client's locale's clients having it (fallback: all clients)
    "overall_share",  # share of all clients having it
    "co_installation_score",  # mean over the client's add-ons of P(it | that add-on)
    "co_installation_log_lift",  # ln of the largest lift over the client's add-ons, 0 if none
    "curated_score",  # 1 for the first whitelist entry down to 1/n for the last, 0 if absent
    "source_rank_score",  # 1 / (1 + position in the proposing source's list)
    "has_metadata",  # 1 when the metadata describes the add-on, else the next four are 0
    "log_weekly_users",
    "average_rating",
    "flagged",  # policy violation or an abuse flag
    "subscribed",
)

Profile = Mapping[str, Any]
Scored = list[tuple[str, float]]  # (addon_id, score), best first
# Similarity recommendations for a batch of profiles, e.g. lambda ps: model.recommend_batch(ps, limit=50).
SimilarityBatch = Callable[[Sequence[Profile]], list[Scored]]


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------


def addon_matrix(addon_lists: Sequence[Iterable[str]]) -> tuple[sparse.csr_array, np.ndarray]:
    """The (clients x add-ons) 0/1 matrix of ``addon_lists`` and the add-on id of each column (sorted).

    An add-on listed twice by a client counts once.
    """
    lengths = np.fromiter((len(addons) for addons in addon_lists), dtype=np.int64, count=len(addon_lists))
    flat = np.array(list(itertools.chain.from_iterable(addon_lists)), dtype=object)
    guids, columns = np.unique(flat.astype(str), return_inverse=True) if len(flat) else (np.array([], str), [])
    rows = np.repeat(np.arange(len(addon_lists)), lengths)
    matrix = sparse.csr_array(
        (np.ones(len(rows)), (rows, np.asarray(columns, dtype=np.int64))), shape=(len(addon_lists), len(guids))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, guids


def profiles_from_samples(samples: pd.DataFrame, installed: Sequence[Iterable[str]]) -> list[dict[str, Any]]:
    """Client profiles as the TAAR service sees them, one per row of ``samples``.

    ``samples`` has the samples stage's feature columns; ``installed`` the add-ons of each row.
    The profile uses the service's keys and units (``PROFILE_FIELDS``: ``geo_city``,
    ``subsession_length`` in seconds, ...) and ``installed_addons``; missing values are None.
    """
    if len(installed) != len(samples):
        raise ValueError(f"installed has {len(installed)} lists for {len(samples)} sample rows")

    def column(feature: Feature) -> list:
        values = samples[feature.name].to_numpy(dtype=object)
        missing = pd.isna(values)
        if feature.kind == "categorical":
            return [None if gone else str(value) for value, gone in zip(values, missing)]
        return [None if gone else float(value) * feature.service_scale for value, gone in zip(values, missing)]

    by_key = {feature.service_key: feature for feature in FEATURES}
    columns = {key: column(by_key[key]) for key in PROFILE_FIELDS}
    return [
        {**{name: values[row] for name, values in columns.items()}, "installed_addons": [str(g) for g in addons]}
        for row, addons in enumerate(installed)
    ]


def with_samples(addons_per_client: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """The clients of ``addons_per_client`` found in ``samples``, with their sample columns
    (not the raw ``active_addons``), in client id order (so results do not depend on row order)."""
    joined = addons_per_client.merge(samples.drop(columns="active_addons", errors="ignore"), on="client_id")
    return joined.sort_values("client_id", ignore_index=True)


def installed_addons(profile: Profile) -> list[str]:
    return list(profile.get("installed_addons") or ())


# ------------------------------------------------------------------------------------------
# Fitted sources
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalePopularity:
    """Each locale's most common add-ons as ``(addon_id, share of the locale's clients having it)``.

    ``overall`` is the same over all clients; it serves locales missing from ``by_locale``
    (unknown, missing, or with fewer than ``min_clients`` clients when fitted).
    ``clients_by_locale`` and ``clients`` count the clients each table was computed from.
    """

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
    def fit(
        cls, addons_per_client: pd.DataFrame, samples: pd.DataFrame, top_k: int = 100, min_clients: int = 50
    ) -> LocalePopularity:
        """Count from ``addons_per_client`` (client_id, addon_ids) and each client's locale in
        ``samples`` (client_id, locale); keep the ``top_k`` add-ons per table (ties: add-on id)."""
        _check_positive("top_k", top_k)
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
            by_locale={locale: _pairs(top) for locale, top in values["by_locale"].items()},
            overall=_pairs(values["overall"]),
            clients_by_locale={locale: int(n) for locale, n in values["clients_by_locale"].items()},
            clients=int(values["clients"]),
        )


@dataclass(frozen=True)
class CoInstallation:
    """For each add-on a, its ``top_k`` neighbours b as ``(b, P(b | a), lift)``, best first.

    P(b | a) is the share of the clients having a that also have b; lift = P(b | a) / P(b)
    (above 1: more often together than chance). Pairs seen together by fewer than
    ``min_co_installs`` clients are left out when fitting (too few to trust).
    """

    neighbours: dict[str, list[tuple[str, float, float]]]
    clients: int

    @classmethod
    def fit(cls, addons_per_client: pd.DataFrame, top_k: int = 20, min_co_installs: int = 5) -> CoInstallation:
        """Count co-installations in the valid add-on lists of ``addons_per_client`` (sparse
        ``X.T @ X``) and keep each add-on's ``top_k`` neighbours by P(b | a) (ties: lift, id)."""
        _check_positive("top_k", top_k)
        matrix, guids = addon_matrix(list(addons_per_client["addon_ids"]))
        clients = matrix.shape[0]
        holders = np.asarray(matrix.sum(axis=0)).ravel()
        together = (matrix.T @ matrix).tocoo()
        keep = (together.row != together.col) & (together.data >= min_co_installs)
        a, b, count = together.row[keep], together.col[keep], together.data[keep]
        conditional = count / holders[a]
        lift = conditional / (holders[b] / clients)
        # Sort by add-on, then best neighbour first; b breaks ties as guids are sorted.
        order = np.lexsort((b, -lift, -conditional, a))
        a, b, conditional, lift = a[order], b[order], conditional[order], lift[order]
        first_of_row = np.searchsorted(a, a, side="left")
        kept = np.arange(len(a)) - first_of_row < top_k
        neighbours: dict[str, list[tuple[str, float, float]]] = {}
        for row, column, probability, ratio in zip(a[kept], b[kept], conditional[kept], lift[kept]):
            neighbours.setdefault(str(guids[row]), []).append((str(guids[column]), float(probability), float(ratio)))
        return cls(neighbours, int(clients))

    def strengths(self, installed: Iterable[str]) -> dict[str, tuple[float, float]]:
        """For each neighbour b of the installed add-ons (not itself installed):
        ``(mean over the installed add-ons known here of P(b | a), largest lift)``."""
        installed = set(installed)
        known = [guid for guid in installed if guid in self.neighbours]
        totals: dict[str, list[float]] = {}
        for guid in known:
            for neighbour, probability, lift in self.neighbours[guid]:
                if neighbour in installed:
                    continue
                total = totals.setdefault(neighbour, [0.0, 0.0])
                total[0] += probability
                total[1] = max(total[1], lift)
        return {neighbour: (total / len(known), lift) for neighbour, (total, lift) in totals.items()}

    def scores(self, profile: Profile, limit: int | None = 10) -> Scored:
        """Neighbours of the client's add-ons by mean P(b | a), best first (ties: id)."""
        return _strongest(self.strengths(installed_addons(profile)), limit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "neighbours": {guid: [list(entry) for entry in entries] for guid, entries in self.neighbours.items()},
            "clients": self.clients,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CoInstallation:
        return cls(
            neighbours={
                guid: [(str(b), float(p), float(lift)) for b, p, lift in entries]
                for guid, entries in values["neighbours"].items()
            },
            clients=int(values["clients"]),
        )


@dataclass(frozen=True)
class Curated:
    """The curated whitelist in its order; entry i of n scores ``1 - i / n`` (first: 1)."""

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

    def to_dict(self) -> dict[str, Any]:
        return {"guids": list(self.guids)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Curated:
        return cls(guids=[str(guid) for guid in values["guids"]])


def similarity_scores(recommendations: Scored, profile: Profile, limit: int | None = 10) -> Scored:
    """The similarity model's ``(addon_id, weight)`` output, best first, without installed add-ons."""
    installed = set(installed_addons(profile))
    ranked = sorted(((str(guid), float(weight)) for guid, weight in recommendations), key=lambda p: (-p[1], p[0]))
    return [(guid, weight) for guid, weight in ranked if guid not in installed][:limit]


# ------------------------------------------------------------------------------------------
# All sources together
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateSources:
    """The fitted sources (any may be None: it proposes nothing) and how many candidates each
    source proposes per client (``per_source_limit``)."""

    locale_popularity: LocalePopularity | None = None
    co_installation: CoInstallation | None = None
    curated: Curated | None = None
    per_source_limit: int = 20

    def __post_init__(self) -> None:
        _check_positive("per_source_limit", self.per_source_limit)

    @classmethod
    def fit(
        cls,
        addons_per_client: pd.DataFrame,
        samples: pd.DataFrame,
        whitelist: Sequence[str] | None = None,
        per_source_limit: int = 20,
    ) -> CandidateSources:
        """Fit locale popularity and co-installation on ``addons_per_client`` (+ the samples'
        locales) with their defaults; the curated source is ``whitelist`` (None: none)."""
        return cls(
            locale_popularity=LocalePopularity.fit(addons_per_client, samples),
            co_installation=CoInstallation.fit(addons_per_client),
            curated=Curated(list(whitelist)) if whitelist is not None else None,
            per_source_limit=per_source_limit,
        )

    def candidates(
        self,
        profile: Profile,
        similar: Scored | None = None,
        metadata: Mapping[str, AddonInfo] | None = None,
    ) -> list[Candidate]:
        """Every source's candidates for one client, source by source (SOURCE_TYPES order).

        ``similar`` is the similarity model's recommendations for this profile (None: no
        similarity candidates); ``metadata`` gives producers, the subscribed flag and the
        metadata features. The same add-on may come from several sources (one candidate each);
        installed add-ons never come.
        """
        co_installed = self.co_installation.strengths(installed_addons(profile)) if self.co_installation else {}
        proposals: dict[str, Scored] = {}
        if similar is not None:
            proposals[SIMILARITY] = similarity_scores(similar, profile, self.per_source_limit)
        if self.locale_popularity is not None:
            proposals[LOCALE_POPULARITY] = self.locale_popularity.scores(profile, self.per_source_limit)
        if self.co_installation is not None:
            proposals[CO_INSTALLATION] = _strongest(co_installed, self.per_source_limit)
        if self.curated is not None:
            proposals[CURATED] = self.curated.scores(profile, self.per_source_limit)

        similarity_weight = dict(proposals.get(SIMILARITY, ()))
        top_weight = max(similarity_weight.values(), default=0.0)
        locale = profile.get("locale")
        shared: dict[str, dict[str, float]] = {}

        def addon_features(guid: str) -> dict[str, float]:
            if guid not in shared:
                co_score, lift = co_installed.get(guid, (0.0, 0.0))
                features = {
                    "similarity_score": similarity_weight.get(guid, 0.0) / top_weight if top_weight > 0 else 0.0,
                    "locale_share": self.locale_popularity.share(locale, guid) if self.locale_popularity else 0.0,
                    "overall_share": self.locale_popularity.overall_share(guid) if self.locale_popularity else 0.0,
                    "co_installation_score": co_score,
                    "co_installation_log_lift": math.log(lift) if lift > 0 else 0.0,
                    "curated_score": self.curated.score(guid) if self.curated else 0.0,
                }
                features.update(_metadata_features(metadata.get(guid) if metadata else None))
                shared[guid] = features
            return shared[guid]

        candidates = []
        for source in SOURCE_TYPES:
            for position, (guid, score) in enumerate(proposals.get(source, ())):
                info = metadata.get(guid) if metadata else None
                candidates.append(
                    Candidate(
                        addon_id=guid,
                        source=source,
                        source_score=score,
                        producer=info.producer if info else None,
                        discovery=source in DISCOVERY_SOURCES,
                        subscribed_creator=bool(info and info.subscribed),
                        features={**addon_features(guid), "source_rank_score": 1.0 / (1.0 + position)},
                    )
                )
        return candidates

    def to_json(self) -> bytes:
        """The fitted sources as a JSON document ``from_json`` reads back."""
        document = {
            "schema_version": SCHEMA_VERSION,
            "per_source_limit": self.per_source_limit,
            LOCALE_POPULARITY: self.locale_popularity.to_dict() if self.locale_popularity else None,
            CO_INSTALLATION: self.co_installation.to_dict() if self.co_installation else None,
            CURATED: self.curated.to_dict() if self.curated else None,
        }
        return json.dumps(document, allow_nan=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> CandidateSources:
        document = json.loads(data)
        if not isinstance(document, Mapping) or document.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not a candidate sources document of schema_version {SCHEMA_VERSION}")

        def part(name: str, kind):
            return kind.from_dict(document[name]) if document.get(name) is not None else None

        return cls(
            locale_popularity=part(LOCALE_POPULARITY, LocalePopularity),
            co_installation=part(CO_INSTALLATION, CoInstallation),
            curated=part(CURATED, Curated),
            per_source_limit=int(document["per_source_limit"]),
        )


def distinct_candidates(ranked: Iterable[Candidate], limit: int) -> list[Candidate]:
    """The first ``limit`` distinct add-ons of a ranked candidate list, each as the candidate at
    its best place (an add-on proposed by several sources appears once)."""
    chosen: dict[str, Candidate] = {}
    for candidate in ranked:
        if len(chosen) == limit:
            break
        chosen.setdefault(candidate.addon_id, candidate)
    return list(chosen.values())


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def _strongest(strengths: Mapping[str, tuple[float, float]], limit: int | None) -> Scored:
    """Co-installation strengths as (addon_id, mean P(b | a)), best first (ties: id)."""
    ranked = sorted(strengths.items(), key=lambda item: (-item[1][0], item[0]))
    return [(guid, score) for guid, (score, _) in ranked[:limit]]


def _metadata_features(info: AddonInfo | None) -> dict[str, float]:
    if info is None:
        return {"has_metadata": 0.0, "log_weekly_users": 0.0, "average_rating": 0.0, "flagged": 0.0, "subscribed": 0.0}
    flagged = info.policy_violation or info.abuse_flagged or info.abuse_flagged_severe
    return {
        "has_metadata": 1.0,
        "log_weekly_users": math.log1p(info.weekly_users),
        "average_rating": info.average_rating,
        "flagged": float(flagged),
        "subscribed": float(info.subscribed),
    }


def _top_shares(counts: np.ndarray, clients: float, guids: np.ndarray, top_k: int) -> list[tuple[str, float]]:
    """The ``top_k`` add-ons by count (ties: id, as guids are sorted), as (id, count / clients)."""
    present = np.flatnonzero(counts > 0)
    best = present[np.argsort(-counts[present], kind="stable")][:top_k]
    return [(str(guids[index]), float(counts[index] / clients)) for index in best]


def _pairs(entries: Iterable[Sequence]) -> list[tuple[str, float]]:
    return [(str(guid), float(value)) for guid, value in entries]


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
