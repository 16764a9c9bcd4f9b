"""The recommendation group's steps composed in memory, as its assets compose them on an engine:
split the clients, count on the training ones, fit, sample, evaluate. For tests on small data."""

from __future__ import annotations

import pandas as pd

from taar_assets.recommendation.counts import AddonCounts, ClientSplit
from taar_assets.recommendation.evaluation import EvaluationReport, evaluate
from taar_assets.recommendation.install_model import fit_install_model, training_examples
from taar_assets.recommendation.sources import CandidateSources, TrainingData


def clients_with_features(addons_per_client: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """(client_id, addon_ids, the sample features), by client_id: what Engine.client_sample gives."""
    joined = addons_per_client.merge(samples.drop(columns=["active_addons", "submission_date"], errors="ignore"),
                                     on="client_id")
    return joined.sort_values("client_id", ignore_index=True)


def group_of(addons_per_client: pd.DataFrame, group: str, split: ClientSplit = ClientSplit()) -> pd.DataFrame:
    return addons_per_client[split.of(addons_per_client["client_id"].tolist(), group)]


def fit_sources(addons_per_client, samples, whitelist=None, per_source_limit=20) -> CandidateSources:
    training = group_of(addons_per_client, "training")
    return CandidateSources.fit(TrainingData(AddonCounts.from_clients(training, samples), whitelist), per_source_limit)


def evaluate_in_memory(
    addons_per_client, samples, similarity, whitelist, metadata=None, *, k=10, max_training_clients=None, seed=0
) -> tuple[EvaluationReport, int]:
    """(the report, the number of training clients)."""
    sources = fit_sources(addons_per_client, samples, whitelist)
    training = clients_with_features(group_of(addons_per_client, "training"), samples)
    if max_training_clients is not None:
        training = training.sample(n=min(max_training_clients, len(training)), random_state=seed)
        training = training.sort_values("client_id", ignore_index=True)
    install_model = fit_install_model(training_examples(training, sources, similarity, metadata, seed=seed), seed=seed)
    evaluating = clients_with_features(group_of(addons_per_client, "evaluation"), samples)
    report = evaluate(evaluating, similarity, sources, install_model, whitelist, metadata, k=k, seed=seed)
    return report, len(training)
