"""Offline evaluation: the split, the hold-out, the metrics, and the targets on demo data built by
the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taar_assets.recommendation.addon_metadata import load_addon_metadata
from taar_assets.demo.generator import DemoSpec, write_demo_dataset
from taar_assets.recommendation.evaluation import (
    LOCALE_POPULARITY_METHOD,
    RANKER_METHOD,
    SIMILARITY_METHOD,
    held_out_clients,
    hold_out,
    metrics_chart_png,
    recommendation_scores,
)
from taar_assets.recommendation.counts import ClientSplit
from taar_assets.recommendation.privacy_cost import CurveRecipe, privacy_cost_chart_png, privacy_cost_table
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets.similarity.donors import choose_donors
from taar_assets.similarity.features import FEATURE_NAMES
from taar_assets.similarity.seeds import partition_seed
from taar_assets.resources import Settings
from taar_assets_tests.conftest import DEMO_END, run_similarity
from taar_assets_tests.support.recommendation import clients_with_features, evaluate_in_memory, group_of
from taar_assets_tests.unit.recommendation.test_install_model import (
    TASTES,
    locale_similarity,
    synthetic_world,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_evaluation_split_is_a_stable_hash():
    ids = [f"client-{i}" for i in range(20_000)]
    split = ClientSplit(share=0.2)
    chosen = split.is_evaluation(ids)
    assert 0.18 < chosen.mean() < 0.22
    assert (split.is_evaluation(list(reversed(ids))) == chosen[::-1]).all()  # not order-dependent
    assert (split.is_evaluation(ids[:100]) == chosen[:100]).all()
    assert (ClientSplit(0.2, salt="other").is_evaluation(ids) != chosen).any()
    assert (ClientSplit(0.3).is_evaluation(ids) >= chosen).all()  # a larger share keeps the smaller one's clients
    assert (split.of(ids, "training") == ~chosen).all()
    assert split.threshold_hex == "3333333333333400"  # 0.2 * 2^64 as the float it is, in hex
    with pytest.raises(ValueError, match="share"):
        ClientSplit(share=0)


def test_hold_out_keeps_at_least_one_and_holds_out_thirty_percent():
    lists = [["a", "b"], ["a", "b", "c"], [f"x{i}" for i in range(10)], ["a", "b", "c", "d", "e", "f", "g"]]
    kept, held = hold_out(lists, fraction=0.3, seed=4)
    assert [len(h) for h in held] == [1, 1, 3, 2]
    assert [len(k) for k in kept] == [1, 2, 7, 5]
    for original, k, h in zip(lists, kept, held):
        assert sorted(k + h) == sorted(original) and not set(k) & set(h)
        assert [guid for guid in original if guid in k] == k  # order kept
    assert hold_out(lists, 0.3, seed=4) == (kept, held)
    with pytest.raises(ValueError, match="client 1 has 1 add-on"):
        hold_out([["a", "b"], ["a"]])


def test_metrics_on_a_hand_made_case():
    recommendations = [["A", "B", "C"], ["A", "B"], ["D", "E", "F"]]
    held_out = [["C"], ["D", "E"], ["E", "D"]]
    at_3 = recommendation_scores(recommendations, held_out, k=3, catalogue_size=12)
    assert at_3.hit_rate == pytest.approx(2 / 3)  # clients 1 and 3
    assert at_3.precision == pytest.approx((1 / 3 + 0 + 2 / 3) / 3)
    assert at_3.coverage == 0.5 and at_3.recommended_addons == 6 and at_3.clients == 3
    at_2 = recommendation_scores(recommendations, held_out, k=2, catalogue_size=12)
    assert at_2.hit_rate == pytest.approx(1 / 3)  # C falls out of client 1's top 2
    assert at_2.precision == pytest.approx((0 + 0 + 1) / 3)
    assert at_2.coverage == pytest.approx(4 / 12)
    with pytest.raises(ValueError, match="one recommendation list per client"):
        recommendation_scores(recommendations[:2], held_out, k=3, catalogue_size=12)


def test_evaluate_reports_every_method_on_a_small_world():
    addons, samples = synthetic_world(clients=600)
    whitelist = sorted(guid for taste in TASTES for guid in taste)
    report, training_clients = evaluate_in_memory(addons, samples, locale_similarity, whitelist, k=3)
    assert set(report.methods) == {LOCALE_POPULARITY_METHOD, SIMILARITY_METHOD, RANKER_METHOD}
    assert report.evaluation_clients + training_clients == 600
    assert 80 < report.evaluation_clients < 160
    assert report.catalogue_size == 18
    assert report.install_model.metrics["training_clients"] + report.install_model.metrics["validation_clients"] == (
        training_clients
    )
    for scores in report.methods.values():
        assert scores.clients == report.evaluation_clients and 0 <= scores.precision <= scores.hit_rate <= 1
    # Co-installation sees the client's own group, so the ranker beats both single sources here.
    hit_rates = {name: scores.hit_rate for name, scores in report.methods.items()}
    assert hit_rates[RANKER_METHOD] > max(hit_rates[SIMILARITY_METHOD], hit_rates[LOCALE_POPULARITY_METHOD])
    assert report.ranker_metrics["heavy_ranking"] == report.evaluation_clients
    assert report.ranker_metrics["producer_upranking"] == 0  # no metadata: no producer boosting
    assert list(report.table().index) == [LOCALE_POPULARITY_METHOD, SIMILARITY_METHOD, RANKER_METHOD]
    assert report.chart_png().startswith(PNG_SIGNATURE)


def test_chart_is_a_png():
    scores = recommendation_scores([["a"]], [["a"]], k=1, catalogue_size=2)
    assert metrics_chart_png({"one": scores, "two": scores}, k=1).startswith(PNG_SIGNATURE)


# --- The targets on demo data built by the real pipeline ---------------------------------


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory):
    """12,000 demo clients through the similarity pipeline; the stored stages and published model."""
    root = tmp_path_factory.mktemp("evaluation")
    demo = write_demo_dataset(root / "demo", DemoSpec(clients=12_000, days=100, end_date=DEMO_END, seed=7))
    settings = Settings(
        clients_daily=str(demo.clients_daily),
        whitelist=str(demo.whitelist),
        storage=str(root / "storage"),
        publish=str(root / "published"),
        duckdb_memory_limit="1GB",
    )
    day = DEMO_END.isoformat()
    run_similarity(settings, partition_key=day)
    storage = Path(settings.storage)
    return {
        "samples": pd.read_parquet(storage / "samples" / f"{day}.parquet"),
        "addons_per_client": pd.read_parquet(storage / "addons_per_client" / f"{day}.parquet"),
        "clusters": pd.read_parquet(storage / "clusters" / f"{day}.parquet"),
        "model": SimilarityModel.load(settings.publish),
        "whitelist": json.loads(demo.whitelist.read_text()),
        "metadata": load_addon_metadata(str(demo.addon_metadata)),
    }


@pytest.mark.parametrize("with_metadata", [False, True])
def test_similarity_doubles_locale_popularity_and_the_ranker_beats_similarity(demo_model, with_metadata):
    model = demo_model["model"]
    report, _ = evaluate_in_memory(
        demo_model["addons_per_client"],
        demo_model["samples"],
        lambda profiles: model.recommend_batch(profiles, limit=None),
        demo_model["whitelist"],
        demo_model["metadata"] if with_metadata else None,
        max_training_clients=3000,
    )
    print(report.table().to_string(), report.install_model.metrics, report.seconds, sep="\n")
    locale, similarity, ranker = (report.methods[m].hit_rate for m in (LOCALE_POPULARITY_METHOD, SIMILARITY_METHOD,
                                                                       RANKER_METHOD))
    assert report.evaluation_clients > 1000
    assert similarity >= 2 * locale, f"similarity hit-rate@10 {similarity:.3f} vs locale popularity {locale:.3f}"
    assert ranker >= similarity, f"ranker hit-rate@10 {ranker:.3f} vs similarity {similarity:.3f}"
    assert report.install_model.metrics["validation_auc"] > 0.75
    assert (report.ranker_metrics["producer_upranking"] > 0) == with_metadata
    assert np.isfinite([s.precision for s in report.methods.values()]).all()


def test_the_privacy_sweep_rebuilds_the_published_model_at_its_own_k_and_digits(demo_model):
    """The row of the day's parameters (k 5, 2 digits) scores exactly what the published model serves."""
    samples, addons = demo_model["samples"], demo_model["addons_per_client"]
    root_seed = partition_seed(DEMO_END.isoformat())
    chosen = choose_donors(demo_model["clusters"], 1000, f"{root_seed}:donor_pool")  # donor_pool's rule
    clients = held_out_clients(clients_with_features(group_of(addons, "evaluation"), samples), seed=3)
    table = privacy_cost_table(
        chosen,
        samples.loc[samples["client_id"].isin(chosen["client_id"]), ["client_id", *FEATURE_NAMES]],
        addons[addons["client_id"].isin(chosen["client_id"])],
        clients,
        popularity_precision=0.05,
        recipe=CurveRecipe(kernel_bandwidth=0.1, num_pdf_points=1000, root_seed=root_seed),
        k_values=(1, 5),
        digits_values=(2,),
    )
    assert table[["k_anonymity", "significant_digits"]].values.tolist() == [[1, 2], [5, 2]]
    assert table["generalised_values"].tolist()[0] == 0 < table["generalised_values"].tolist()[1]

    model = demo_model["model"]
    served = {
        "voting": [[guid for guid, _ in top] for top in model.recommend_batch(clients.profiles, 10)],
        "concatenated": model.concatenated_batch(clients.profiles, 10),
    }
    published = table.set_index("k_anonymity").loc[5]
    for formula, lists in served.items():
        precision = recommendation_scores(lists, clients.held_out, 10, 1).precision
        assert published[f"precision_{formula}"] == pytest.approx(precision, abs=1e-12)
        assert published[f"{formula}_vs_popularity"] == pytest.approx(precision / 0.05)
    assert privacy_cost_chart_png(table, 0.05).startswith(PNG_SIGNATURE)
