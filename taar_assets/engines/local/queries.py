"""The embedded engine's SQL for donor selection and the recommendation group's counts and samples."""

from __future__ import annotations

from taar_assets.recommendation.counts import ClientSplit, Group
from taar_assets.similarity.features import FEATURE_NAMES


def in_group(split: ClientSplit, group: Group, client_id: str = "client_id") -> str:
    """SQL: whether `client_id` is in the split's `group` (the same test as ClientSplit)."""
    digest_prefix = f"substr(sha256({_literal(split.salt + ':')} || {client_id}), 1, 16)"
    evaluation = f"({digest_prefix} < {_literal(split.threshold_hex)})"
    return evaluation if group == "evaluation" else f"NOT {evaluation}"


def seeded_order(client_id: str = "client_id") -> str:
    """SQL: the seeded order of clients both engines use: md5 of `$seed:client_id`, then the id."""
    return f"md5($seed || ':' || {client_id}), {client_id}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_FEATURES = ", ".join(f"samples.{name}" for name in FEATURE_NAMES)

DONORS = f"""
    WITH ranked AS (
      SELECT client_id, cluster, row_number() OVER (PARTITION BY cluster ORDER BY {seeded_order()}) AS rank
      FROM read_parquet($clusters)
    )
    SELECT ranked.client_id, ranked.cluster, {_FEATURES}, addons.addon_ids
    FROM ranked
    JOIN quotas USING (cluster)
    JOIN read_parquet($samples) AS samples USING (client_id)
    JOIN read_parquet($addons) AS addons USING (client_id)
    WHERE ranked.rank <= quotas.quota
    ORDER BY ranked.cluster, ranked.client_id"""


def group_items(split: ClientSplit, group: Group) -> str:
    """SQL: (client_id, addon_id) of the group's clients, each add-on once per client."""
    return f"""
    SELECT client_id, unnest(list_distinct(addon_ids)) AS addon_id
    FROM read_parquet($addons)
    WHERE {in_group(split, group)}"""


COUNTS = {
    "clients": "SELECT count(DISTINCT client_id) AS clients FROM items",
    "holders": "SELECT addon_id, count(*) AS clients FROM items GROUP BY addon_id",
    "locale_clients": """
        SELECT samples.locale, count(*) AS clients
        FROM (SELECT DISTINCT client_id FROM items) AS clients
        JOIN read_parquet($samples) AS samples USING (client_id)
        WHERE samples.locale IS NOT NULL
        GROUP BY samples.locale""",
    "locale_holders": """
        SELECT samples.locale, items.addon_id, count(*) AS clients
        FROM items JOIN read_parquet($samples) AS samples USING (client_id)
        WHERE samples.locale IS NOT NULL
        GROUP BY samples.locale, items.addon_id""",
    "pairs": """
        SELECT x.addon_id AS a, y.addon_id AS b, count(*) AS clients
        FROM items AS x JOIN items AS y USING (client_id)
        WHERE x.addon_id <> y.addon_id
        GROUP BY x.addon_id, y.addon_id""",
}


def client_sample(split: ClientSplit, group: Group) -> str:
    return f"""
    SELECT * FROM (
      SELECT addons.client_id, addons.addon_ids, {_FEATURES}
      FROM read_parquet($addons) AS addons
      JOIN read_parquet($samples) AS samples USING (client_id)
      WHERE {in_group(split, group, "addons.client_id")}
      ORDER BY {seeded_order("addons.client_id")}
      LIMIT $limit
    ) ORDER BY client_id"""
