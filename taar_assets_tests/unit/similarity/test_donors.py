import numpy as np
import pandas as pd
import pytest

from taar_assets.similarity.donors import allocate_donors, sample_donors


def clustered_clients(sizes: dict[int, int]) -> pd.DataFrame:
    clusters = np.repeat(list(sizes), list(sizes.values()))
    return pd.DataFrame({"client_id": [f"client-{i:07d}" for i in range(len(clusters))], "cluster": clusters})


def test_allocation_is_exactly_proportional_when_quotas_are_whole():
    assert allocate_donors({0: 600, 1: 300, 2: 100}, 100) == {0: 60, 1: 30, 2: 10}


def test_allocation_gives_a_tiny_cluster_one_donor_among_huge_ones():
    allocation = allocate_donors({0: 500_000, 1: 1, 2: 300_000, 3: 2}, 1000)
    assert allocation[1] == 1 and allocation[3] == 1
    assert sum(allocation.values()) == 1000
    assert allocation[0] / allocation[2] == pytest.approx(5 / 3, rel=0.01)


def test_allocation_returns_every_client_when_donors_exceed_clients():
    assert allocate_donors({3: 5, 1: 7, 2: 0}, 12) == {3: 5, 1: 7, 2: 0}
    assert allocate_donors({3: 5, 1: 7}, 1000) == {3: 5, 1: 7}


def test_allocation_breaks_equal_remainders_by_cluster_id():
    assert allocate_donors({2: 3, 0: 3, 1: 3}, 7) == {2: 2, 0: 3, 1: 2}


def test_allocation_invariants_on_random_cluster_sizes():
    rng = np.random.default_rng(3)
    for _ in range(300):
        num_clusters = int(rng.integers(1, 30))
        sizes = {cluster: int(size) for cluster, size in enumerate(rng.zipf(1.5, num_clusters) * rng.integers(1, 50))}
        num_donors = int(rng.integers(num_clusters, 3 * sum(sizes.values()) // 2 + 1))

        allocation = allocate_donors(sizes, num_donors)

        total = sum(sizes.values())
        assert sum(allocation.values()) == min(num_donors, total)
        assert all(1 <= allocation[c] <= sizes[c] for c in sizes)
        if num_donors < total:
            # Only the clusters lifted to their guaranteed single donor push the others
            # away from their exact share, by at most one seat each.
            lifted = sum(1 for c in sizes if num_donors * sizes[c] < total)
            for cluster, size in sizes.items():
                assert abs(allocation[cluster] - num_donors * size / total) < 1 + lifted


def test_allocation_errors():
    with pytest.raises(ValueError, match="smaller than the 3 non-empty clusters"):
        allocate_donors({0: 10, 1: 10, 2: 10, 3: 0}, 2)
    with pytest.raises(ValueError, match="num_donors"):
        allocate_donors({0: 10}, 0)
    with pytest.raises(ValueError, match=r"cluster_sizes\[1\]"):
        allocate_donors({0: 10, 1: -1}, 5)


def test_sample_has_the_exact_count_and_the_allocated_clients_per_cluster():
    clients = clustered_clients({0: 5000, 1: 1, 2: 3000, 3: 2000})

    donors = sample_donors(clients, 1000, np.random.default_rng(0))

    assert len(donors) == 1000
    assert list(donors.columns) == ["client_id", "cluster"]
    assert donors["cluster"].value_counts().to_dict() == allocate_donors({0: 5000, 1: 1, 2: 3000, 3: 2000}, 1000)
    assert donors["client_id"].is_unique
    # Every donor keeps the cluster it had.
    expected = clients.set_index("client_id")["cluster"]
    assert (expected.loc[donors["client_id"]].to_numpy() == donors["cluster"].to_numpy()).all()


def test_sample_is_sorted_by_cluster_then_client_id():
    donors = sample_donors(clustered_clients({4: 300, 0: 200, 9: 100}), 60, np.random.default_rng(1))
    assert donors.equals(donors.sort_values(["cluster", "client_id"], ignore_index=True))


def test_sample_returns_everyone_when_asking_for_more_donors_than_clients():
    clients = clustered_clients({0: 30, 1: 20})
    donors = sample_donors(clients, 1000, np.random.default_rng(2))
    pd.testing.assert_frame_equal(donors, clients)


def test_sample_is_reproducible_and_independent_of_row_order():
    clients = clustered_clients({0: 4000, 1: 2500, 2: 500})
    first = sample_donors(clients, 300, np.random.default_rng(42))
    again = sample_donors(clients.sample(frac=1, random_state=5), 300, np.random.default_rng(42))
    pd.testing.assert_frame_equal(first, again)


def test_sample_differs_with_another_seed():
    clients = clustered_clients({0: 4000, 1: 2500, 2: 500})
    first = sample_donors(clients, 300, np.random.default_rng(42))
    other = sample_donors(clients, 300, np.random.default_rng(43))
    assert set(first["client_id"]) != set(other["client_id"])


def test_sample_is_uniform_inside_a_cluster():
    # 2000 clusters of 4 clients, one donor each: every position should win about 1/4 of the time.
    clients = clustered_clients(dict.fromkeys(range(2000), 4))
    clients["cluster"] = np.repeat(np.arange(2000), 4)
    clients["position"] = np.tile(np.arange(4), 2000)

    donors = sample_donors(clients, 2000, np.random.default_rng(11))

    positions = clients.set_index("client_id").loc[donors["client_id"], "position"]
    counts = np.bincount(positions, minlength=4)
    assert (np.abs(counts - 500) < 80).all(), counts  # about 4 standard deviations


def test_sample_errors():
    clients = clustered_clients({0: 5, 1: 5})
    with pytest.raises(ValueError, match="cluster"):
        sample_donors(clients.drop(columns="cluster"), 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unique"):
        sample_donors(pd.concat([clients, clients]), 3, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        sample_donors(clients, 3, 42)
    with pytest.raises(ValueError, match="non-empty clusters"):
        sample_donors(clients, 1, np.random.default_rng(0))
