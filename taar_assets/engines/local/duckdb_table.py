"""A table the embedded engine computes with DuckDB and writes straight to parquet (out of core).

DuckDB runs the query and streams its result into the file (`COPY ... TO`), spilling to disk
beyond its memory limit, so no stage holds all clients' rows in the run's process.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import fsspec

from taar_assets.storage import PROVENANCE_KEY, DeferredTable, is_local_filesystem


@dataclass(frozen=True)
class DuckDBSettings:
    memory_limit: str | None = None
    threads: int | None = None
    filesystem: fsspec.AbstractFileSystem | None = None  # registered for remote (s3://) inputs
    temp_directory: str | None = None  # where it spills; DuckDB's default is .tmp in the working folder

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        if self.memory_limit:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
        if self.temp_directory:
            # One folder per connection: DuckDB creates it when it first spills and removes it on
            # close, so runs sharing the root never share spill files.
            os.makedirs(self.temp_directory, exist_ok=True)
            spill = os.path.join(self.temp_directory, f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
            con.execute(f"SET temp_directory = {quoted(spill)}")
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        con.execute("SET enable_progress_bar = false")  # it would interleave bars with the run's log
        # Results are ordered by ORDER BY where it matters; elsewhere order need not cost memory.
        con.execute("SET preserve_insertion_order = false")
        if self.filesystem is not None and not is_local_filesystem(self.filesystem):
            # DuckDB's own S3 support is an extension it would download; fsspec is already here.
            con.register_filesystem(self.filesystem)
        return con


def quoted(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass
class DuckDBTable(DeferredTable):
    """`query` (with `params`, and Arrow `relations` registered by name, or made by a callable
    when written) written as one parquet file; `summary(con, path)` computes the figures
    reported once it is written (from the file, so the query runs once)."""

    query: str
    params: Mapping[str, Any]
    settings: DuckDBSettings
    provenance: dict[str, Any] = field(default_factory=dict)
    summary: Callable[[duckdb.DuckDBPyConnection, str], dict[str, Any]] | None = None
    relations: Mapping[str, Any] = field(default_factory=dict)

    writes_remote = False  # written to a local file; the IO manager uploads it

    def write(self, location: str) -> dict[str, Any]:
        con = self.settings.connect()
        try:
            for name, relation in self.relations.items():  # a callable makes its relation now (a stream)
                con.register(name, relation() if callable(relation) else relation)
            metadata = quoted(json.dumps(self.provenance))
            con.execute(
                f"COPY ({self.query}) TO {quoted(location)} "
                f"(FORMAT parquet, KV_METADATA {{{quoted(PROVENANCE_KEY.decode())}: {metadata}}})",
                dict(self.params),
            )
            return self.summary(con, location) if self.summary else {}
        finally:
            con.close()

    def with_provenance(self, record: dict[str, Any]) -> DuckDBTable:
        return DuckDBTable(self.query, self.params, self.settings, dict(record), self.summary, self.relations)
