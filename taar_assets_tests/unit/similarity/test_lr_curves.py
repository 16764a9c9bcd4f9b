import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from taar_assets.similarity.distance import distances_to_one, feature_matrices
from taar_assets.similarity.lr_curves import (
    DegenerateScoresError,
    ScoreSets,
    density_grid,
    lr_curves_as_json,
    score_pairs,
)


def random_donors(rng: np.random.Generator, cluster_sizes: list[int]) -> pd.DataFrame:
    count = sum(cluster_sizes)
    return pd.DataFrame(
        {
            "city": rng.choice(["Paris", "Lima", "Oslo"], count),
            "locale": rng.choice(["fr", "es", "en-US"], count),
            "os": rng.choice(["Linux", "Darwin"], count),
            "subsession_hours_sum": rng.exponential(4, count),
            "bookmark_count": rng.integers(0, 50, count),
            "tab_open_count": rng.integers(0, 500, count),
            "total_uri": rng.integers(0, 5000, count),
            "unique_tlds": rng.integers(0, 60, count),
            "cluster": np.repeat(np.arange(len(cluster_sizes)), cluster_sizes),
        }
    )


def brute_density(samples: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    return norm.pdf((grid[:, np.newaxis] - samples[np.newaxis, :]) / bandwidth).mean(axis=1) / bandwidth


# score_pairs


def test_pair_counts_follow_the_cluster_sizes():
    scores = score_pairs(random_donors(np.random.default_rng(0), [5, 4, 1]), np.random.default_rng(1))
    assert len(scores.same) == 2 + 2 + 0  # n // 2 pairs per cluster
    assert len(scores.different) == 10  # every donor once


def test_scores_are_reproducible_and_random_pairing_depends_on_the_seed():
    donors = random_donors(np.random.default_rng(0), [40, 30, 30])
    first = score_pairs(donors, np.random.default_rng(5))
    again = score_pairs(donors, np.random.default_rng(5))
    other = score_pairs(donors, np.random.default_rng(6))

    np.testing.assert_array_equal(first.same, again.same)
    np.testing.assert_array_equal(first.different, again.different)
    assert not np.array_equal(first.same, other.same)
    assert not np.array_equal(first.different, other.different)


def test_different_cluster_partners_are_drawn_without_replacement_when_possible():
    # Cluster 1's donors all differ from cluster 0's in city and in a distinct tab count,
    # so a distance identifies which donor of cluster 1 was the partner.
    donors = random_donors(np.random.default_rng(2), [4, 4])
    donors["city"] = ["Paris"] * 4 + ["Lima"] * 4
    donors["tab_open_count"] = [1, 2, 3, 4, 100, 200, 300, 400]
    categorical, continuous = feature_matrices(donors)
    to_cluster_one = np.array(
        [distances_to_one(categorical[i], continuous[i], categorical[4:], continuous[4:]) for i in range(4)]
    )
    assert all(len(set(row)) == 4 for row in to_cluster_one)

    partner_sets = set()
    for seed in range(10):
        scores = score_pairs(donors, np.random.default_rng(seed))
        partners = [int(np.flatnonzero(to_cluster_one[i] == scores.different[i])[0]) for i in range(4)]
        assert sorted(partners) == [0, 1, 2, 3]  # each of cluster 1's donors used exactly once
        partner_sets.add(tuple(partners))
    assert len(partner_sets) > 1  # and not always the same (first-rows) pairing


def test_a_small_other_side_is_reused_evenly():
    # Cluster 0 has 9 donors and cluster 1 only one: all of cluster 0 pairs with it.
    donors = random_donors(np.random.default_rng(4), [9, 1])
    categorical, continuous = feature_matrices(donors)

    scores = score_pairs(donors, np.random.default_rng(0))

    to_lone_donor = distances_to_one(categorical[9], continuous[9], categorical[:9], continuous[:9])
    np.testing.assert_array_equal(scores.different[:9], to_lone_donor)
    assert scores.different[9] in to_lone_donor


def test_planted_clusters_score_closer_inside_than_across():
    rng = np.random.default_rng(10)
    donors = random_donors(rng, [100, 100])
    donors.loc[donors["cluster"] == 0, ["city", "locale"]] = ["Paris", "fr"]
    donors.loc[donors["cluster"] == 1, ["city", "locale"]] = ["Lima", "es"]

    scores = score_pairs(donors, np.random.default_rng(0))

    assert scores.same.mean() < scores.different.mean() / 2


def test_score_pairs_accepts_another_cluster_column_and_validates():
    donors = random_donors(np.random.default_rng(0), [4, 4]).rename(columns={"cluster": "prediction"})
    assert len(score_pairs(donors, np.random.default_rng(0), cluster_column="prediction").same) == 4
    with pytest.raises(ValueError, match="'cluster'"):
        score_pairs(donors, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        score_pairs(donors, 0, cluster_column="prediction")
    with pytest.raises(ValueError, match="locale"):
        score_pairs(donors.drop(columns="locale"), np.random.default_rng(0), cluster_column="prediction")


# density_grid


def test_grid_has_exactly_the_requested_points_from_min_to_max():
    scores = ScoreSets(same=np.array([0.2, 0.5, 0.9]), different=np.array([0.05, 1.7, 1.1]))
    for num_points in (2, 7, 1000, 1001):
        curves = density_grid(scores, 0.35, num_points)
        assert list(curves.columns) == ["x", "numerator", "denominator"]
        assert len(curves) == num_points
        assert curves["x"].iloc[0] == 0.05 and curves["x"].iloc[-1] == 1.7
        assert np.all(np.diff(curves["x"]) > 0)


def test_densities_match_the_gaussian_kernel_formula():
    rng = np.random.default_rng(1)
    scores = ScoreSets(same=rng.exponential(0.3, 400), different=rng.exponential(1.0, 900))

    curves = density_grid(scores, 0.35, 500)

    grid = curves["x"].to_numpy()
    np.testing.assert_allclose(curves["numerator"], brute_density(scores.same, grid, 0.35), rtol=1e-9)
    np.testing.assert_allclose(curves["denominator"], brute_density(scores.different, grid, 0.35), rtol=1e-9)


def test_each_density_integrates_to_one():
    rng = np.random.default_rng(2)
    same, different = rng.normal(1, 0.2, 300), rng.normal(2, 0.5, 300)
    bandwidth = 0.1
    # A companion set spanning 5 bandwidths beyond the scores widens the grid so it covers
    # the whole kernel mass of the set under test.
    for tested in (same, different):
        edges = np.array([tested.min() - 5 * bandwidth, tested.max() + 5 * bandwidth])
        curves = density_grid(ScoreSets(same=tested, different=edges), bandwidth, 4000)
        assert np.trapezoid(curves["numerator"], curves["x"]) == pytest.approx(1, abs=1e-4)
        curves = density_grid(ScoreSets(same=edges, different=tested), bandwidth, 4000)
        assert np.trapezoid(curves["denominator"], curves["x"]) == pytest.approx(1, abs=1e-4)


def test_curves_from_scored_donors_are_finite_and_reproducible():
    donors = random_donors(np.random.default_rng(3), [60, 50, 40, 30, 20])
    first = density_grid(score_pairs(donors, np.random.default_rng(9)), 0.35, 1000)
    again = density_grid(score_pairs(donors, np.random.default_rng(9)), 0.35, 1000)
    pd.testing.assert_frame_equal(first, again)
    assert np.isfinite(first.to_numpy()).all()


def test_single_donor_clusters_raise_a_clear_error():
    scores = score_pairs(random_donors(np.random.default_rng(0), [1, 1, 1]), np.random.default_rng(0))
    with pytest.raises(DegenerateScoresError, match="no same-cluster pairs"):
        density_grid(scores, 0.35, 1000)


def test_a_single_cluster_raises_a_clear_error():
    scores = score_pairs(random_donors(np.random.default_rng(0), [10]), np.random.default_rng(0))
    with pytest.raises(DegenerateScoresError, match="no different-cluster pairs"):
        density_grid(scores, 0.35, 1000)


def test_equal_scores_raise_a_clear_error():
    scores = ScoreSets(same=np.zeros(5), different=np.zeros(3))
    with pytest.raises(DegenerateScoresError, match="all 8 scores equal 0.0"):
        density_grid(scores, 0.35, 1000)


def test_degenerate_scores_error_is_a_value_error():
    assert issubclass(DegenerateScoresError, ValueError)


@pytest.mark.parametrize(
    ("bandwidth", "num_points", "message"),
    [(0, 10, "bandwidth"), (-0.35, 10, "bandwidth"), (np.nan, 10, "bandwidth"), (0.35, 1, "num_points"),
     (0.35, 10.0, "num_points")],
)
def test_density_grid_validates_its_parameters(bandwidth, num_points, message):
    scores = ScoreSets(same=np.array([0.1, 0.2]), different=np.array([0.3]))
    with pytest.raises(ValueError, match=message):
        density_grid(scores, bandwidth, num_points)


def test_density_grid_rejects_non_finite_scores():
    with pytest.raises(ValueError, match="scores.different"):
        density_grid(ScoreSets(same=np.array([0.1, 0.2]), different=np.array([0.3, np.nan])), 0.35, 10)


# lr_curves_as_json


def test_json_layout_uses_plain_floats():
    curves = density_grid(ScoreSets(same=np.array([0.1, 0.4]), different=np.array([0.3, 0.9])), 0.35, 5)

    as_json = lr_curves_as_json(curves)

    assert len(as_json) == 5
    x, (numerator, denominator) = as_json[0]
    assert all(type(value) is float for value in (x, numerator, denominator))
    assert (x, numerator, denominator) == tuple(curves.iloc[0])
    assert json.loads(json.dumps(as_json)) == as_json


def test_json_layout_requires_the_curve_columns():
    with pytest.raises(ValueError, match="denominator"):
        lr_curves_as_json(pd.DataFrame({"x": [0.0], "numerator": [1.0]}))
