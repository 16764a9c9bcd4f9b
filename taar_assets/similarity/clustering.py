"""Clustering clients by their add-on sets (docs/behaviour.md §3.3): Spark's method, reproduced.

The original job clustered with Spark ML: HashingTF (2^18 features) -> IDF(minDocFreq=1) ->
BisectingKMeans. The Spark engine still runs exactly that; this module computes the same
clustering without Spark, so that both engines publish the same model:

* Term frequency: each GUID goes to HashingTF's bucket, murmur3 of its UTF-8 bytes with seed 42
  modulo 2^18 (:func:`hashed_bucket`); a client's row counts its GUIDs per bucket. Only buckets
  some client uses become columns, in increasing bucket order (the Spark engine slices its
  vectors the same way): all-zero columns change no distance.
* IDF: Spark's ``ln((m + 1) / (df + 1))`` for m clients and a bucket present in df of them.
* Bisecting k-means: Spark's algorithm step by step (:func:`spark_bisecting_kmeans`), with the
  same random numbers (``java.util.Random``) drawn in the same order.

Why not scikit-learn's BisectingKMeans: it splits one cluster at a time, the one of highest
inertia, from two random points, while Spark splits every cluster of a level at once from a
tiny random perturbation of its centre. On the demo data the two agreed only at adjusted Rand
index 0.57-0.70, and Spark's result itself changes with its seed (ARI ~0.6), so agreement is
only possible by doing what Spark does with Spark's random numbers.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.utils import murmurhash3_32

NUM_HASH_FEATURES = 2**18
SPARK_HASHING_SEED = 42  # HashingTF's murmur3 seed
MAX_ITERATIONS = 20  # pyspark.ml BisectingKMeans' maxIter default, as the original job ran it
# Spark returns the clusters of a level (and so draws their random starts) in the order of the
# shuffle partitions they land in, cluster i in partition i mod P: in index order when P is 4
# or at least 8. The Spark engine shuffles them into such a number of partitions.
def keeps_cluster_order(partitions: int) -> bool:
    return partitions == 4 or partitions >= 8


AddonLists = pa.ListArray | pa.LargeListArray | pa.ChunkedArray | Sequence[Sequence[str]]


def hashed_bucket(guid: str) -> int:
    """The HashingTF(2^18) bucket of a GUID: MurmurHash3_x86_32 of its UTF-8 bytes, seed 42."""
    return murmurhash3_32(guid, seed=SPARK_HASHING_SEED) % NUM_HASH_FEATURES


def hashed_idf_features(addon_lists: AddonLists) -> scipy.sparse.csr_matrix:
    """IDF-weighted hashed term frequencies of each client's add-on GUIDs, as Spark computes them.

    ``addon_lists`` holds one list of GUID strings per client: an Arrow list array (chunked
    or not) or a Python sequence of sequences. Returns a float64 CSR matrix with one row per
    client and one column per hash bucket used by at least one client (in increasing bucket
    order); the all-zero columns of the full 2^18-wide matrix are left out.

    Raises ValueError for an empty input, a null list or a null GUID.
    """
    lists = _as_list_array(addon_lists)
    if len(lists) == 0:
        raise ValueError("addon_lists is empty: there are no clients to build features for")
    if lists.null_count:
        raise ValueError(f"addon_lists has {lists.null_count} null list(s); use an empty list for no add-ons")

    # flatten() honours slicing and null slots, unlike .values; the row lengths give offsets.
    guids = lists.flatten()
    if guids.null_count:
        raise ValueError(f"addon_lists contains {guids.null_count} null GUID(s)")
    row_lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    row_offsets = np.concatenate([[0], np.cumsum(row_lengths, dtype=np.int64)])

    encoded = pc.dictionary_encode(guids)
    # Hash each distinct GUID once; the per-client work is array indexing only.
    column_of_guid, columns = bucket_columns(encoded.dictionary.to_pylist())
    return idf_features(row_offsets, column_of_guid[encoded.indices.to_numpy(zero_copy_only=False)], columns)


def bucket_columns(distinct_guids: Sequence[str]) -> tuple[np.ndarray, int]:
    """(column of each GUID, number of columns): each GUID's HashingTF bucket, the buckets used
    numbered in increasing order."""
    buckets = np.fromiter((hashed_bucket(guid) for guid in distinct_guids), dtype=np.int64, count=len(distinct_guids))
    used_buckets, column_of_guid = np.unique(buckets, return_inverse=True)
    return column_of_guid, len(used_buckets)


def idf_features(row_offsets: np.ndarray, columns: np.ndarray, column_count: int) -> scipy.sparse.csr_matrix:
    """Spark's IDF-weighted term frequencies from each client's add-ons as bucket columns:
    client i's add-ons are `columns[row_offsets[i]:row_offsets[i + 1]]` (in any order)."""
    term_frequencies = scipy.sparse.csr_matrix(
        (np.ones(len(columns), dtype=np.float64), columns, row_offsets),
        shape=(len(row_offsets) - 1, column_count),
    )
    term_frequencies.sum_duplicates()  # a GUID listed twice, or two GUIDs in one bucket
    # scikit-learn's smoothed idf is ln((1 + m) / (1 + df)) + 1: Spark's plus one.
    spark_idf = TfidfTransformer(norm=None).fit(term_frequencies).idf_ - 1.0
    return (term_frequencies @ scipy.sparse.diags(spark_idf)).tocsr()


