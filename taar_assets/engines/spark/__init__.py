"""The Spark engine: the heavy stages on Spark, which writes their tables itself.

One session per run, created when a stage first needs it and stopped when the run ends (a
session the engine did not start is left running). pyspark is imported only then, so the
embedded engine runs without it. The stages run entirely in the JVM (`stages.py`): executors
need no Python.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from taar_assets.engines import Engine, StageResult, input_report
from taar_assets.recommendation.counts import AddonCounts, ClientSplit, Group
from taar_assets.similarity.input_contract import WindowFiles
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import DeferredTable, StoredTable, hadoop_url

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class SparkTable(DeferredTable):
    """A Spark DataFrame, written by Spark as a folder of part files."""

    writes_remote = True  # Spark writes s3a:// itself, with its own commit protocol

    def __init__(self, frame: DataFrame, provenance: dict[str, Any] | None = None):
        self.frame = frame
        self.provenance = dict(provenance or {})

    def write(self, location: str) -> dict[str, Any]:
        self.frame.write.mode("overwrite").parquet(hadoop_url(location))
        return {}

    def with_provenance(self, record: dict[str, Any]) -> SparkTable:
        return SparkTable(self.frame, record)

    def release(self) -> None:
        self.frame.unpersist()


class SparkEngine(Engine):
    """Spark: a local master, a cluster master (yarn, spark://, k8s://) or a Spark Connect server."""

    master: str = Field("local[2]", description="Spark master (local[N], yarn, spark://host:7077, k8s://...).")
    remote: str | None = Field(None, description="Spark Connect URL (sc://host:15002); when set, master is unused.")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark configuration, e.g. spark.executor.memory.")
    app_name: str = "taar_assets"

    _session: Any = PrivateAttr(default=None)
    _owns_session: bool = PrivateAttr(default=False)

    def session(self) -> SparkSession:
        if self._session is None:
            self._session, self._owns_session = self._open_session()
        return self._session

    def _open_session(self) -> tuple[SparkSession, bool]:
        from pyspark.sql import SparkSession

        if not self.remote:
            # A session that is already running (a notebook's, a test suite's) belongs to whoever
            # started it: use it and leave it running.
            active = SparkSession.getActiveSession()
            if active is not None:
                return active, False
        builder = SparkSession.builder.appName(self.app_name)
        if self.remote:
            builder = builder.remote(self.remote)
        elif "PYSPARK_GATEWAY_PORT" not in os.environ:
            # Under spark-submit (which starts the JVM and sets that variable) its --master applies.
            builder = builder.master(self.master)
        for key, value in self.conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate(), True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._session is not None and self._owns_session:
            self._session.stop()
        self._session = None

    def _read(self, table: StoredTable) -> DataFrame:
        return self.session().read.parquet(hadoop_url(table.location))

    def samples(self, files: WindowFiles, rule: SampleRule) -> StageResult:
        from taar_assets.engines.spark.stages import spark_samples

        # Spark computes the samples as the IO manager writes them: counting here first would
        # compute them twice.
        urls = [hadoop_url(path) for path in files.files]
        frame = spark_samples(self.session(), urls, list(files.file_days), rule)
        return StageResult(SparkTable(frame), self._input_report(files, rule))

    def advance_samples(
        self, previous: StoredTable, day: WindowFiles, rule: SampleRule, oldest: dt.date
    ) -> StageResult:
        from taar_assets.engines.spark.stages import spark_advanced_samples, spark_samples

        urls = [hadoop_url(path) for path in day.files]
        day_rows = spark_samples(self.session(), urls, list(day.file_days), rule) if urls else None
        frame = spark_advanced_samples(self._read(previous), day_rows, oldest)
        return StageResult(SparkTable(frame), self._input_report(day, rule) if urls else input_report([]))

    def _input_report(self, files: WindowFiles, rule: SampleRule) -> dict[str, Any]:
        from taar_assets.engines.spark.stages import spark_input_report

        per_file = spark_input_report(self.session(), [hadoop_url(path) for path in files.files], rule)
        original = {hadoop_url(path): path for path in files.files}
        return input_report([{**row, "file": original[row["file"]]} for row in per_file])

    def valid_addons(self, samples: StoredTable, whitelist: frozenset[str], min_valid_exclusive: int) -> StageResult:
        from pyspark.sql import functions as F

        from taar_assets.engines.spark.stages import spark_valid_addons

        day_samples = self._read(samples)
        frame = spark_valid_addons(day_samples, whitelist, min_valid_exclusive).persist()
        summary = frame.agg(F.count("*").alias("clients"), F.avg(F.size("addon_ids")).alias("mean")).first()
        return StageResult(
            SparkTable(frame),
            {
                "clients_in": day_samples.count(),
                "clients_out": summary["clients"],
                "mean_valid_addons": round(summary["mean"] or 0.0, 2),
                "distinct_addons": frame.select(F.explode("addon_ids")).distinct().count(),
            },
        )

    def clusters(self, addons: StoredTable, num_clusters: int, seed: int) -> StageResult:
        from taar_assets.engines.spark.stages import spark_clusters

        frame, sizes = spark_clusters(self._read(addons), num_clusters, seed)
        return StageResult(SparkTable(frame), {"sizes": sizes})

    def cluster_sizes(self, clusters: StoredTable) -> dict[int, int]:
        rows = self._read(clusters).groupBy("cluster").count().collect()
        return {int(row["cluster"]): int(row["count"]) for row in sorted(rows, key=lambda row: row["cluster"])}

    def select_donors(
        self, clusters: StoredTable, samples: StoredTable, addons: StoredTable, quotas: Mapping[int, int], seed: str
    ) -> pd.DataFrame:
        from taar_assets.engines.spark import queries

        return queries.select_donors(self._read(clusters), self._read(samples), self._read(addons), quotas, seed)

    def client_ids_among(self, clusters: StoredTable, values: Collection[str]) -> set[str]:
        from taar_assets.engines.spark import queries

        return queries.client_ids_among(self._read(clusters), values)

    def addon_counts(self, addons: StoredTable, samples: StoredTable, split: ClientSplit, group: Group) -> AddonCounts:
        from taar_assets.engines.spark import queries

        return queries.addon_counts(self._read(addons), self._read(samples), split, group)

    def client_sample(
        self, addons: StoredTable, samples: StoredTable, split: ClientSplit, group: Group, limit: int, seed: str
    ) -> pd.DataFrame:
        from taar_assets.engines.spark import queries

        return queries.client_sample(self._read(addons), self._read(samples), split, group, limit, seed)
