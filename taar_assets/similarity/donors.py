"""Donor sampling: an exact number of donors spread over the clusters by size.

The original job called ``sampleBy`` with each cluster's *share* as its sampling fraction,
which keeps about n_c^2 / N clients of a cluster of size n_c: small clusters vanish and the
donor count is only approximate (docs/behaviour.md §7). Here the count per cluster is decided
first (:func:`allocate_donors`), then that many clients are drawn uniformly without
replacement inside each cluster (:func:`sample_donors`).
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd

MIN_DONORS = 100  # the original job never published fewer


def allocate_donors(cluster_sizes: Mapping[int, int], num_donors: int) -> dict[int, int]:
    """How many donors to take from each cluster.

    Returns a count for every cluster of ``cluster_sizes`` (0 for empty clusters) such that:
    the counts sum to exactly ``min(num_donors, total size)``; every non-empty cluster gets
    at least one donor and no cluster more than its size; the rest follows the cluster sizes
    (largest-remainder rounding). Clusters too small for their proportional share are given
    one donor and the seats left are shared proportionally among the others. Deterministic:
    equal remainders are broken by the smaller cluster id.

    Raises ValueError if ``num_donors`` is smaller than the number of non-empty clusters.
    """
    if isinstance(num_donors, bool) or not isinstance(num_donors, (int, np.integer)) or num_donors < 1:
        raise ValueError(f"num_donors must be a positive integer, got {num_donors!r}")
    sizes = {}
    for cluster, size in cluster_sizes.items():
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(
                f"cluster_sizes[{cluster!r}] must be a non-negative integer, got {size!r}"
            )
        sizes[cluster] = int(size)
    num_donors = int(num_donors)

    total = sum(sizes.values())
    if num_donors >= total:
        return sizes
    non_empty = sorted(cluster for cluster, size in sizes.items() if size > 0)
    if num_donors < len(non_empty):
        raise ValueError(
            f"num_donors={num_donors} is smaller than the {len(non_empty)} non-empty clusters; "
            "every cluster needs at least one donor (raise num_donors or lower num_clusters)"
        )

    allocation = dict.fromkeys(sizes, 0)
    proportional = list(non_empty)
    seats, population = num_donors, total
    # A cluster whose quota seats * size / population is below one gets its guaranteed
    # single donor; the remaining seats are then re-shared among the other clusters,
    # which can push another cluster below one, hence the loop. Each round removes at
    # least one cluster, so it ends after at most len(non_empty) rounds.
    while True:
        below_one = [cluster for cluster in proportional if seats * sizes[cluster] < population]
        if not below_one:
            break
        for cluster in below_one:
            allocation[cluster] = 1
            seats -= 1
            population -= sizes[cluster]
        proportional = [cluster for cluster in proportional if allocation[cluster] == 0]

    # Largest remainder in exact integer arithmetic. seats <= population holds here, so
    # no quota exceeds its cluster size and neither does floor + 1.
    remainders = {}
    for cluster in proportional:
        whole, remainder = divmod(seats * sizes[cluster], population)
        allocation[cluster] = whole
        remainders[cluster] = remainder
    seats_left = seats - sum(allocation[cluster] for cluster in proportional)
    by_largest_remainder = sorted(proportional, key=lambda cluster: (-remainders[cluster], cluster))
    for cluster in by_largest_remainder[:seats_left]:
        allocation[cluster] += 1
    return allocation


def sample_donors(clusters: pd.DataFrame, num_donors: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw donors from clustered clients.

    ``clusters`` has one row per client with columns ``client_id`` (unique, not null) and
    ``cluster``. Returns the chosen rows (columns ``client_id``, ``cluster``): inside each
    cluster a uniform sample without replacement of the size :func:`allocate_donors` gives,
    sorted by cluster then client_id. The result depends only on the set of rows and the
    state of ``rng``, not on the input row order.
    """
    if not isinstance(clusters, pd.DataFrame):
        raise TypeError(f"clusters must be a pandas DataFrame, got {type(clusters).__name__}")
    missing = [name for name in ("client_id", "cluster") if name not in clusters.columns]
    if missing:
        raise ValueError(f"clusters is missing column(s) {missing}; it has {list(clusters.columns)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    for name in ("client_id", "cluster"):
        if clusters[name].isna().any():
            raise ValueError(f"clusters.{name} has null values")
    if clusters["client_id"].duplicated().any():
        duplicated = clusters.loc[clusters["client_id"].duplicated(), "client_id"].head(5).tolist()
        raise ValueError(f"clusters.client_id must be unique; repeated ids include {duplicated}")

    # A canonical row order makes the draw independent of how the input happens to be sorted.
    candidates = clusters[["client_id", "cluster"]].sort_values(["cluster", "client_id"], ignore_index=True)
    sizes = candidates["cluster"].value_counts(sort=False)
    allocation = allocate_donors(sizes.to_dict(), num_donors)

    # Uniform sampling without replacement inside every cluster at once: give each client a
    # random key and keep, per cluster, the clients holding its smallest keys.
    cluster_codes, cluster_ids = pd.factorize(candidates["cluster"], sort=True)
    random_keys = rng.random(len(candidates))
    order = np.lexsort((random_keys, cluster_codes))
    group_starts = np.searchsorted(cluster_codes[order], cluster_codes[order], side="left")
    rank_in_cluster = np.arange(len(order)) - group_starts
    quota = np.array([allocation[cluster] for cluster in cluster_ids])
    chosen = order[rank_in_cluster < quota[cluster_codes[order]]]
    return candidates.iloc[np.sort(chosen)].reset_index(drop=True)
