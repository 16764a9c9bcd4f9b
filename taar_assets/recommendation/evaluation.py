"""Offline evaluation of the recommenders on held-out add-ons.

Clients are split deterministically by a hash of their id (``counts.ClientSplit``): evaluation
clients (by default 20%) are used for nothing else; the fitted candidate sources and the install
model learn from the other, training clients. The engine draws a bounded, seeded sample of each
group, so the cost does not grow with the population. (The similarity model is the pipeline's,
built from all clients: a few evaluation clients may be among its donors.)

For each evaluation client part of its valid add-ons is held out (30%, at least 1, at least one
kept); its profile comes from the samples (service names and units) with the kept add-ons as
``installed_addons``. Each method recommends ``k`` add-ons:

- ``locale_popularity``: the locale's most common add-ons (fallback: all clients');
- ``similarity``: the similarity model alone (docs/behaviour.md §5);
- ``ranker``: every source's candidates, scored by the install model and ordered by
  ``ranker.rank`` with heavy ranking (producer boosting on when metadata is given).

Metrics per method: hit-rate@k (share of clients with at least one held-out add-on in their
top k), precision@k (held-out add-ons in the top k / k, averaged over clients) and catalogue
coverage (distinct add-ons recommended to anyone / catalogue size).
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from taar_assets.recommendation.addon_metadata import AddonInfo
from taar_assets.recommendation.install_model import InstallModel
from taar_assets.recommendation.profiles import profiles_from_samples
from taar_assets.recommendation.ranker import RankerConfig
from taar_assets.recommendation.serving import Recommender
from taar_assets.recommendation.sources import (
    LOCALE_POPULARITY,
    CandidateSources,
    Client,
    SimilarityBatch,
    similarity_scores,
)

LOCALE_POPULARITY_METHOD, SIMILARITY_METHOD, RANKER_METHOD = "locale_popularity", "similarity", "ranker"


@dataclass(frozen=True)
class MethodScores:
    """One method's figures over ``clients`` evaluation clients."""

    hit_rate: float
    precision: float
    coverage: float
    clients: int
    recommended_addons: int  # distinct add-ons recommended to anyone


@dataclass(frozen=True)
class EvaluationReport:
    """Scores per method at ``k``, the install model used by the ranker, and run facts."""

    k: int
    methods: dict[str, MethodScores]
    install_model: InstallModel
    evaluation_clients: int
    catalogue_size: int
    seconds: dict[str, float] = field(default_factory=dict)
    ranker_metrics: dict[str, int] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per method: hit_rate, precision, coverage, clients, recommended_addons."""
        return pd.DataFrame({name: vars(scores) for name, scores in self.methods.items()}).T

    def chart_png(self) -> bytes:
        return metrics_chart_png(self.methods, self.k)


def hold_out(
    addon_lists: Sequence[Sequence[str]], fraction: float = 0.3, seed: int = 0
) -> tuple[list[list[str]], list[list[str]]]:
    """Split each list into (kept, held out): ``round(fraction * n)`` held out, at least 1, and
    at least 1 kept (a list of fewer than 2 add-ons cannot be split: ValueError)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for position, addons in enumerate(addon_lists):
        addons = list(addons)
        if len(addons) < 2:
            raise ValueError(f"client {position} has {len(addons)} add-on(s); at least 2 are needed to hold one out")
        count = min(len(addons) - 1, max(1, round(fraction * len(addons))))
        chosen = set(rng.choice(len(addons), size=count, replace=False).tolist())
        kept.append([guid for i, guid in enumerate(addons) if i not in chosen])
        held.append([guid for i, guid in enumerate(addons) if i in chosen])
    return kept, held


@dataclass(frozen=True)
class HeldOutClients:
    """Evaluation clients: ids, service profiles with the kept add-ons installed, held-out add-ons."""

    client_ids: list[str]
    profiles: list[dict]
    held_out: list[list[str]]


def held_out_clients(clients: pd.DataFrame, held_out_fraction: float = 0.3, seed: int = 0) -> HeldOutClients:
    """`clients` (client_id, addon_ids and the sample features, in client id order: the engine's
    sample of evaluation clients) with part of their add-ons held out (``hold_out``)."""
    kept, held = hold_out([list(addons) for addons in clients["addon_ids"]], held_out_fraction, seed)
    return HeldOutClients(clients["client_id"].tolist(), profiles_from_samples(clients, kept), held)


