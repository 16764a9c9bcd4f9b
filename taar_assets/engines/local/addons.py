"""Stage 2 on the embedded engine: each sampled client's valid add-on GUIDs, column-wise in Arrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taar_assets.similarity.rules import DISQUALIFYING_FLAGS, RECOMMENDABLE_TYPE


def valid_addons_per_client(
    samples: pa.Table, whitelist: frozenset[str] | set[str], min_valid_exclusive: int = 2
) -> pa.Table:
    """(client_id, addon_ids) for clients with more than `min_valid_exclusive` valid add-ons.

    Valid (``taar_assets.similarity.rules``): no disqualifying flag set (null reads as False),
    of type "extension", GUID in the whitelist. The add-on order of each client is kept.
    """
    lists = samples.column("active_addons").combine_chunks()
    addons = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists).to_numpy()
    guids = pc.struct_field(addons, "addon_id")
    valid = pc.and_(
        pc.fill_null(pc.equal(pc.struct_field(addons, "type"), RECOMMENDABLE_TYPE), False),
        pc.is_in(guids, value_set=pa.array(sorted(whitelist), pa.string())),
    )
    for flag in DISQUALIFYING_FLAGS:
        valid = pc.and_(valid, pc.invert(pc.fill_null(pc.struct_field(addons, flag), False)))
    mask = valid.to_numpy(zero_copy_only=False)
    counts = np.bincount(owner[mask], minlength=len(lists))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    valid_lists = pa.ListArray.from_arrays(offsets, pc.filter(guids, valid).cast(pa.string()))
    keep = counts > min_valid_exclusive
    return pa.table(
        {
            "client_id": pc.filter(samples.column("client_id"), keep),
            "addon_ids": pc.filter(valid_lists, keep),
        }
    )
