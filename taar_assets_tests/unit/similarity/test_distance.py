
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import distance as scipy_distance

from taar_assets.similarity.distance import (
    CATEGORICAL_FEATURES,
    CONTINUOUS_FEATURES,
    distances_to_one,
    feature_matrices,
    paired_distances,
)


def client_frame(rows: list[dict]) -> pd.DataFrame:
    """A frame with every feature column, missing entries as None."""
    return pd.DataFrame(
        [{name: row.get(name) for name in (*CATEGORICAL_FEATURES, *CONTINUOUS_FEATURES)} for row in rows]
    )


def random_clients(rng: np.random.Generator, count: int) -> pd.DataFrame:
    """Clients with few distinct categoricals (so some match), zeros, negatives and nulls."""
    frame = pd.DataFrame(
        {
            "city": rng.choice(np.array(["Paris", "Lima", "", None], dtype=object), count),
            "locale": rng.choice(["en-US", "fr"], count),
            "os": rng.choice(["Linux", "Windows_NT"], count),
            "subsession_hours_sum": rng.normal(0, 3, count),
            "bookmark_count": rng.integers(0, 3, count).astype(float),
            "tab_open_count": rng.integers(-2, 3, count),
            "total_uri": rng.exponential(100, count),
            "unique_tlds": rng.integers(0, 2, count).astype(float),
        }
    )
    frame.loc[rng.random(count) < 0.1, "total_uri"] = np.nan
    return frame


def scipy_reference(cat_x, cont_x, cat_y, cont_y) -> np.ndarray:
    """The original job's formula, one pair at a time."""
    return np.array(
        [
            abs((scipy_distance.canberra(cx, cy) + 0.001) * scipy_distance.hamming(kx, ky))
            for kx, cx, ky, cy in zip(cat_x, cont_x, cat_y, cont_y)
        ]
    )


def test_paired_distances_match_scipy_on_random_clients():
    rng = np.random.default_rng(7)
    cat_x, cont_x = feature_matrices(random_clients(rng, 500))
    cat_y, cont_y = feature_matrices(random_clients(rng, 500))

    result = paired_distances(cat_x, cont_x, cat_y, cont_y)

    np.testing.assert_allclose(result, scipy_reference(cat_x, cont_x, cat_y, cont_y), rtol=1e-12, atol=0)
    assert (result > 0).any() and (result == 0).any()  # both regimes were exercised


def test_distances_to_one_match_scipy_and_paired_distances():
    rng = np.random.default_rng(8)
    cat, cont = feature_matrices(random_clients(rng, 300))

    result = distances_to_one(cat[0], cont[0], cat, cont)

    repeated = scipy_reference(np.repeat(cat[:1], 300, axis=0), np.repeat(cont[:1], 300, axis=0), cat, cont)
    np.testing.assert_allclose(result, repeated, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(
        result, paired_distances(np.repeat(cat[:1], 300, axis=0), np.repeat(cont[:1], 300, axis=0), cat, cont)
    )


def pair_distance(x: dict, y: dict) -> float:
    cat, cont = feature_matrices(client_frame([x, y]))
    return float(paired_distances(cat[:1], cont[:1], cat[1:], cont[1:])[0])


BASE = {
    "city": "Paris",
    "locale": "fr",
    "os": "Linux",
    "subsession_hours_sum": 3.5,
    "bookmark_count": 10,
    "tab_open_count": 40,
    "total_uri": 300,
    "unique_tlds": 12,
}


def test_identical_clients_are_at_distance_zero():
    assert pair_distance(BASE, dict(BASE)) == 0.0


def test_all_categoricals_different_with_same_continuous_gives_the_offset():
    other = {**BASE, "city": "Lima", "locale": "es", "os": "Darwin"}
    assert pair_distance(BASE, other) == pytest.approx(0.001)


def test_equal_categoricals_give_zero_whatever_the_continuous():
    other = {**BASE, "subsession_hours_sum": 900.0, "bookmark_count": 0, "total_uri": 1}
    assert pair_distance(BASE, other) == 0.0


def test_one_categorical_different_scales_canberra_by_a_third():
    other = {**BASE, "os": "Darwin", "bookmark_count": 30}  # canberra term 20 / 40
    assert pair_distance(BASE, other) == pytest.approx((0.5 + 0.001) / 3)


def test_missing_city_equals_empty_city_and_missing_number_equals_zero():
    with_none = {**BASE, "city": None, "total_uri": None}
    with_defaults = {**BASE, "city": "", "total_uri": 0}
    assert pair_distance(with_none, with_defaults) == 0.0
    # And against a different client the two are indistinguishable.
    other = {**BASE, "locale": "de", "total_uri": 7}
    assert pair_distance(with_none, other) == pair_distance(with_defaults, other)


def test_nan_values_are_missing_values():
    frame = client_frame([{**BASE, "city": np.nan, "unique_tlds": np.nan}])
    categorical, continuous = feature_matrices(frame)
    assert categorical[0, 0] == ""
    assert continuous[0, CONTINUOUS_FEATURES.index("unique_tlds")] == 0.0


def test_negative_values_use_absolute_values_in_canberra():
    other = {**BASE, "os": "Darwin", "subsession_hours_sum": -3.5}  # term |7| / (3.5 + 3.5) = 1
    assert pair_distance(BASE, other) == pytest.approx((1 + 0.001) / 3)


def test_feature_matrices_types_and_shapes():
    frame = client_frame([BASE, {"locale": "en-US"}])
    frame["tab_open_count"] = pd.array([40, None], dtype="Int64")

    categorical, continuous = feature_matrices(frame)

    assert categorical.shape == (2, 3) and continuous.shape == (2, 5)
    assert continuous.dtype == np.float64
    assert categorical.tolist() == [["Paris", "fr", "Linux"], ["", "en-US", ""]]
    assert continuous[1].tolist() == [0.0] * 5


def test_feature_matrices_reads_other_column_names():
    frame = pd.DataFrame({"geo_city": ["Lima"], "locale": ["es"], "os": ["Linux"], "subsession_length": [7200]})
    categorical, continuous = feature_matrices(
        frame, categorical=("geo_city", "locale", "os"), continuous=("subsession_length",)
    )
    assert categorical.tolist() == [["Lima", "es", "Linux"]]
    assert continuous.tolist() == [[7200.0]]


def test_feature_matrices_names_the_missing_column():
    frame = client_frame([BASE]).drop(columns=["bookmark_count"])
    with pytest.raises(ValueError, match="bookmark_count"):
        feature_matrices(frame)


def test_feature_matrices_rejects_non_numeric_and_infinite_continuous_values():
    with pytest.raises(ValueError, match="total_uri"):
        feature_matrices(client_frame([{**BASE, "total_uri": "many"}]))
    with pytest.raises(ValueError, match="unique_tlds"):
        feature_matrices(client_frame([{**BASE, "unique_tlds": np.inf}]))


def test_distance_functions_reject_mismatched_shapes_and_nan():
    cat, cont = feature_matrices(client_frame([BASE, BASE]))
    with pytest.raises(ValueError, match="same shapes"):
        paired_distances(cat, cont, cat[:1], cont[:1])
    with pytest.raises(ValueError, match="cat_one"):
        distances_to_one(cat, cont[0], cat, cont)
    with pytest.raises(ValueError, match="number of features"):
        distances_to_one(cat[0, :2], cont[0], cat, cont)
    with pytest.raises(ValueError, match="cont_y"):
        paired_distances(cat, cont, cat, np.full_like(cont, np.nan))