def recommendation_scores(
    recommendations: Sequence[Sequence[str]], held_out: Sequence[Sequence[str]], k: int, catalogue_size: int
) -> MethodScores:
    """hit-rate@k, precision@k and coverage of one method's recommendations (only the first k
    of each list count; precision divides by k even when a list is shorter)."""
    if len(recommendations) != len(held_out) or not held_out:
        raise ValueError(f"need one recommendation list per client, got {len(recommendations)} for {len(held_out)}")
    hits = np.array([len(set(top[:k]) & set(held)) for top, held in zip(recommendations, held_out)])
    recommended = {guid for top in recommendations for guid in top[:k]}
    return MethodScores(
        hit_rate=float((hits > 0).mean()),
        precision=float(hits.mean() / k),
        coverage=len(recommended) / catalogue_size if catalogue_size else 0.0,
        clients=len(held_out),
        recommended_addons=len(recommended),
    )


def evaluate(
    clients: pd.DataFrame,
    similarity: SimilarityBatch,
    sources: CandidateSources,
    install_model: InstallModel,
    whitelist: Sequence[str],
    metadata: Mapping[str, AddonInfo] | None = None,
    *,
    k: int = 10,
    held_out_fraction: float = 0.3,
    seed: int = 0,
    ranker_config: RankerConfig | None = None,
) -> EvaluationReport:
    """Evaluate the three methods (module docstring) on ``clients``: evaluation clients never
    used for fitting (client_id, addon_ids and the sample features, in client id order: the
    engine's bounded sample). ``sources`` and ``install_model`` were fitted on training clients.

    ``similarity`` gives the similarity model's recommendations for a batch of profiles (e.g.
    ``lambda profiles: model.recommend_batch(profiles, limit=None)``); ``whitelist`` is the
    catalogue coverage is measured against. ``ranker_config`` defaults to heavy ranking with
    producer boosting on exactly when ``metadata`` is given.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    evaluating = held_out_clients(clients, held_out_fraction, seed)
    profiles, held = evaluating.profiles, evaluating.held_out
    similar = similarity(profiles)
    seconds["similarity"] = time.perf_counter() - started

    started = time.perf_counter()
    config = ranker_config or RankerConfig(enable_producer_boosting=metadata is not None)
    recommender = Recommender(sources=sources, install_model=install_model, metadata=metadata, ranker=config)
    popularity = sources.get(LOCALE_POPULARITY)
    recommendations: dict[str, list[list[str]]] = {
        LOCALE_POPULARITY_METHOD: [[guid for guid, _ in popularity.propose(Client(profile), k)] for profile in profiles],
        SIMILARITY_METHOD: [
            [guid for guid, _ in similarity_scores(recommended, profile, k)]
            for recommended, profile in zip(similar, profiles)
        ],
        RANKER_METHOD: [],
    }
    for client_id, profile, recommended in zip(evaluating.client_ids, profiles, similar):
        served = recommender.serve(profile, recommended, client_id, k)
        recommendations[RANKER_METHOD].append([candidate.addon_id for candidate in served])
    seconds["rank"] = time.perf_counter() - started

    catalogue_size = len(set(whitelist))
    return EvaluationReport(
        k=k,
        methods={
            name: recommendation_scores(lists, held, k, catalogue_size) for name, lists in recommendations.items()
        },
        install_model=install_model,
        evaluation_clients=len(clients),
        catalogue_size=catalogue_size,
        seconds=seconds,
        ranker_metrics=recommender.metrics.as_dict(),
    )


def metrics_chart_png(methods: Mapping[str, MethodScores], k: int) -> bytes:
    """A grouped bar chart (hit-rate, precision, coverage per method) as PNG bytes."""
    metric_names = (("hit_rate", f"hit-rate@{k}"), ("precision", f"precision@{k}"), ("coverage", "catalogue coverage"))
    # A bare Figure (no pyplot): rendered by the Agg canvas, no global state, no display needed.
    figure = Figure(figsize=(7, 3.2))
    axis = figure.subplots()
    width = 0.8 / max(1, len(methods))
    positions = np.arange(len(metric_names))
    for offset, (name, scores) in enumerate(methods.items()):
        values = [getattr(scores, attribute) for attribute, _ in metric_names]
        bars = axis.bar(positions + offset * width, values, width, label=name)
        axis.bar_label(bars, fmt="%.2f", fontsize=7)
    axis.set_xticks(positions + width * (len(methods) - 1) / 2, [label for _, label in metric_names])
    axis.set_ylim(0, 1.05)
    axis.set_title("Offline evaluation on held-out add-ons")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()
