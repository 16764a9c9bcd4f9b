"""The Spark engine's donor selection and the recommendation group's counts and samples: the
same rules as the embedded engine's SQL (``engines/local/queries.py``), in the JVM."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd
import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from taar_assets.recommendation.counts import AddonCounts, ClientSplit, Group
from taar_assets.similarity.features import FEATURE_NAMES


def in_group(split: ClientSplit, group: Group) -> Column:
    digest_prefix = F.substring(F.sha2(F.concat(F.lit(split.salt + ":"), F.col("client_id")), 256), 1, 16)
    evaluation = digest_prefix < F.lit(split.threshold_hex)
    return evaluation if group == "evaluation" else ~evaluation


def seeded_order(seed: str) -> list[Column]:
    return [F.md5(F.concat(F.lit(seed + ":"), F.col("client_id"))), F.col("client_id")]


def to_pandas(frame: DataFrame) -> pd.DataFrame:
    """A small result, through Arrow (no Python worker)."""
    return frame.toArrow().to_pandas()


def select_donors(
    clusters: DataFrame, samples: DataFrame, addons: DataFrame, quotas: Mapping[int, int], seed: str
) -> pd.DataFrame:
    spark = clusters.sparkSession
    quota_table = spark.createDataFrame(
        pa.table({"cluster": pa.array(list(quotas), pa.int32()), "quota": pa.array(list(quotas.values()), pa.int64())})
    )
    rank = F.row_number().over(Window.partitionBy("cluster").orderBy(*seeded_order(seed)))
    chosen = (
        clusters.select("client_id", "cluster", rank.alias("rank"))
        .join(F.broadcast(quota_table), "cluster")
        .where(F.col("rank") <= F.col("quota"))
        .select("client_id", "cluster")
    )
    donors = (
        chosen.join(samples.select("client_id", *FEATURE_NAMES), "client_id")
        .join(addons.select("client_id", "addon_ids"), "client_id")
        .select("client_id", "cluster", *FEATURE_NAMES, "addon_ids")
        .orderBy("cluster", "client_id")
    )
    return to_pandas(donors)


def client_ids_among(clusters: DataFrame, values: Collection[str]) -> set[str]:
    found = clusters.where(F.col("client_id").isin(sorted(set(values)))).select("client_id").distinct()
    return {row["client_id"] for row in found.collect()}


def addon_counts(addons: DataFrame, samples: DataFrame, split: ClientSplit, group: Group) -> AddonCounts:
    items = (
        addons.where(in_group(split, group))
        .select("client_id", F.explode(F.array_distinct("addon_ids")).alias("addon_id"))
        .persist()
    )
    try:
        clients = items.select("client_id").distinct().join(samples.select("client_id", "locale"), "client_id")
        with_locale = items.join(samples.select("client_id", "locale"), "client_id").where(F.col("locale").isNotNull())
        other = items.select("client_id", F.col("addon_id").alias("b"))
        tables = {
            "holders": items.groupBy("addon_id").agg(F.count("*").alias("clients")),
            "locale_clients": clients.where(F.col("locale").isNotNull()).groupBy("locale").agg(F.count("*").alias("clients")),
            "locale_holders": with_locale.groupBy("locale", "addon_id").agg(F.count("*").alias("clients")),
            "pairs": items.withColumnRenamed("addon_id", "a")
            .join(other, "client_id")
            .where(F.col("a") != F.col("b"))
            .groupBy("a", "b")
            .agg(F.count("*").alias("clients")),
        }
        frames = {name: to_pandas(table) for name, table in tables.items()}
        total = items.select("client_id").distinct().count()
    finally:
        items.unpersist()
    return AddonCounts(clients=int(total), **frames)


def client_sample(
    addons: DataFrame, samples: DataFrame, split: ClientSplit, group: Group, limit: int, seed: str
) -> pd.DataFrame:
    chosen = (
        addons.where(in_group(split, group))
        .join(samples.select("client_id", *FEATURE_NAMES), "client_id")
        .orderBy(*seeded_order(seed))
        .limit(int(limit))
        .select("client_id", "addon_ids", *FEATURE_NAMES)
    )
    return to_pandas(chosen).sort_values("client_id", ignore_index=True)
