"""Stage 2 on the embedded engine: each sampled client's valid add-on GUIDs.

The add-on lists are filtered a batch of clients at a time with Arrow (a hash set for the
whitelist) and DuckDB sorts the result into the stored file, spilling beyond its memory limit.
Regrouping unnested add-ons per client in SQL (`list(... ORDER BY position) GROUP BY client_id`)
cannot spill and ran out of memory at 10M clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taar_assets.similarity.rules import DISQUALIFYING_FLAGS, RECOMMENDABLE_TYPE

VALID_ADDONS_SORTED = "SELECT client_id, addon_ids FROM valid_addons ORDER BY client_id"

SUMMARY = """
    SELECT count(*) AS clients_out,
           coalesce(round(avg(len(addon_ids)), 2), 0) AS mean_valid_addons,
           (SELECT count(DISTINCT guid) FROM (SELECT unnest(addon_ids) AS guid FROM read_parquet($path)))
             AS distinct_addons
    FROM read_parquet($path)"""

_SCHEMA = pa.schema([("client_id", pa.string()), ("addon_ids", pa.list_(pa.string()))])


def _valid_batch(batch: pa.RecordBatch, whitelist: pa.Array, min_valid_exclusive: int) -> pa.RecordBatch:
    lists = batch.column("active_addons")
    addons = pc.list_flatten(lists)
    guids = pc.cast(pc.struct_field(addons, "addon_id"), pa.string())
    valid = pc.and_(pc.is_in(guids, value_set=whitelist), pc.equal(pc.struct_field(addons, "type"), RECOMMENDABLE_TYPE))
    for flag in DISQUALIFYING_FLAGS:  # a null flag reads as False
        valid = pc.and_(valid, pc.invert(pc.fill_null(pc.struct_field(addons, flag), False)))
    valid = pc.fill_null(valid, False)  # a null add-on, GUID or type is not valid
    counts = np.bincount(pc.filter(pc.list_parent_indices(lists), valid).to_numpy(), minlength=len(batch))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
    addon_ids = pa.ListArray.from_arrays(offsets, pc.filter(guids, valid))
    enough = pa.array(counts > min_valid_exclusive)
    client_ids = pc.cast(batch.column("client_id"), pa.string())
    return pa.record_batch([client_ids.filter(enough), addon_ids.filter(enough)], schema=_SCHEMA)


def valid_addon_batches(
    samples: pa.RecordBatchReader, whitelist: frozenset[str], min_valid_exclusive: int, keep_open: Any = None
) -> pa.RecordBatchReader:
    """(client_id, addon_ids) of the clients of `samples` with more than `min_valid_exclusive`
    valid add-ons, each client's add-on order kept, in the order read. `keep_open`: what the
    reader of `samples` needs alive until it is read (its DuckDB connection), closed after.

    Valid (``taar_assets.similarity.rules``): no disqualifying flag set (null reads as False),
    of type "extension", GUID in the whitelist.
    """
    value_set = pa.array(sorted(whitelist), pa.string())

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in samples:
                yield _valid_batch(batch, value_set, min_valid_exclusive)
        finally:
            if keep_open is not None:
                keep_open.close()

    return pa.RecordBatchReader.from_batches(_SCHEMA, batches())
