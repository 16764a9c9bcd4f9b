"""Stage 1 on the embedded engine: the latest qualifying row per client, with DuckDB.

The window is read with DuckDB straight from parquet: filters, projection and the
latest-row-per-client step run inside DuckDB (which spills to disk beyond its memory limit),
so the window is never held as Python objects. Remote roots (``s3://...``) go through fsspec,
which DuckDB uses as a registered filesystem.
"""

from __future__ import annotations

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.compute as pc

from taar_assets.similarity.features import SAMPLE_COLUMNS
from taar_assets.similarity.input_contract import CONTINUOUS_SOURCES, WindowFiles
from taar_assets.similarity.rules import (
    ADDON_FIELDS_READ,
    ADDON_STRING_FIELDS,
    FIREFOX,
    RELEASE_CHANNEL,
    SampleRule,
)
from taar_assets.storage import is_local_filesystem


def connect(
    filesystem: fsspec.AbstractFileSystem, memory_limit: str | None, threads: int | None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    if not is_local_filesystem(filesystem):
        # DuckDB's own S3 support is an extension it would download; fsspec is already here.
        con.register_filesystem(filesystem)
    return con


def _project_addons(lists: pa.ChunkedArray) -> pa.Array:
    """Keep only the add-on fields the validity rule reads (Arrow-side: cheap on the latest rows)."""
    lists = lists.combine_chunks()
    structs = lists.values
    projected = pa.StructArray.from_arrays(
        [
            pc.cast(structs.field(name), pa.string() if name in ADDON_STRING_FIELDS else pa.bool_())
            for name in ADDON_FIELDS_READ
        ],
        names=list(ADDON_FIELDS_READ),
        mask=pc.invert(structs.is_valid()) if structs.null_count else None,
    )
    return pa.ListArray.from_arrays(lists.offsets, projected, mask=pc.invert(lists.is_valid()) if lists.null_count else None)


def build_samples(
    window_files: WindowFiles,
    rule: SampleRule = SampleRule(),
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> pa.Table:
    """docs/behaviour.md §3.1: the latest qualifying row per client within the window (``SampleRule``), as
    an Arrow table with ``SAMPLE_COLUMNS``, sorted by client_id. Continuous features become
    doubles; the add-on structs keep the fields the validity rule reads.

    Two passes: the first finds each client's latest qualifying row from light columns only;
    the second fetches just those rows. Sorting or aggregating the nested add-on lists of the
    whole window instead costs several times more time and memory.
    """
    # `files` are in day order (then by name), so a row's position in the window is
    # (file_index, file_row_number): the greatest is the client's latest row.
    source = "read_parquet($files, union_by_name = true, file_row_number = true)"
    row_position = "file_index * 4294967296 + file_row_number"
    continuous = ",\n      ".join(f"CAST({column} AS DOUBLE) AS {name}" for column, name in CONTINUOUS_SOURCES.items())
    query = f"""
    WITH latest AS (
      SELECT max({row_position}) AS position
      FROM {source}
      WHERE client_id IS NOT NULL
        AND active_addons IS NOT NULL
        AND len(active_addons) > {int(rule.min_addons_exclusive)}
        AND len(active_addons) < {int(rule.max_addons_exclusive)}
        AND channel = '{RELEASE_CHANNEL}'
        AND app_name = '{FIREFOX}'
      GROUP BY client_id
    )
    SELECT
      CAST(client_id AS VARCHAR) AS client_id,
      active_addons,
      CAST(city AS VARCHAR) AS city,
      CAST(locale AS VARCHAR) AS locale,
      CAST(os AS VARCHAR) AS os,
      {continuous}
    FROM {source}
    WHERE {row_position} IN (SELECT position FROM latest)
    """
    con = connect(window_files.filesystem, memory_limit, threads)
    try:
        table = con.sql(query, params={"files": list(window_files.files)}).to_arrow_table()
    finally:
        con.close()
    table = table.set_column(
        table.schema.get_field_index("active_addons"), "active_addons", _project_addons(table.column("active_addons"))
    )
    table = table.take(pc.sort_indices(table.column("client_id")))
    return table.select(list(SAMPLE_COLUMNS))