def cluster_clients(addon_lists: AddonLists, num_clusters: int, seed: int) -> np.ndarray:
    """Cluster clients by add-on set: :func:`cluster_features` of :func:`hashed_idf_features`."""
    return cluster_features(hashed_idf_features(addon_lists), num_clusters, seed)


def cluster_features(features: scipy.sparse.csr_matrix, num_clusters: int, seed: int) -> np.ndarray:
    """:func:`spark_bisecting_kmeans` on the clients' features (one row each).

    Returns int32 labels in ``0 .. num_clusters - 1``, one per client, numbered by
    descending cluster size (0 = biggest; equal sizes ordered by their first client's
    position) so that labels do not depend on the order clusters were split in.
    Deterministic for a given ``seed``. (Clusters can only come out empty when there are
    fewer distinct add-on sets than clusters; they then take the highest labels.)

    Raises ValueError if ``num_clusters < 2`` or there are fewer clients than clusters.
    """
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, (int, np.integer)) or num_clusters < 2:
        raise ValueError(f"num_clusters must be an integer >= 2, got {num_clusters!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    if features.shape[0] < num_clusters:
        raise ValueError(
            f"cannot make num_clusters={num_clusters} clusters from only {features.shape[0]} clients"
        )
    leaves = spark_bisecting_kmeans(features, int(num_clusters), int(seed))
    return _labels_by_descending_size(leaves, int(num_clusters))


# --- Spark's BisectingKMeans (org.apache.spark.mllib.clustering.BisectingKMeans), in numpy -------


class JavaRandom:
    """java.util.Random: the 48-bit linear congruential generator Spark seeds with the model's seed."""

    _MULTIPLIER, _INCREMENT, _MASK = 0x5DEECE66D, 0xB, (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self._state = (seed ^ self._MULTIPLIER) & self._MASK

    def _next(self, bits: int) -> int:
        self._state = (self._state * self._MULTIPLIER + self._INCREMENT) & self._MASK
        return self._state >> (48 - bits)

    def next_doubles(self, count: int) -> np.ndarray:
        """`count` successive nextDouble() values."""
        return np.array([((self._next(26) << 27) + self._next(27)) * 2.0**-53 for _ in range(count)])


def _scala_hash(key: int) -> int:
    """Scala's ## of a boxed Long, then the bit spreading of immutable.HashMap (Hashing.improve)."""
    if -(2**31) <= key < 2**31:
        h = key & 0xFFFFFFFF
    else:
        h = (key ^ (key >> 32)) & 0xFFFFFFFF
    h = (h + (~(h << 9) & 0xFFFFFFFF)) & 0xFFFFFFFF
    h ^= h >> 14
    h = (h + (h << 4)) & 0xFFFFFFFF
    return h ^ (h >> 10)


def scala_map_order(keys: Iterable[int]) -> list[int]:
    """The order a Scala immutable Map built by adding `keys` in turn iterates them.

    Up to 4 entries (Map1..Map4) keep insertion order; more make a hash trie (CHAMP) that
    yields a node's own entries by 5-bit hash slice, then its sub-tries in slice order.
    """
    keys = list(keys)
    return keys if len(keys) <= 4 else _trie_order(keys, 0)


def _trie_order(keys: list[int], shift: int) -> list[int]:
    if shift >= 32:  # full hash collision: insertion order
        return keys
    by_slice: dict[int, list[int]] = {}
    for key in keys:
        by_slice.setdefault((_scala_hash(key) >> shift) & 31, []).append(key)
    slices = sorted(by_slice.items())
    own = [group[0] for _, group in slices if len(group) == 1]
    nested = [key for _, group in slices if len(group) > 1 for key in _trie_order(group, shift + 5)]
    return own + nested


@dataclass(frozen=True)
class _Summary:
    """A cluster as Spark summarises it: size, mean and cost (sum of squared distances to the mean)."""

    size: int
    center: np.ndarray
    norm: float
    cost: float


def _summary(size: int, total: np.ndarray, squared_norm_sum: float) -> _Summary:
    center = total * (1.0 / size)
    norm = float(np.sqrt(center @ center))
    return _Summary(size, center, norm, max(squared_norm_sum - size * norm * norm, 0.0))


def _closer_to_left(
    points: scipy.sparse.csr_matrix, squared_norms: np.ndarray, left: _Summary | None, right: _Summary | None
) -> np.ndarray:
    """Whether each point goes to the left child (ties go left; a missing child takes no one)."""
    if left is None or right is None:
        return np.full(points.shape[0], right is None)
    dots = points @ np.column_stack([left.center, right.center])
    # Spark's fast squared distance: |x|^2 + |c|^2 - 2 x.c
    to_left = squared_norms + left.norm * left.norm - 2.0 * dots[:, 0]
    to_right = squared_norms + right.norm * right.norm - 2.0 * dots[:, 1]
    return to_left <= to_right


def spark_bisecting_kmeans(
    features: scipy.sparse.csr_matrix, k: int, seed: int, max_iterations: int = MAX_ITERATIONS
) -> np.ndarray:
    """Spark ML's BisectingKMeans (Euclidean, minDivisibleClusterSize 1) fitted and applied to `features`.

    Returns the leaf of each row, as Spark's model predicts it (descending the cluster tree).
    Tree nodes are numbered like Spark's: root 1, children 2i and 2i + 1. On every level, the
    divisible clusters (positive cost) are split at once - only the biggest ones when fewer
    splits are needed to reach k - each from its centre moved by +-1e-4 |centre| times
    uniform noise, then `max_iterations` rounds of 2-means. The noise comes from
    java.util.Random(seed), drawn cluster after cluster in the order Spark iterates its map of
    clusters. (That order, for levels of at most 4 clusters, is the order Spark's shuffle
    returns them: by index with a suitable number of partitions, which the Spark engine
    ensures, see `keeps_cluster_order`.)

    One case where the engines can still differ: a cluster whose clients all have the same
    add-on set costs 0 only up to rounding, and Spark splits it again (an empty split) when its
    rounding error exceeds 2.2e-16 per client, which depends on how Spark partitioned the sums.
    That needs k above the number of distinct add-on sets among some cluster's clients.
    """
    points = features.tocsr()
    squared_norms = np.asarray(points.multiply(points).sum(axis=1)).ravel()
    random = JavaRandom(seed)
    node = np.ones(points.shape[0], dtype=np.int64)  # each row's current cluster
    summaries = {1: _summary(points.shape[0], np.asarray(points.sum(axis=0)).ravel(), squared_norms.sum())}
    active = [1]  # the clusters of the current level, in Spark's map order
    needed = k - 1
    while active and needed > 0:
        divisible = [index for index in active if summaries[index].cost > np.finfo(float).eps * summaries[index].size]
        if len(divisible) > needed:
            divisible = scala_map_order(sorted(divisible, key=lambda index: -summaries[index].size)[:needed])
        if not divisible:
            break
        children: dict[int, _Summary] = {}
        for parent in divisible:
            centre = summaries[parent]
            noise = random.next_doubles(len(centre.center)) * (1e-4 * centre.norm)
            left, right = centre.center - noise, centre.center + noise
            split = {2 * parent: _summary(1, left, 0.0), 2 * parent + 1: _summary(1, right, 0.0)}
            rows = np.flatnonzero(node == parent)
            members, member_norms = points[rows], squared_norms[rows]
            for _ in range(max_iterations):
                goes_left = _closer_to_left(members, member_norms, split.get(2 * parent), split.get(2 * parent + 1))
                split = {}
                for child, mask in ((2 * parent, goes_left), (2 * parent + 1, ~goes_left)):
                    if mask.any():
                        total = np.asarray(members[mask].sum(axis=0)).ravel()
                        split[child] = _summary(int(mask.sum()), total, member_norms[mask].sum())
            goes_left = _closer_to_left(members, member_norms, split.get(2 * parent), split.get(2 * parent + 1))
            node[rows] = np.where(goes_left, 2 * parent, 2 * parent + 1)
            children.update(split)
        summaries.update(children)
        # Spark collects the new clusters into a map: small maps in shuffle order, bigger ones
        # in hash-trie order.
        active = scala_map_order(sorted(children))
        needed -= len(divisible)
    return _descend(points, squared_norms, summaries)


def _descend(points: scipy.sparse.csr_matrix, squared_norms: np.ndarray, summaries: dict[int, _Summary]) -> np.ndarray:
    """Each row's leaf (0, 1, ... by node index), found as Spark's model predicts: from the root,
    always to the closer child. A node is internal when its left child exists (Spark's buildTree)."""
    node = np.ones(points.shape[0], dtype=np.int64)
    frontier = [1]
    while frontier:
        internal = [index for index in frontier if 2 * index in summaries]
        for index in internal:
            rows = np.flatnonzero(node == index)
            goes_left = _closer_to_left(
                points[rows], squared_norms[rows], summaries[2 * index], summaries.get(2 * index + 1)
            )
            node[rows] = np.where(goes_left, 2 * index, 2 * index + 1)
        frontier = [child for index in internal for child in (2 * index, 2 * index + 1) if child in summaries]
    return np.unique(node, return_inverse=True)[1].astype(np.int32)


def _labels_by_descending_size(labels: np.ndarray, num_clusters: int) -> np.ndarray:
    sizes = np.bincount(labels, minlength=num_clusters)
    first_member = np.full(num_clusters, len(labels))
    present, first_index = np.unique(labels, return_index=True)
    first_member[present] = first_index
    ranking = np.lexsort((first_member, -sizes))  # old labels, biggest cluster first
    new_label_of_old = np.empty(num_clusters, dtype=np.int32)
    new_label_of_old[ranking] = np.arange(num_clusters, dtype=np.int32)
    return new_label_of_old[labels]


def _as_list_array(addon_lists: AddonLists) -> pa.Array:
    if isinstance(addon_lists, pa.ChunkedArray):
        addon_lists = addon_lists.combine_chunks()
    elif not isinstance(addon_lists, pa.Array):
        if isinstance(addon_lists, (str, bytes)):
            raise TypeError("addon_lists must be a sequence of GUID lists, got a single string")
        try:
            addon_lists = pa.array(list(addon_lists), type=pa.list_(pa.string()))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as error:
            raise TypeError(f"addon_lists must be a sequence of lists of GUID strings: {error}") from None
    if not (pa.types.is_list(addon_lists.type) or pa.types.is_large_list(addon_lists.type)):
        raise TypeError(f"addon_lists must be an Arrow list array, got type {addon_lists.type}")
    value_type = addon_lists.type.value_type
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        raise TypeError(f"addon_lists must hold GUID strings, got list items of type {value_type}")
    return addon_lists
