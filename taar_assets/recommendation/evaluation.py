"""Offline evaluation of the recommenders on held-out add-ons.

Clients are split deterministically by a hash of their id: evaluation clients (by default
20%) are used for nothing else; the fitted candidate sources and the install model learn from
the other, training clients. (The similarity model is the pipeline's, built from all clients:
a few evaluation clients may be among its donors.)

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

import hashlib
import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from taar_assets.recommendation.addon_metadata import AddonInfo
from taar_assets.recommendation.install_model import (
    InstallModel,
    fit_install_model,
    training_examples,
)
from taar_assets.recommendation.profiles import profiles_from_samples, with_samples
from taar_assets.recommendation.ranker import RankerConfig
from taar_assets.recommendation.serving import Recommender
from taar_assets.recommendation.sources import (
    LOCALE_POPULARITY,
    CandidateSources,
    Client,
    SimilarityBatch,
    TrainingData,
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
    training_clients: int
    catalogue_size: int
    seconds: dict[str, float] = field(default_factory=dict)
    ranker_metrics: dict[str, int] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per method: hit_rate, precision, coverage, clients, recommended_addons."""
        return pd.DataFrame({name: vars(scores) for name, scores in self.methods.items()}).T

    def chart_png(self) -> bytes:
        return metrics_chart_png(self.methods, self.k)


def is_evaluation_client(client_ids: Sequence[str], share: float = 0.2, salt: str = "taar-evaluation") -> np.ndarray:
    """Deterministic split: True for about ``share`` of the ids, the same ids on every run and
    day (a hash of salt + id, not a random draw)."""
    if not 0 < share < 1:
        raise ValueError(f"share must be in (0, 1), got {share!r}")
    buckets = np.fromiter(
        (int.from_bytes(hashlib.sha256(f"{salt}:{cid}".encode()).digest()[:8], "big") for cid in client_ids),
        dtype=np.uint64,
        count=len(client_ids),
    )
    return buckets < np.uint64(share * 2**64)


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
    """The evaluation clients: ids, service profiles with the kept add-ons installed, held-out add-ons."""

    client_ids: list[str]
    profiles: list[dict]
    held_out: list[list[str]]


def held_out_clients(
    addons_per_client: pd.DataFrame,
    samples: pd.DataFrame,
    evaluation_share: float = 0.2,
    held_out_fraction: float = 0.3,
    seed: int = 0,
) -> HeldOutClients:
    """The evaluation clients (never used for fitting), in client id order, with part of their add-ons held out."""
    evaluating = ~addons_per_client.index.isin(training_clients(addons_per_client, evaluation_share).index)
    clients = with_samples(addons_per_client[evaluating], samples)
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


def training_clients(addons_per_client: pd.DataFrame, evaluation_share: float = 0.2) -> pd.DataFrame:
    """The clients the sources and the install model may learn from (never evaluated on)."""
    return addons_per_client[~is_evaluation_client(addons_per_client["client_id"].tolist(), evaluation_share)]


def fit_training_install_model(
    training: pd.DataFrame,
    samples: pd.DataFrame,
    sources: CandidateSources,
    similarity: SimilarityBatch,
    metadata: Mapping[str, AddonInfo] | None = None,
    *,
    seed: int = 0,
    max_clients: int | None = 5000,
) -> InstallModel:
    """The install model learnt on `training` clients (one held-out add-on each)."""
    examples = training_examples(training, samples, sources, similarity, metadata, seed=seed, max_clients=max_clients)
    return fit_install_model(examples, seed=seed)


def evaluate(
    addons_per_client: pd.DataFrame,
    samples: pd.DataFrame,
    similarity: SimilarityBatch,
    whitelist: Sequence[str],
    metadata: Mapping[str, AddonInfo] | None = None,
    *,
    k: int = 10,
    evaluation_share: float = 0.2,
    held_out_fraction: float = 0.3,
    seed: int = 0,
    max_training_clients: int | None = 5000,
    ranker_config: RankerConfig | None = None,
    sources: CandidateSources | None = None,
    install_model: InstallModel | None = None,
) -> EvaluationReport:
    """Evaluate the three methods (module docstring) on one day's stored data.

    ``addons_per_client`` (client_id, addon_ids) and ``samples`` are the pipeline's stages;
    ``similarity`` gives the similarity model's recommendations for a batch of profiles (e.g.
    ``lambda profiles: model.recommend_batch(profiles, limit=None)``); ``whitelist`` is the
    curated source and the catalogue coverage is measured against. The install model learns
    from at most ``max_training_clients`` training clients. ``ranker_config`` defaults to heavy
    ranking with producer boosting on exactly when ``metadata`` is given. ``sources`` and
    ``install_model``, when given, must have been fitted on the training clients only
    (``training_clients`` and ``fit_training_install_model`` do that); else they are fitted here.
    """
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    training = training_clients(addons_per_client, evaluation_share)
    if sources is None:
        sources = CandidateSources.fit(TrainingData(training, samples, whitelist))
    if install_model is None:
        install_model = fit_training_install_model(
            training, samples, sources, similarity, metadata, seed=seed, max_clients=max_training_clients
        )
    seconds["fit_sources_and_install_model"] = time.perf_counter() - started

    started = time.perf_counter()
    clients = held_out_clients(addons_per_client, samples, evaluation_share, held_out_fraction, seed)
    profiles, held = clients.profiles, clients.held_out
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
    for client_id, profile, recommended in zip(clients.client_ids, profiles, similar):
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
        evaluation_clients=len(profiles),
        training_clients=len(training),
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
