"""Stage 2 on the embedded engine: each sampled client's valid add-on GUIDs, with DuckDB."""

from __future__ import annotations

from taar_assets.similarity.rules import DISQUALIFYING_FLAGS, RECOMMENDABLE_TYPE


def valid_addons(min_valid_exclusive: int) -> str:
    """SQL over `$samples` and `$whitelist`: (client_id, addon_ids) of the clients with more than
    `min_valid_exclusive` valid add-ons, each client's add-on order kept, sorted by client_id.

    Valid (``taar_assets.similarity.rules``): no disqualifying flag set (null reads as False),
    of type "extension", GUID in the whitelist.
    """
    flags = "\n        ".join(f"AND NOT coalesce(addon.{flag}, false)" for flag in DISQUALIFYING_FLAGS)
    return f"""
    WITH items AS (
      SELECT client_id, unnest(active_addons) AS addon, generate_subscripts(active_addons, 1) AS position
      FROM read_parquet($samples)
    )
    SELECT client_id, list(addon.addon_id ORDER BY position) AS addon_ids
    FROM items
    WHERE addon.addon_id IN (SELECT unnest($whitelist))
        AND coalesce(addon.type = '{RECOMMENDABLE_TYPE}', false)
        {flags}
    GROUP BY client_id
    HAVING count(*) > {int(min_valid_exclusive)}
    ORDER BY client_id"""


SUMMARY = """
    SELECT count(*) AS clients_out,
           coalesce(round(avg(len(addon_ids)), 2), 0) AS mean_valid_addons,
           (SELECT count(DISTINCT guid) FROM (SELECT unnest(addon_ids) AS guid FROM read_parquet($path)))
             AS distinct_addons
    FROM read_parquet($path)"""
