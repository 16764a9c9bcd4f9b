"""The heavy stages (docs/behaviour.md §3.1-3.3) in Spark: the same results as the embedded engine, on a cluster.

Each function takes and returns Spark DataFrames and runs entirely in the JVM (Spark SQL,
higher-order functions, pyspark.ml): no Python row UDF, so executors need no Python.

* ``spark_samples`` mirrors ``engines.local.samples.build_samples``: same filters, same columns and
  types, and the same "latest row" rule. A row's position in the window is
  ``file_index * 2^32 + row_index``, where ``file_index`` is the file's place in the window's
  list (days in order, then file name) and ``row_index`` is Spark's ``_metadata.row_index``,
  the row's ordinal inside its parquet file, exactly DuckDB's ``file_row_number``. Neither
  ``monotonically_increasing_id`` nor ``row_number()`` over a scan would do: they number rows
  by Spark partition, and how files are split into partitions depends on file sizes and
  configuration.
* ``spark_valid_addons`` mirrors ``engines.local.addons.valid_addons_per_client`` with ``filter`` and
  ``transform`` over the add-on arrays (order kept).
* ``spark_clusters`` is the original job's pipeline, HashingTF(2^18) -> IDF(minDocFreq=1) ->
  BisectingKMeans, with labels renumbered by descending cluster size like
  ``clustering.cluster_clients``. A VectorSlicer between HashingTF and IDF keeps only the
  buckets some client uses, as the embedded engine does: all-zero columns change no distance,
  but Spark's bisecting k-means keeps dense centres, and 2^18-wide ones made it ~4x slower.
  Its input gets a partition count that makes the result reproducible (see
  ``clustering.keeps_cluster_order``): then the embedded engine's labels are Spark's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from urllib.parse import unquote, urlsplit

import pyarrow as pa
from pyspark.ml import Pipeline
from pyspark.ml.clustering import BisectingKMeans
from pyspark.ml.feature import IDF, HashingTF, VectorSlicer
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructField, StructType

from taar_assets.similarity.clustering import NUM_HASH_FEATURES, hashed_bucket, keeps_cluster_order
from taar_assets.similarity.features import FEATURES, SAMPLE_COLUMNS, SUBMISSION_DATE, Feature
from taar_assets.similarity.rules import (
    ADDON_FIELDS_READ,
    ADDON_STRING_FIELDS,
    DISQUALIFYING_FLAGS,
    FIREFOX,
    RECOMMENDABLE_TYPE,
    RELEASE_CHANNEL,
    SampleRule,
)

ROW_INDEX_BITS = 32  # as the embedded engine: file_index * 2^32 + row number in the file
MAX_BROADCAST_POSITIONS = 4_000_000  # clients whose latest positions (8 bytes each) go to every task


def _unescaped_location(uri: str) -> str:
    """Where a file Spark names by URI (file:///..., s3a://..., %-escaped) is, without the scheme."""
    parts = urlsplit(uri)
    return unquote(parts.netloc + parts.path)


def _file_indexes(spark: SparkSession, scan: DataFrame, files: Sequence[str], file_days: Sequence[dt.date]) -> DataFrame:
    """(input_file, file_index, submission_date): each file as Spark names it, its place in
    `files` and its day."""
    index_of = {path.split("://", 1)[-1]: index for index, path in enumerate(files)}
    spark_names = scan.inputFiles()
    unknown = [name for name in spark_names if _unescaped_location(name) not in index_of]
    if unknown:
        raise ValueError(f"Spark reads files that are not the window's: {unknown[:3]}")
    indexes = [index_of[_unescaped_location(name)] for name in spark_names]
    # From Arrow: decoded in the JVM, no Python worker needed.
    return spark.createDataFrame(
        pa.table(
            {
                "input_file": spark_names,
                "file_index": pa.array(indexes, pa.int64()),
                SUBMISSION_DATE: pa.array([file_days[index] for index in indexes], pa.date32()),
            }
        )
    )


def _plausible(value: Column, feature: Feature) -> Column:
    # Spark orders NaN above every number, infinity included: the upper bound rejects both.
    return (value >= 0) & (value <= float(feature.plausible_max))


def _continuous(feature: Feature) -> Column:
    value = F.col(feature.source).cast("double")
    return F.when(_plausible(value, feature), value).alias(feature.name)


def spark_input_report(spark: SparkSession, files: Sequence[str], rule: SampleRule) -> list[dict]:
    """Per file of `files`: how its rows fare against the row rule (rows, with_client_id, release,
    firefox, qualifying: each step on top of the previous) and how many values of each continuous
    column are NaN, infinite, negative or above the feature's plausible maximum."""
    continuous = [feature for feature in FEATURES if feature.kind == "continuous"]
    steps = [
        ("with_client_id", F.col("client_id").isNotNull()),
        ("release", F.col("channel") == RELEASE_CHANNEL),
        ("firefox", F.col("app_name") == FIREFOX),
        ("qualifying", F.col("active_addons").isNotNull()
         & (F.size("active_addons") > int(rule.min_addons_exclusive))
         & (F.size("active_addons") < int(rule.max_addons_exclusive))),
    ]
    conditions, funnel = F.lit(True), []
    for name, condition in steps:
        conditions = conditions & F.coalesce(condition, F.lit(False))
        funnel.append(F.count(F.when(conditions, 1)).alias(name))
    implausible = [
        F.count(F.when(F.col(f.source).isNotNull() & ~_plausible(F.col(f.source).cast("double"), f), 1)).alias(f.source)
        for f in continuous
    ]
    scan = spark.read.schema(_pruned_schema(spark.read.parquet(files[0]).schema)).parquet(*files)
    rows = scan.groupBy(F.input_file_name().alias("input_file")).agg(F.count("*").alias("rows"), *funnel, *implausible)
    path_of = {path.split("://", 1)[-1]: path for path in files}
    reports = [{**row.asDict(), "file": path_of[_unescaped_location(row["input_file"])]} for row in rows.collect()]
    order = {path: index for index, path in enumerate(files)}
    return sorted(reports, key=lambda report: order[report["file"]])


def _projected_addons() -> Column:
    """Only the add-on fields the validity rule reads, typed as in the embedded engine's samples."""

    def project(addon: Column) -> Column:
        fields = [addon.getField(name).cast("string").alias(name) for name in ADDON_STRING_FIELDS]
        fields += [addon.getField(name).cast("boolean").alias(name) for name in DISQUALIFYING_FLAGS]
        return F.when(addon.isNotNull(), F.struct(*fields))  # a null add-on stays null

    return F.transform("active_addons", project)


def _pruned_schema(schema: StructType) -> StructType:
    """The files' schema with the add-on structs cut to the fields the validity rule reads.

    Spark prunes nested fields a query names directly, but not inside a lambda such as
    ``transform``'s; reading the add-on lists with this schema skips the other add-on columns
    of the parquet files (name, version, dates, ...). Kept fields keep the files' types.
    """
    addons = schema["active_addons"].dataType
    if not (isinstance(addons, ArrayType) and isinstance(addons.elementType, StructType)):
        return schema  # not the contract's shape: read as is, and let the query report it
    kept = [field for field in addons.elementType.fields if field.name in ADDON_FIELDS_READ]
    pruned = StructField("active_addons", ArrayType(StructType(kept), addons.containsNull), True)
    return StructType([pruned if field.name == "active_addons" else field for field in schema.fields])


def spark_samples(
    spark: SparkSession, files: Sequence[str], file_days: Sequence[dt.date], rule: SampleRule = SampleRule()
) -> DataFrame:
    """docs/behaviour.md §3.1 over the window's parquet `files` (day order, then name, as ``find_window_files``).

    Returns the latest qualifying row of each client with the columns of ``SAMPLE_COLUMNS``
    (continuous features as doubles, add-on structs reduced to the fields the validity rule
    reads). Like the embedded engine it works in two passes: the latest row's position per
    client is found from light columns, then the rows at those positions are kept by a semi
    join on the position: against a broadcast set of positions up to MAX_BROADCAST_POSITIONS
    clients (no shuffle of the wide rows), else by shuffling both sides.
    """
    # Without mergeSchema Spark too reads one file's footer for the schema; reading the window's
    # oldest file here avoids listing every file twice.
    scan = spark.read.schema(_pruned_schema(spark.read.parquet(files[0]).schema)).parquet(*files)
    qualifying = scan.where(
        F.col("client_id").isNotNull()
        & F.col("active_addons").isNotNull()
        & (F.size("active_addons") > int(rule.min_addons_exclusive))
        & (F.size("active_addons") < int(rule.max_addons_exclusive))
        & (F.col("channel") == RELEASE_CHANNEL)
        & (F.col("app_name") == FIREFOX)
    )
    # The file list is small enough to broadcast whatever the window's size.
    indexes = F.broadcast(_file_indexes(spark, scan, files, file_days))
    positioned = (
        qualifying.select("*", F.input_file_name().alias("input_file"), F.col("_metadata.row_index").alias("row_index"))
        .join(indexes, "input_file")
        .withColumn("position", F.shiftleft("file_index", ROW_INDEX_BITS) + F.col("row_index"))
    )
    # Computed once, eagerly: its size decides how the rows are matched to it.
    latest = positioned.groupBy("client_id").agg(F.max("position").alias("position")).select("position").localCheckpoint()
    if latest.count() <= MAX_BROADCAST_POSITIONS:
        # Every task keeps its latest rows itself: the wide rows are never shuffled.
        latest = F.broadcast(latest)
    # Projected before the join, so only the add-on fields kept travel through a shuffle.
    rows = positioned.select(
        "position",
        F.col("client_id").cast("string").alias("client_id"),
        _projected_addons().alias("active_addons"),
        *[F.col(f.source).cast("string").alias(f.name) for f in FEATURES if f.kind == "categorical"],
        *[_continuous(f) for f in FEATURES if f.kind == "continuous"],
        SUBMISSION_DATE,
    )
    return rows.join(latest, "position", "left_semi").select(*SAMPLE_COLUMNS)


def spark_advanced_samples(previous: DataFrame, day_rows: DataFrame | None, oldest: dt.date) -> DataFrame:
    """The previous day's samples without rows older than `oldest`, overridden by `day_rows`
    (the next day's latest qualifying rows: a later day always wins; None: no data that day)."""
    kept = previous.where(F.col(SUBMISSION_DATE) >= F.lit(oldest)).select(*SAMPLE_COLUMNS)
    if day_rows is None:
        return kept
    return kept.join(day_rows.select("client_id"), "client_id", "left_anti").unionByName(day_rows.select(*SAMPLE_COLUMNS))


def _flag_set(addon: Column, name: str) -> Column:
    # A null flag reads as False, as the original's truthiness test did.
    return F.coalesce(addon.getField(name), F.lit(False))


def spark_valid_addons(samples: DataFrame, whitelist: Collection[str], min_valid_exclusive: int = 2) -> DataFrame:
    """(client_id, addon_ids) for clients with more than `min_valid_exclusive` valid add-ons (docs/behaviour.md §3.2).

    Valid: not a system add-on, not app- or user-disabled, of type "extension", not
    foreign-installed, GUID in `whitelist`. Each client's add-on order is kept.
    """
    guids = sorted(whitelist)

    def is_valid(addon: Column) -> Column:
        valid = F.coalesce(addon.getField("type") == RECOMMENDABLE_TYPE, F.lit(False))
        # A long IN list becomes a hash-set lookup (Spark's InSet).
        valid = valid & F.coalesce(addon.getField("addon_id").isin(guids), F.lit(False))
        for flag in DISQUALIFYING_FLAGS:
            valid = valid & ~_flag_set(addon, flag)
        return valid

    valid = F.transform(F.filter("active_addons", is_valid), lambda addon: addon.getField("addon_id"))
    return (
        samples.select("client_id", valid.alias("addon_ids"))
        .where(F.size("addon_ids") > int(min_valid_exclusive))
    )


def _used_buckets(addons: DataFrame) -> list[int]:
    guids = addons.select(F.explode("addon_ids").alias("guid")).distinct().collect()
    return sorted({hashed_bucket(row["guid"]) for row in guids})


ROWS_PER_CLUSTERING_PARTITION = 1_000_000


def clustering_partitions(clients: int) -> int:
    """Partitions for BisectingKMeans' input: few (each of its ~100 jobs runs a task per partition),
    about a million clients each, and a count that keeps its clusters in index order."""
    wanted = -(-clients // ROWS_PER_CLUSTERING_PARTITION)
    return 4 if wanted <= 4 else max(wanted, 8)


def _check_shuffle_partitions(default_parallelism: str | None) -> None:
    # When set, spark.default.parallelism is the partition count of BisectingKMeans' shuffles.
    if default_parallelism is not None and not keeps_cluster_order(int(default_parallelism)):
        raise ValueError(
            f"spark.default.parallelism={default_parallelism} makes Spark's BisectingKMeans depend on how "
            "the data is partitioned (and disagree with the embedded engine): set it to 4 or at least 8, "
            "or leave it unset"
        )


def spark_clusters(addons: DataFrame, num_clusters: int, seed: int) -> tuple[DataFrame, list[int]]:
    """(client_id, cluster) by HashingTF -> IDF -> BisectingKMeans on the add-on GUIDs (docs/behaviour.md §3.3),
    and the size of each cluster 0 .. num_clusters - 1.

    Clusters are numbered by descending size (0 = biggest); equal sizes are ordered by their
    smallest client_id, since Spark rows have no inherent order (clusters that bisecting k-means
    could not make, with too few distinct add-on sets, have size 0). Deterministic for a given
    `seed` and input. Raises ValueError for fewer clients than clusters, as the embedded engine.
    """
    clients = addons.count()
    if clients < num_clusters:
        raise ValueError(f"cannot make num_clusters={num_clusters} clusters from only {clients} clients")
    _check_shuffle_partitions(addons.sparkSession.conf.get("spark.default.parallelism", None))
    # BisectingKMeans draws each cluster's random start in the order its shuffle returns the
    # clusters, which follows the cluster index only for some partition counts. Cached: the
    # bucket list, IDF, BisectingKMeans and the predictions each read it.
    addons = addons.repartition(clustering_partitions(clients)).persist()
    try:
        pipeline = Pipeline(
            stages=[
                HashingTF(inputCol="addon_ids", outputCol="term_frequencies", numFeatures=NUM_HASH_FEATURES),
                VectorSlicer(inputCol="term_frequencies", outputCol="used_frequencies", indices=_used_buckets(addons)),
                IDF(inputCol="used_frequencies", outputCol="features", minDocFreq=1),
                BisectingKMeans(k=int(num_clusters), seed=int(seed), featuresCol="features", predictionCol="prediction"),
            ]
        )
        # Computed once, here: the cluster sizes below and the IO manager's write both read them.
        predictions = pipeline.fit(addons).transform(addons).select("client_id", "prediction").localCheckpoint()
    finally:
        addons.unpersist()
    found = predictions.groupBy("prediction").agg(F.count("*").alias("size"), F.min("client_id").alias("first"))
    ranking = sorted(found.collect(), key=lambda row: (-row["size"], row["first"]))
    label_of = {row["prediction"]: label for label, row in enumerate(ranking)}
    relabel = F.create_map(*[F.lit(value) for pair in label_of.items() for value in pair])
    sizes = [row["size"] for row in ranking] + [0] * (num_clusters - len(ranking))
    return predictions.select("client_id", relabel[F.col("prediction")].cast("int").alias("cluster")), sizes
