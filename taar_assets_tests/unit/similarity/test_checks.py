"""Each pre-publish check passes on a good model and fails on a crafted bad one."""

import numpy as np
import pandas as pd
import pytest

from taar_assets.similarity import checks as model_checks
from taar_assets.similarity.donor_profiles import donor_profiles
from taar_assets.similarity.lr_curves import ScoreSets, density_grid, mass_in_range


def donors(n=120, clusters=3):
    return pd.DataFrame(
        {
            "city": ["Paris"] * n,
            "locale": ["fr"] * n,
            "os": ["Linux"] * n,
            "active_addons": [["a", "b", "c"]] * n,
            "cluster": [i % clusters for i in range(n)],
        }
    )


def curves_and_mass(same=(0.1, 0.2, 0.3, 0.4), different=(1.0, 1.5, 2.0, 2.5), h=0.35, points=200):
    scores = ScoreSets(np.array(same), np.array(different))
    curves = density_grid(scores, h, points)
    low, high = curves["x"].iloc[0], curves["x"].iloc[-1]
    return curves, {
        "numerator": mass_in_range(scores.same, low, high, h),
        "denominator": mass_in_range(scores.different, low, high, h),
    }


def test_donor_count():
    assert model_checks.donor_count(donors(120), requested=120, clients=5000).passed
    assert model_checks.donor_count(donors(120), requested=500, clients=120).passed  # all clients
    bad = model_checks.donor_count(donors(119), requested=120, clients=5000)
    assert not bad.passed and "119 donors; expected 120" in bad.description
    assert not model_checks.donor_count(donors(99), requested=99, clients=5000).passed  # below 100


def test_clusters_represented():
    assert model_checks.clusters_represented(donors(), {0: 10, 1: 5, 2: 1, 3: 0}).passed
    bad = model_checks.clusters_represented(donors(), {0: 10, 1: 5, 2: 1, 7: 3})
    assert not bad.passed and bad.numbers["missing_clusters"] == [7]


def test_donors_have_addons():
    frame = donors()
    assert model_checks.donors_have_addons(frame).passed
    frame.at[5, "active_addons"] = []
    assert model_checks.donors_have_addons(frame).numbers["donors_without_addons"] == 1


def test_addons_whitelisted():
    assert model_checks.addons_whitelisted(donors(), ["a", "b", "c", "d"]).passed
    bad = model_checks.addons_whitelisted(donors(), ["a", "b"])
    assert not bad.passed and bad.numbers["not_whitelisted"] == ["c"]


def test_no_client_identifiers():
    assert model_checks.no_client_identifiers(donors(), ["client-1"]).passed
    leaked = donors()
    leaked.at[0, "city"] = "client-1"
    assert not model_checks.no_client_identifiers(leaked, ["client-1"]).passed
    with_column = donors().assign(client_id="x")
    assert model_checks.no_client_identifiers(with_column, []).numbers["id_columns"] == ["client_id"]


def test_k_anonymous():
    assert model_checks.k_anonymous(donors(), 5).passed
    unique = donors()
    unique.at[0, "city"] = "Lyon"
    bad = model_checks.k_anonymous(unique, 5)
    assert not bad.passed and bad.numbers["smallest_group"] == 1


def test_curve_shape():
    curves, _ = curves_and_mass()
    assert model_checks.curve_shape(curves, 200).passed
    assert not model_checks.curve_shape(curves, 1000).passed
    with_nan = curves.copy()
    with_nan.loc[3, "numerator"] = np.nan
    assert model_checks.curve_shape(with_nan, 200).numbers["finite"] is False
    negative = curves.copy()
    negative.loc[3, "denominator"] = -1e-9
    assert not model_checks.curve_shape(negative, 200).passed
    unsorted = curves.copy()
    unsorted.loc[[3, 4], "x"] = unsorted.loc[[4, 3], "x"].to_numpy()
    assert model_checks.curve_shape(unsorted, 200).numbers["increasing_x"] is False


def test_densities_normalised():
    curves, mass = curves_and_mass()
    assert model_checks.densities_normalised(curves, mass).passed
    doubled = curves.assign(numerator=curves["numerator"] * 2)
    assert not model_checks.densities_normalised(doubled, mass).passed


def test_clusters_separate():
    curves, _ = curves_and_mass()
    assert model_checks.clusters_separate(curves).passed
    swapped = curves.rename(columns={"numerator": "denominator", "denominator": "numerator"})
    bad = model_checks.clusters_separate(swapped)
    assert not bad.passed and bad.numbers["mean_same_cluster"] > bad.numbers["mean_different_cluster"]


def profiled(hours=1.2345, bookmarks=1.0, digits=2):
    """Two donors as donor_pool makes them (rounded to `digits`), with the given values of donor 0."""
    features = pd.DataFrame(
        {
            "client_id": ["a", "b"],
            "city": ["Paris", None],
            "subsession_hours_sum": [hours, 0.0034],
            "locale": ["fr", "fr"],
            "os": ["Linux", "Linux"],
            "bookmark_count": [bookmarks, None],
            "tab_open_count": [12345.0, 3.0],
            "total_uri": [987.0, 30.0],
            "unique_tlds": [0.04567, 7.0],
        }
    )
    chosen = pd.DataFrame({"client_id": ["a", "b"], "cluster": [0, 1]})
    addons = pd.DataFrame({"client_id": ["a", "b"], "addon_ids": [["x", "y", "z"]] * 2})
    return donor_profiles(chosen, features, addons, k=1, significant_digits=digits)[0]


@pytest.mark.parametrize("hours", [2.2, 8.7, 0.0034, 1.2345, 8.2])
def test_values_publishable_passes_on_what_donor_pool_makes(hours):
    # 2.2 h * 3600 is 7920.000000000001 in float arithmetic; published as 7920.0
    verdict = model_checks.values_publishable(profiled(hours), 2)
    assert verdict.passed, verdict.description
    assert model_checks.values_publishable(profiled(hours, digits=3), 3).passed


def test_values_publishable_fails_on_a_missing_value():
    pool = profiled()
    pool.at[0, "bookmark_count"] = np.nan
    verdict = model_checks.values_publishable(pool, 2)
    assert not verdict.passed and verdict.numbers["missing"] == 2  # both layouts
    pool = profiled()
    pool.at[1, "city"] = None
    assert model_checks.values_publishable(pool, 2).numbers["missing"] == 2


def test_values_publishable_fails_on_infinity_and_on_unrounded_values():
    pool = profiled()
    pool.at[0, "total_uri"] = np.inf
    assert model_checks.values_publishable(pool, 2).numbers["not_finite"] == 2
    pool = profiled()
    pool.at[0, "unique_tlds"] = 0.04567  # not rounded to 2 digits
    verdict = model_checks.values_publishable(pool, 2)
    assert verdict.numbers["not_rounded"] == 2 and "unique_tlds" in verdict.description
    pool = profiled()
    pool.at[0, "subsession_hours_sum"] = 2.2 * 3600 / 3600 + 1e-15  # float noise survives into seconds
    assert not model_checks.values_publishable(pool, 2).passed


def test_significant_digits_of_reads_the_shortest_decimal():
    assert model_checks.significant_digits_of(7920.0) == 3
    assert model_checks.significant_digits_of(7920.000000000001) == 16
    assert model_checks.significant_digits_of(0.0034) == 2
    assert model_checks.significant_digits_of(0.0) == 1
