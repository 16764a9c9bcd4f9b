"""Clustering clients by their add-on sets (SPEC section 3, stage 3).

The original pipeline was Spark's HashingTF (2^18 features) -> IDF(minDocFreq=1) ->
BisectingKMeans. This module keeps that shape with scikit-learn, vectorised over Arrow list
arrays so a million clients take seconds:

* Term frequency: each GUID goes to bucket ``murmurhash3_32(guid, seed=0, positive=True) %
  num_features`` and a client's row counts its GUIDs per bucket (GUIDs colliding in a bucket
  add up, as in HashingTF). Spark hashes with a different murmur3 seed (42), so bucket
  numbers differ from Spark's; only which GUIDs collide could differ, and with a few hundred
  whitelisted GUIDs in 2^18 buckets collisions are rare either way.
* IDF: scikit-learn's smoothed idf is ``ln((1 + m) / (1 + df)) + 1`` for m clients and a
  bucket present in df of them; Spark's is ``ln((m + 1) / (df + 1))``. The extra ``+ 1``
  means a bucket every client has keeps weight 1 (Spark: 0) - a constant column, which
  changes no distance - and every other weight is shifted up by 1, so rare add-ons weigh
  relatively a little less against common ones than in Spark.
* Buckets no client uses are never materialised: all-zero columns change neither distances
  nor k-means, and leaving them out makes k-means fast.
"""

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse
from sklearn.cluster import BisectingKMeans
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.utils import murmurhash3_32

NUM_HASH_FEATURES = 2**18

AddonLists = pa.ListArray | pa.LargeListArray | pa.ChunkedArray | Sequence[Sequence[str]]


def hashed_idf_features(addon_lists: AddonLists, num_features: int = NUM_HASH_FEATURES) -> scipy.sparse.csr_matrix:
    """IDF-weighted hashed term frequencies of each client's add-on GUIDs.

    ``addon_lists`` holds one list of GUID strings per client: an Arrow list array (chunked
    or not) or a Python sequence of sequences. Returns a float64 CSR matrix with one row per
    client and one column per hash bucket used by at least one client (in increasing bucket
    order); the all-zero columns of the full ``num_features``-wide matrix are left out.

    Raises ValueError for an empty input, a null list or a null GUID.
    """
    if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
        raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
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
    distinct_guids = encoded.dictionary.to_pylist()
    buckets = np.fromiter(
        (murmurhash3_32(guid, seed=0, positive=True) for guid in distinct_guids),
        dtype=np.int64,
        count=len(distinct_guids),
    ) % int(num_features)
    used_buckets, column_of_guid = np.unique(buckets, return_inverse=True)
    columns = column_of_guid[encoded.indices.to_numpy(zero_copy_only=False)]

    term_frequencies = scipy.sparse.csr_matrix(
        (np.ones(len(columns), dtype=np.float64), columns, row_offsets),
        shape=(len(lists), len(used_buckets)),
    )
    term_frequencies.sum_duplicates()  # a GUID listed twice, or two GUIDs in one bucket
    return TfidfTransformer(norm=None).fit_transform(term_frequencies).tocsr()


def cluster_clients(addon_lists: AddonLists, num_clusters: int, seed: int) -> np.ndarray:
    """Cluster clients by add-on set with bisecting k-means on :func:`hashed_idf_features`.

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
    features = hashed_idf_features(addon_lists)
    if features.shape[0] < num_clusters:
        raise ValueError(
            f"cannot make num_clusters={num_clusters} clusters from only {features.shape[0]} clients"
        )
    model = BisectingKMeans(n_clusters=int(num_clusters), random_state=int(seed))
    return _labels_by_descending_size(model.fit_predict(features), int(num_clusters))


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
