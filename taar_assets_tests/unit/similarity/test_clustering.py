import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse
from sklearn.metrics import adjusted_rand_score

from taar_assets.similarity.clustering import (
    NUM_HASH_FEATURES,
    JavaRandom,
    cluster_clients,
    hashed_bucket,
    hashed_idf_features,
    scala_map_order,
    spark_bisecting_kmeans,
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


def expected_features(addon_lists: list[list[str]]) -> np.ndarray:
    """Hashed term frequency times Spark's idf ln((m + 1) / (df + 1)), one client at a time (dense)."""
    rows = np.zeros((len(addon_lists), NUM_HASH_FEATURES))
    for row, guids in enumerate(addon_lists):
        for guid in guids:
            rows[row, hashed_bucket(guid)] += 1
    document_frequency = (rows > 0).sum(axis=0)
    used = document_frequency > 0
    idf = np.log((len(addon_lists) + 1) / (document_frequency[used] + 1))
    return rows[:, used] * idf


# hashed_idf_features


def test_features_match_hashed_tf_idf_without_empty_columns():
    addon_lists, _ = planted_clients(np.random.default_rng(0), [30, 20])
    addon_lists[0] = addon_lists[0] + [addon_lists[0][0]]  # a GUID listed twice counts twice

    features = hashed_idf_features(addon_lists)

    assert features.format == "csr" and features.dtype == np.float64
    np.testing.assert_allclose(features.toarray(), expected_features(addon_lists))
    assert features.shape == (50, 24)


def test_colliding_guids_share_a_bucket():
    first_guid_in = {}
    for guid in (f"guid-{i}" for i in range(5000)):  # ~48 colliding pairs expected in 2^18 buckets
        other = first_guid_in.setdefault(hashed_bucket(guid), guid)
        if other != guid:
            break
    addon_lists = [[guid, other, "a"], [guid, "b", "c"], ["x", "y", "z"]]
    features = hashed_idf_features(addon_lists)
    np.testing.assert_allclose(features.toarray(), expected_features(addon_lists))
    assert features.shape[1] == 7  # 8 GUIDs, two of them in one bucket
    # The shared bucket counts twice and is in 2 of 3 clients; "a" once, in 1 client.
    assert sorted(features[0].data) == pytest.approx([2 * np.log(4 / 3), np.log(4 / 2)])


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


def test_fewer_distinct_addon_sets_than_clusters_leave_the_highest_labels_empty():
    # Clusters of identical clients cost nothing, so bisecting k-means stops splitting them.
    addon_lists = [["a", "b", "c"]] * 6 + [["x", "y", "z"]] * 3

    labels = cluster_clients(addon_lists, 4, seed=0)

    assert labels.tolist() == [0] * 6 + [1] * 3


# Spark's bisecting k-means, reproduced (test_spark.py checks these against the JVM itself)


def test_java_random_gives_java_util_randoms_doubles():
    # new java.util.Random(12345).nextDouble(), three times, as printed by a JVM
    assert JavaRandom(12345).next_doubles(3).tolist() == [0.3618031071604718, 0.932993485288541, 0.8330913489710237]


def test_scala_map_order_is_insertion_order_up_to_four_entries_then_hash_trie_order():
    assert scala_map_order([7, 5, 6, 4]) == [7, 5, 6, 4]
    # scala.collection.immutable.HashMap with these keys added in increasing order, as iterated by a JVM
    assert scala_map_order(range(8, 16)) == [10, 14, 9, 13, 12, 11, 8, 15]
    assert scala_map_order(range(16, 32)) == [17, 18, 24, 25, 20, 29, 28, 21, 22, 27, 16, 31, 26, 23, 30, 19]


def test_bisecting_makes_k_leaves_without_cutting_tight_groups():
    # Eight tight, equally distant groups of unequal sizes, k = 6: levels of 1, 2 and 4 clusters,
    # then only the 2 biggest of the 4 are split.
    rng = np.random.default_rng(5)
    sizes = [40, 35, 30, 25, 20, 15, 10, 5]
    rows = np.repeat(np.eye(8) * 10, sizes, axis=0) + rng.normal(0, 0.01, (sum(sizes), 8))
    features = scipy.sparse.csr_matrix(rows)

    leaves = spark_bisecting_kmeans(features, 6, seed=3)

    assert len(set(leaves.tolist())) == 6
    groups = np.repeat(np.arange(8), sizes)
    for group in range(8):  # no group is cut in two: bisecting only ever separates whole groups here
        assert len(set(leaves[groups == group].tolist())) == 1
    np.testing.assert_array_equal(leaves, spark_bisecting_kmeans(features, 6, seed=3))
