"""Each pre-publish check passes on a good model and fails on a crafted bad one."""

import numpy as np
import pandas as pd

from taar_assets.similarity import checks as model_checks
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
