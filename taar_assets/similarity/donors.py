"""Donor sampling: an exact number of donors spread over the clusters by size.

The original job called ``sampleBy`` with each cluster's *share* as its sampling fraction,
which keeps about n_c^2 / N clients of a cluster of size n_c: small clusters vanish and the
donor count is only approximate (docs/behaviour.md §7). Here the count per cluster is decided
first (:func:`allocate_donors`, a few numbers), then each cluster's quota is filled by its
clients first in a seeded hash order (:func:`seeded_order_key`): a rule an engine applies where
the clients are, so only the donors ever come into the run's process (:func:`choose_donors` is
the same rule in memory).
"""

import hashlib
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


def seeded_order_key(seed: str, client_id: str) -> str:
    """Where a client stands in its cluster's draw: md5 of "seed:client_id" (hex), the rule
    both engines apply in SQL (then the id breaks ties)."""
    return hashlib.md5(f"{seed}:{client_id}".encode()).hexdigest()


def choose_donors(clusters: pd.DataFrame, num_donors: int, seed: str) -> pd.DataFrame:
    """The donors, in memory: the rule the engines apply where the clients are.

    ``clusters`` has one row per client (``client_id``, unique and not null, and ``cluster``).
    Each cluster gets its :func:`allocate_donors` quota, filled by its clients first in the
    order of :func:`seeded_order_key` (then client_id). Returns (client_id, cluster) sorted by
    cluster then client_id. Depends only on the set of rows and the seed, not on row order.
    """
    if not isinstance(clusters, pd.DataFrame):
        raise TypeError(f"clusters must be a pandas DataFrame, got {type(clusters).__name__}")
    missing = [name for name in ("client_id", "cluster") if name not in clusters.columns]
    if missing:
        raise ValueError(f"clusters is missing column(s) {missing}; it has {list(clusters.columns)}")
    for name in ("client_id", "cluster"):
        if clusters[name].isna().any():
            raise ValueError(f"clusters.{name} has null values")
    if clusters["client_id"].duplicated().any():
        duplicated = clusters.loc[clusters["client_id"].duplicated(), "client_id"].head(5).tolist()
        raise ValueError(f"clusters.client_id must be unique; repeated ids include {duplicated}")
    quotas = allocate_donors(clusters["cluster"].value_counts().to_dict(), num_donors)
    ranked = clusters[["client_id", "cluster"]].assign(
        key=[seeded_order_key(seed, client_id) for client_id in clusters["client_id"]]
    )
    ranked = ranked.sort_values(["cluster", "key", "client_id"], ignore_index=True)
    rank = ranked.groupby("cluster").cumcount()
    chosen = ranked[rank < ranked["cluster"].map(quotas)]
    return chosen[["client_id", "cluster"]].sort_values(["cluster", "client_id"], ignore_index=True)
