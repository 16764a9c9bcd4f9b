"""Drift between two days' models, measured on hand-made donor pools and the packaged panel."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from taar_assets.monitoring.drift import (
    DriftThresholds,
    ModelDrift,
    curve_distance,
    measure_drift,
    share_distance,
)
from taar_assets.monitoring.panel import PACKAGED_PANEL, load_panel
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves, score_pairs


def test_share_distance_is_the_total_variation_between_shares():
    assert share_distance({0: 50, 1: 50}, {0: 5, 1: 5}) == 0
    assert share_distance({0: 50, 1: 50}, {0: 100}) == pytest.approx(0.5)
    assert share_distance({0: 1}, {1: 1}) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="empty"):
        share_distance({}, {0: 1})


def curves(centre_numerator: float, centre_denominator: float) -> pd.DataFrame:
    x = np.linspace(0, 10, 500)
    return pd.DataFrame(
        {"x": x, "numerator": np.exp(-((x - centre_numerator) ** 2)), "denominator": np.exp(-((x - centre_denominator) ** 2))}
    )


def test_curve_distance_is_zero_for_the_same_curves_and_one_for_disjoint_ones():
    assert curve_distance(curves(2, 6), curves(2, 6)) == pytest.approx(0, abs=1e-12)
    # Two normal densities (sd 1/sqrt 2) 0.5 apart: total variation 2 Phi(0.5 / (2 sd)) - 1.
    assert curve_distance(curves(2, 6), curves(2, 6.5)) == pytest.approx(2 * norm.cdf(0.5 / np.sqrt(2)) - 1, abs=1e-3)
    far = curves(2, 6).assign(x=lambda table: table["x"] + 100)
    assert curve_distance(curves(2, 6), far) == pytest.approx(1.0)


def pool(seed: int, clusters: int = 4, donors: int = 200) -> DonorPool:
    rng = np.random.default_rng(seed)
    cluster = np.arange(donors) % clusters
    frame = pd.DataFrame(
        {
            "city": [f"city{c}" for c in cluster],
            "subsession_hours_sum": rng.gamma(2, 2, donors).round(1),
            "locale": [["en-US", "de", "fr", "es"][c] for c in cluster],
            "os": [["Windows_NT", "Darwin", "Linux", "Windows_NT"][c] for c in cluster],
            "bookmark_count": rng.integers(1, 100, donors).astype(float),
            "tab_open_count": rng.integers(1, 100, donors).astype(float),
            "total_uri": rng.integers(1, 1000, donors).astype(float),
            "unique_tlds": rng.integers(1, 50, donors).astype(float),
            "active_addons": [[f"addon-{c}-{i}" for i in rng.choice(12, 4, replace=False)] for c in cluster],
            "cluster": cluster,
        }
    )
    return DonorPool(frame, donors, 5, 2, clusters, {c: donors // clusters for c in range(clusters)}, {}, {})


def learnt(donor_pool: DonorPool, seed: int) -> LrCurves:
    return LrCurves.learn(score_pairs(donor_pool.donors, np.random.default_rng(seed)), 0.35, 200)


def panel_of(donor_pool: DonorPool) -> list[dict]:
    return [
        {"geo_city": row.city, "locale": row.locale, "os": row.os, "subsession_length": row.subsession_hours_sum * 3600,
         "bookmark_count": row.bookmark_count, "tab_open_count": row.tab_open_count, "total_uri": row.total_uri,
         "unique_tlds": row.unique_tlds}
        for row in donor_pool.donors.itertuples()
    ][:40]


def test_the_same_model_has_not_drifted():
    today = pool(1)
    drift, overlaps = measure_drift(today, learnt(today, 1), today, learnt(today, 1), panel_of(today))
    assert drift == ModelDrift(0.0, 0.0, 0.0, 1.0, 40)
    assert drift.exceeded(DriftThresholds()) == {}
    assert (overlaps == 1).all()


def test_a_different_model_drifts_and_exceeds_tight_thresholds():
    today, yesterday = pool(1), pool(2, clusters=2)
    drift, _ = measure_drift(today, learnt(today, 1), yesterday, learnt(yesterday, 2), panel_of(today))
    assert drift.donors_per_cluster == pytest.approx(0.5)  # 4 equal clusters against 2
    assert 0 < drift.lr_curves <= 1 and drift.mean_top10_overlap < 1
    exceeded = drift.exceeded(DriftThresholds(donors_per_cluster=0.4, lr_curves=1.0, top10_changed_share=1.0))
    assert exceeded == {"donors_per_cluster": (drift.donors_per_cluster, 0.4)}


def test_the_packaged_panel_loads_and_a_bad_line_is_named(tmp_path):
    panel = load_panel()
    assert len(panel) == 300 and all("installed_addons" in profile for profile in panel)
    bad = tmp_path / "panel.jsonl"
    bad.write_text(PACKAGED_PANEL.read_text().splitlines()[0] + "\n" + json.dumps({"geo_city": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"panel.jsonl line 2: missing required field"):
        load_panel(str(bad))
    with pytest.raises(ValueError, match="cannot be read"):
        load_panel(str(tmp_path / "absent.jsonl"))
