"""The install model: training examples from held-out add-ons, a reproducible fit, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from taar_assets.recommendation.sources import SOURCE_TYPES
from taar_assets_tests.support.recommendation import clients_with_features, fit_sources
from taar_assets.recommendation.install_model import (
    FEATURE_NAMES,
    InstallModel,
    TrainingExamples,
    candidate_features,
    fit_install_model,
    training_examples,
)
from taar_assets.recommendation.ranker import Candidate

GROUP_LOCALES = ("de", "fr", "it")
TASTES = [[f"{group}{i}@example.com" for i in range(6)] for group in "abc"]


def synthetic_world(clients: int = 400, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three taste groups of six add-ons; clients hold four of their group's, and mostly live in
    the group's locale."""
    rng = np.random.default_rng(seed)
    group = rng.integers(3, size=clients)
    ids = [f"client-{i:04d}" for i in range(clients)]
    addons = [list(rng.choice(TASTES[g], size=4, replace=False)) for g in group]
    locale = [GROUP_LOCALES[g] if rng.random() < 0.7 else GROUP_LOCALES[rng.integers(3)] for g in group]
    samples = pd.DataFrame(
        {
            "client_id": ids,
            "city": "??",
            "locale": locale,
            "os": "Linux",
            "subsession_hours_sum": 1.0,
            "bookmark_count": 1.0,
            "tab_open_count": 1.0,
            "total_uri": 1.0,
            "unique_tlds": 1.0,
        }
    )
    return pd.DataFrame({"client_id": ids, "addon_ids": addons}), samples


def locale_similarity(profiles):
    """A stand-in similarity model: every add-on, those of the locale's group weighted up."""
    results = []
    for profile in profiles:
        home = GROUP_LOCALES.index(profile["locale"])
        results.append([(guid, 3.0 if group == home else 1.0) for group, taste in enumerate(TASTES) for guid in taste])
    return results


@pytest.fixture(scope="module")
def examples() -> TrainingExamples:
    addons, samples = synthetic_world()
    sources = fit_sources(addons, samples, whitelist=sorted(g for t in TASTES for g in t), per_source_limit=8)
    return training_examples(clients_with_features(addons, samples), sources, locale_similarity, seed=3)


def test_examples_label_exactly_the_held_out_addon(examples):
    assert examples.features.shape == (len(examples.labels), len(FEATURE_NAMES))
    assert examples.clients == 400
    source_columns = examples.features[:, [FEATURE_NAMES.index(f"source_is_{s}") for s in SOURCE_TYPES]]
    assert (source_columns.sum(axis=1) == 1).all()
    # One add-on is held out per client; each source may propose it once.
    positive = examples.labels == 1
    per_client_and_source = np.zeros((examples.clients, len(SOURCE_TYPES)))
    np.add.at(per_client_and_source, examples.client[positive], source_columns[positive])
    assert per_client_and_source.max() == 1
    assert (per_client_and_source.sum(axis=1) > 0).mean() > 0.9
    # The client keeps its other three add-ons.
    assert (examples.features[:, FEATURE_NAMES.index("installed_count")] == 3).all()


def test_the_model_learns_which_candidates_get_installed(examples):
    model = fit_install_model(examples, seed=0)
    metrics = model.metrics
    assert metrics["validation_auc"] > 0.6
    assert 0 < metrics["validation_log_loss"] < 0.69  # better than a coin
    assert metrics["validation_clients"] + metrics["training_clients"] == 400
    assert metrics["examples"] == len(examples.labels)
    assert metrics["held_out_proposed"] > 0.9
    # Co-installation with the client's own group is what predicts the held-out add-on here.
    assert model.weights()["co_installation_score"] > 0


def test_training_is_reproducible_and_serialises(examples, tmp_path):
    model = fit_install_model(examples, seed=0)
    assert fit_install_model(examples, seed=0).to_json() == model.to_json()
    assert fit_install_model(examples, seed=1).to_json() != model.to_json()

    again = InstallModel.from_json(model.to_json())
    candidates = [
        Candidate("a0@example.com", "co_installation", 0.5, features={"co_installation_score": 0.5}),
        Candidate("b0@example.com", "curated", 0.9, features={"curated_score": 0.9}),
    ]
    profile = {"installed_addons": ["a1@example.com", "a2@example.com"]}
    np.testing.assert_array_equal(again.predict(candidates, profile), model.predict(candidates, profile))
    scored = again.scored(candidates, profile)
    assert [c.predicted_score for c in scored] == pytest.approx(model.predict(candidates, profile).tolist())
    assert all(0 < c.predicted_score < 1 for c in scored)
    assert json.loads(model.to_json())["metrics"]["validation_auc"] == model.metrics["validation_auc"]


def test_a_linear_signal_is_recovered():
    rng = np.random.default_rng(0)
    rows = 20_000
    features = rng.normal(size=(rows, len(FEATURE_NAMES)))
    signal = FEATURE_NAMES.index("similarity_score")
    labels = (rng.random(rows) < 1 / (1 + np.exp(-(2.0 * features[:, signal] - 3.0)))).astype(np.int8)
    examples = TrainingExamples(features, labels, client=np.arange(rows) // 10, clients=rows // 10)
    model = fit_install_model(examples, seed=0)
    weights = model.weights()
    assert weights["similarity_score"] > 1.5
    assert max(abs(w) for name, w in weights.items() if name != "similarity_score") < 0.2
    assert model.metrics["validation_auc"] > 0.8


def test_candidate_features_put_each_value_in_its_column():
    candidate = Candidate("x", "curated", 0.4, features={"curated_score": 0.4, "locale_share": 0.1})
    (row,) = candidate_features([candidate], {"installed_addons": ["a", "b"]})
    expected = dict.fromkeys(FEATURE_NAMES, 0.0) | {
        "curated_score": 0.4, "locale_share": 0.1, "installed_count": 2.0, "source_is_curated": 1.0
    }
    assert dict(zip(FEATURE_NAMES, row.tolist())) == expected


def test_bad_inputs_are_rejected(examples):
    no_positives = TrainingExamples(
        examples.features, np.zeros_like(examples.labels), examples.client, examples.clients
    )
    with pytest.raises(ValueError, match="both installed and not-installed"):
        fit_install_model(no_positives)
    with pytest.raises(ValueError, match="validation_share"):
        fit_install_model(examples, validation_share=1.0)
    document = json.loads(fit_install_model(examples).to_json())
    document["features"] = document["features"][:-1]
    with pytest.raises(ValueError, match="features"):
        InstallModel.from_json(json.dumps(document))
    with pytest.raises(ValueError, match="coefficients"):
        InstallModel(np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), np.zeros(3), 0.0)
