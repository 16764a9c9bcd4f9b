"""SPEC §3.2: each sampled client's valid, whitelisted add-on GUIDs, computed column-wise in Arrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _flag(addons: pa.StructArray, name: str) -> pa.Array:
    # A null flag reads as False, as the original's truthiness test did.
    return pc.fill_null(pc.struct_field(addons, name), False)


def valid_addons_per_client(
    samples: pa.Table, whitelist: frozenset[str] | set[str], min_valid_exclusive: int = 2
) -> pa.Table:
    """Return (client_id, addon_ids) for clients with more than `min_valid_exclusive` valid add-ons.

    An add-on is valid when it is not a system add-on, not app- or user-disabled, of type
    "extension", not foreign-installed, and its GUID is in the whitelist. The add-on order
    of each client is kept.
    """
    lists = samples.column("active_addons").combine_chunks()
    addons = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists).to_numpy()
    guids = pc.struct_field(addons, "addon_id")
    valid = pc.and_(
        pc.and_(
            pc.invert(_flag(addons, "is_system")),
            pc.invert(_flag(addons, "app_disabled")),
        ),
        pc.and_(
            pc.and_(pc.invert(_flag(addons, "user_disabled")), pc.invert(_flag(addons, "foreign_install"))),
            pc.and_(
                pc.fill_null(pc.equal(pc.struct_field(addons, "type"), "extension"), False),
                pc.is_in(guids, value_set=pa.array(sorted(whitelist), pa.string())),
            ),
        ),
    )
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
