"""The embedded engine: DuckDB (out of core), Arrow and NumPy inside the run's process.

Every table is computed by DuckDB and streamed into its parquet file; only what is small
(cluster sizes, the donors, counts over the catalogue, bounded samples) and the clustering's
sparse features come into Python.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Collection, Mapping
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field

from taar_assets.engines import Engine, StageResult, input_report
from taar_assets.engines.local import addons as addons_sql
from taar_assets.engines.local import queries
from taar_assets.engines.local import samples as samples_sql
from taar_assets.engines.local.duckdb_table import DuckDBSettings, DuckDBTable
from taar_assets.engines.local.file_reports import window_report
from taar_assets.recommendation.counts import AddonCounts, ClientSplit, Group
from taar_assets.similarity.clustering import bucket_columns, cluster_features, idf_features
from taar_assets.similarity.input_contract import WindowFiles
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import StoredTable

def _source(table: StoredTable) -> str:
    """What DuckDB reads for a stored table: its file, or the part files of a folder (Spark's)."""
    return f"{table.location}/*.parquet" if table.path.is_dir() else table.location


_BATCH_CLIENTS = 100_000  # clients' add-on lists filtered at a time (tens of MB)


class LocalEngine(Engine):
    """DuckDB, Arrow and NumPy inside the run's process."""

    memory_limit: str = Field("3GB", description="DuckDB's memory cap; it spills to disk beyond it.")
    threads: int | None = Field(None, description="DuckDB's threads; by default one per core.")
    temp_directory: str = Field(
        os.path.join(tempfile.gettempdir(), "taar_assets-duckdb"),
        description="Where DuckDB spills beyond its memory cap (a folder per connection inside).",
    )

    def _settings(self, *tables: StoredTable, files: WindowFiles | None = None) -> DuckDBSettings:
        filesystem = files.filesystem if files is not None else (tables[0].path.fs if tables else None)
        return DuckDBSettings(self.memory_limit, self.threads, filesystem, self.temp_directory)

    @staticmethod
    def _fetch(settings: DuckDBSettings, sql: str, params: Mapping[str, Any], **relations: Any) -> pa.Table:
        con = settings.connect()
        try:
            for name, relation in relations.items():
                con.register(name, relation)
            return con.sql(sql, params=dict(params)).to_arrow_table()
        finally:
            con.close()

    # --- stage 1 ------------------------------------------------------------------------------

    def samples(self, files: WindowFiles, rule: SampleRule) -> StageResult:
        settings = self._settings(files=files)
        table = DuckDBTable(
            samples_sql.window_samples(rule),
            {"files": list(files.files), "file_days": list(files.file_days)},
            settings,
        )
        return StageResult(table, input_report(window_report(files, rule)))

    def advance_samples(
        self, previous: StoredTable, day: WindowFiles, rule: SampleRule, oldest: dt.date
    ) -> StageResult:
        settings = self._settings(files=day)
        params: dict[str, Any] = {"previous": _source(previous), "oldest": oldest}
        if day.files:
            params |= {"files": list(day.files), "file_days": list(day.file_days)}
        table = DuckDBTable(samples_sql.advanced_samples(rule, with_day=bool(day.files)), params, settings)
        return StageResult(table, input_report(window_report(day, rule)))

    # --- stages 2 and 3 -----------------------------------------------------------------------

    def valid_addons(self, samples: StoredTable, whitelist: frozenset[str], min_valid_exclusive: int) -> StageResult:
        settings = self._settings(samples)
        source = {"samples": _source(samples)}
        clients_in = self._fetch(settings, "SELECT count(*) AS n FROM read_parquet($samples)", source)

        def summary(con: duckdb.DuckDBPyConnection, path: str) -> dict[str, Any]:
            out, mean, distinct = con.execute(addons_sql.SUMMARY, {"path": path}).fetchone()
            return {"clients_out": out, "mean_valid_addons": float(mean), "distinct_addons": distinct}

        def valid_addons() -> pa.RecordBatchReader:  # read when the table is written
            con = settings.connect()
            clients = con.sql("SELECT client_id, active_addons FROM read_parquet($samples)", params=source)
            return addons_sql.valid_addon_batches(
                clients.to_arrow_reader(_BATCH_CLIENTS), whitelist, min_valid_exclusive, keep_open=con
            )

        table = DuckDBTable(
            addons_sql.VALID_ADDONS_SORTED, {}, settings, summary=summary, relations={"valid_addons": valid_addons}
        )
        return StageResult(table, {"clients_in": clients_in.column("n")[0].as_py()})

    def clusters(self, addons: StoredTable, num_clusters: int, seed: int) -> StageResult:
        settings = self._settings(addons)
        source = {"addons": _source(addons)}
        con = settings.connect()
        guids = con.sql("SELECT DISTINCT unnest(addon_ids) AS guid FROM read_parquet($addons)", params=source)
        distinct = guids.to_arrow_table().column("guid").to_pylist()
        column_of_guid, column_count = bucket_columns(distinct)
        con.register("columns", pa.table({"guid": distinct, "column": column_of_guid.astype(np.int32)}))
        clients = con.sql("SELECT count(*) FROM read_parquet($addons)", params=source).fetchall()[0][0]
        items = con.sql(
            """
            SELECT file_row_number AS row, columns.column
            FROM (SELECT file_row_number, unnest(addon_ids) AS guid FROM read_parquet($addons, file_row_number = true))
            JOIN columns USING (guid)
            ORDER BY row""",
            params=source,
        ).to_arrow_table()
        con.close()
        rows = items.column("row").to_numpy()
        row_offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=clients), dtype=np.int64)])
        columns = items.column("column").to_numpy().copy()  # Arrow memory is read-only; scipy sorts in place
        labels = cluster_features(idf_features(row_offsets, columns, column_count), num_clusters, seed)
        del items, rows, columns
        table = DuckDBTable(
            """
            SELECT addons.client_id, labels.cluster
            FROM read_parquet($addons, file_row_number = true) AS addons
            JOIN labels ON addons.file_row_number = labels.row
            ORDER BY addons.client_id""",
            source,
            settings,
            relations={"labels": pa.table({"row": np.arange(clients, dtype=np.int64), "cluster": labels})},
        )
        return StageResult(table, {"sizes": np.bincount(labels, minlength=num_clusters).tolist()})

    # --- the donors ---------------------------------------------------------------------------

    def cluster_sizes(self, clusters: StoredTable) -> dict[int, int]:
        sizes = self._fetch(
            self._settings(clusters),
            "SELECT cluster, count(*) AS size FROM read_parquet($clusters) GROUP BY cluster ORDER BY cluster",
            {"clusters": _source(clusters)},
        )
        return dict(zip(sizes.column("cluster").to_pylist(), sizes.column("size").to_pylist()))

    def select_donors(
        self, clusters: StoredTable, samples: StoredTable, addons: StoredTable, quotas: Mapping[int, int], seed: str
    ) -> pd.DataFrame:
        quota_table = pa.table(
            {"cluster": pa.array(list(quotas), pa.int32()), "quota": pa.array(list(quotas.values()), pa.int64())}
        )
        params = {"clusters": _source(clusters), "samples": _source(samples), "addons": _source(addons), "seed": seed}
        return self._fetch(self._settings(clusters), queries.DONORS, params, quotas=quota_table).to_pandas()

    def client_ids_among(self, clusters: StoredTable, values: Collection[str]) -> set[str]:
        found = self._fetch(
            self._settings(clusters),
            "SELECT DISTINCT client_id FROM read_parquet($clusters) WHERE client_id IN (SELECT unnest($values))",
            {"clusters": _source(clusters), "values": sorted(set(values))},
        )
        return set(found.column("client_id").to_pylist())

    # --- the recommendation group -------------------------------------------------------------

    def addon_counts(self, addons: StoredTable, samples: StoredTable, split: ClientSplit, group: Group) -> AddonCounts:
        con = self._settings(addons).connect()
        params = {"addons": _source(addons), "samples": _source(samples)}
        try:
            con.execute(f"CREATE TEMP TABLE items AS {queries.group_items(split, group)}", {"addons": params["addons"]})
            tables = {
                name: con.sql(sql, params={"samples": params["samples"]} if "$samples" in sql else None)
                .to_arrow_table()
                .to_pandas()
                for name, sql in queries.COUNTS.items()
            }
        finally:
            con.close()
        return AddonCounts(
            clients=int(tables.pop("clients")["clients"].iloc[0]),
            **{name: frame.astype({"clients": np.int64}) for name, frame in tables.items()},
        )

    def client_sample(
        self, addons: StoredTable, samples: StoredTable, split: ClientSplit, group: Group, limit: int, seed: str
    ) -> pd.DataFrame:
        params = {"addons": _source(addons), "samples": _source(samples), "seed": seed, "limit": int(limit)}
        return self._fetch(self._settings(addons), queries.client_sample(split, group), params).to_pandas()
