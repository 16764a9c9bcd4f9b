import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.utils import murmurhash3_32

from taar_assets.lib.clustering import (
    NUM_HASH_FEATURES,
    cluster_clients,
    hashed_idf_features,
)


def planted_clients(rng: np.random.Generator, group_sizes: list[int], addons_per_group: int = 12):
    """Clients of each group hold 3-6 add-ons from their group's own (disjoint) add-on set."""
    addon_lists, groups = [], []
    for group, size in enumerate(group_sizes):
        catalogue = [f"{{group{group}-addon{i}}}" for i in range(addons_per_group)]
        for _ in range(size):
            addon_lists.append(list(rng.choice(catalogue, int(rng.integers(3, 7)), replace=False)))
            groups.append(group)
    return addon_lists, np.array(groups)


def expected_features(addon_lists: list[list[str]], num_features: int) -> np.ndarray:
    """Hashed term frequency times sklearn's smoothed idf, one client at a time (dense)."""
    rows = np.zeros((len(addon_lists), num_features))
    for row, guids in enumerate(addon_lists):
        for guid in guids:
            rows[row, murmurhash3_32(guid, seed=0, positive=True) % num_features] += 1
    document_frequency = (rows > 0).sum(axis=0)
    used = document_frequency > 0
    idf = np.log((1 + len(addon_lists)) / (1 + document_frequency[used])) + 1
    return rows[:, used] * idf


# hashed_idf_features


def test_features_match_hashed_tf_idf_without_empty_columns():
    addon_lists, _ = planted_clients(np.random.default_rng(0), [30, 20])
    addon_lists[0] = addon_lists[0] + [addon_lists[0][0]]  # a GUID listed twice counts twice

    features = hashed_idf_features(addon_lists)

    assert features.format == "csr" and features.dtype == np.float64
    np.testing.assert_allclose(features.toarray(), expected_features(addon_lists, NUM_HASH_FEATURES))
    assert features.shape == (50, 24)


def test_colliding_guids_share_a_bucket():
    addon_lists = [["a", "b", "c"], ["b", "c", "d"], ["x", "y", "z"]]
    features = hashed_idf_features(addon_lists, num_features=4)
    np.testing.assert_allclose(features.toarray(), expected_features(addon_lists, 4))
    assert features.shape[1] <= 4


def test_arrow_inputs_give_the_same_features_as_python_lists():
    addon_lists, _ = planted_clients(np.random.default_rng(1), [10, 10])
    expected = hashed_idf_features(addon_lists).toarray()

    as_arrow = pa.array(addon_lists, type=pa.list_(pa.string()))
    chunked = pa.chunked_array([as_arrow[:7], as_arrow[7:]])
    large = pa.array(addon_lists, type=pa.large_list(pa.large_string()))
    sliced = pa.array([["ignored"], *addon_lists, ["ignored too"]], type=pa.list_(pa.string()))[1:-1]

    # What pandas gives for a list column read from parquet: a Series of numpy arrays.
    from_parquet_via_pandas = pd.Series([np.array(guids) for guids in addon_lists])

    for variant in (as_arrow, chunked, large, sliced, from_parquet_via_pandas):
        np.testing.assert_allclose(hashed_idf_features(variant).toarray(), expected)


def test_feature_errors():
    with pytest.raises(ValueError, match="empty"):
        hashed_idf_features([])
    with pytest.raises(ValueError, match="null list"):
        hashed_idf_features([["a", "b"], None])
    with pytest.raises(ValueError, match="null GUID"):
        hashed_idf_features([["a", None]])
    with pytest.raises(ValueError, match="num_features"):
        hashed_idf_features([["a"]], num_features=0)
    with pytest.raises(TypeError, match="GUID strings"):
        hashed_idf_features(pa.array([[1, 2]]))
    with pytest.raises(TypeError, match="single string"):
        hashed_idf_features("abc")


# cluster_clients


def test_planted_groups_are_recovered():
    addon_lists, groups = planted_clients(np.random.default_rng(2), [200] * 5)

    labels = cluster_clients(addon_lists, 5, seed=1)

    assert labels.dtype == np.int32
    assert set(labels.tolist()) == set(range(5))
    assert adjusted_rand_score(groups, labels) >= 0.9


def test_labels_are_numbered_by_descending_cluster_size():
    addon_lists, groups = planted_clients(np.random.default_rng(3), [60, 300, 150])

    labels = cluster_clients(addon_lists, 3, seed=1)

    assert adjusted_rand_score(groups, labels) >= 0.9
    sizes = np.bincount(labels)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_clustering_is_deterministic_for_a_seed_and_input_kind():
    addon_lists, _ = planted_clients(np.random.default_rng(4), [100] * 4)
    first = cluster_clients(addon_lists, 6, seed=7)
    np.testing.assert_array_equal(first, cluster_clients(addon_lists, 6, seed=7))
    np.testing.assert_array_equal(first, cluster_clients(pa.array(addon_lists), 6, seed=7))


def test_clustering_errors():
    with pytest.raises(ValueError, match="num_clusters"):
        cluster_clients([["a", "b"]] * 5, 1, seed=0)
    with pytest.raises(ValueError, match="only 3 clients"):
        cluster_clients([["a", "b"]] * 3, 4, seed=0)
    with pytest.raises(ValueError, match="seed"):
        cluster_clients([["a", "b"]] * 5, 2, seed=-1)
