"""The IO managers: one stored value per asset and day, `<base>/<asset>/<YYYY-MM-DD>.<ext>`.

The base is a local folder or an `s3://bucket/prefix` URL; switching is configuration only.

- `ParquetIOManager` stores tables: a pyarrow.Table or pandas.DataFrame as one parquet file,
  an engine's `DeferredTable` (e.g. Spark's) as the folder of part files the engine writes, and
  a domain value with `to_table()` / `from_table()` (the donor pool, the LR curves) as parquet.
  The input's Dagster type says what an asset gets back; a `StoredTable` input is not read until
  the asset (or its engine) asks.
- `DocumentIOManager` stores JSON documents (values with `to_json()` / `from_json()`).

Single-run backfills over a range are computed and written one day at a time
(`PartitionedOutput` / `LazyPartitions`), so a long range never holds every day in memory.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from taar_assets.storage import (
    PROVENANCE_SIDECAR,
    DeferredTable,
    StoredTable,
    count_rows,
    is_local_upath,
    read_table,
    write_bytes_locally_in_place,
    write_locally_in_place,
)


class PartitionedOutput:
    """An asset's output over several days, each computed only when the IO manager writes it."""

    def __init__(self, compute_by_day: Mapping[str, Callable[[], Any]]):
        self.compute_by_day = dict(compute_by_day)


class LazyPartitions(Mapping[str, Any]):
    """Several upstream days, each read from storage only when accessed (and not kept)."""

    def __init__(self, load_by_day: Mapping[str, Callable[[], Any]]):
        self._load_by_day = dict(load_by_day)

    def __getitem__(self, day: str) -> Any:
        return self._load_by_day[day]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._load_by_day)

    def __len__(self) -> int:
        return len(self._load_by_day)


_PER_DAY = (PartitionedOutput, LazyPartitions)


def _stored_type(name: str, typing_type: type, admits: tuple[type, ...], description: str) -> dg.DagsterType:
    return dg.DagsterType(
        name=name,
        type_check_fn=lambda _, value: isinstance(value, (*admits, *_PER_DAY)),
        typing_type=typing_type,
        description=description,
    )


# The Dagster types of stored values; each also admits the per-day containers of range runs.
ArrowTable = _stored_type(
    "ArrowTable", pa.Table, (pa.Table, DeferredTable), "A table stored as parquet, loaded as a pyarrow.Table."
)
PandasFrame = _stored_type("PandasFrame", pd.DataFrame, (pd.DataFrame,), "A pandas.DataFrame stored as parquet.")
StoredTableInput = _stored_type(
    "StoredTable", StoredTable, (StoredTable,), "An upstream day's table, read when the stage (or its engine) asks."
)


@functools.cache
def table_type(value_class: type) -> dg.DagsterType:
    """The Dagster type of a domain value stored as parquet (`to_table()` / `from_table()`)."""
    return _stored_type(value_class.__name__, value_class, (value_class,), f"A {value_class.__name__} stored as parquet.")


@functools.cache
def document_type(document_class: type) -> dg.DagsterType:
    """The Dagster type of a JSON document value (`to_json()` / `from_json()`)."""
    return _stored_type(
        document_class.__name__, document_class, (document_class,), f"A {document_class.__name__} stored as JSON."
    )


class MissingPartitionError(FileNotFoundError):
    """An upstream partition was never materialised."""


class ParquetIOManager(dg.UPathIOManager):
    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        context.add_output_metadata({"dagster/row_count": self._write(obj, path)})

    def _write(self, value: Any, path: UPath) -> int:
        """Store `value` at `path`; returns the rows written."""
        if isinstance(value, DeferredTable):
            return self._write_deferred(value, path)
        if isinstance(value, pd.DataFrame):
            table = pa.Table.from_pandas(value, preserve_index=False)
        elif isinstance(value, pa.Table):
            table = value
        else:
            table = value.to_table()
        if is_local_upath(path):
            write_locally_in_place(path.path, lambda temporary: pq.write_table(table, temporary))
        else:
            try:
                if path.is_dir():  # an earlier engine's folder would shadow the file
                    path.fs.rm(path.path, recursive=True)
                # One object store PUT (or multipart completion) is atomic already.
                with path.open("wb") as handle:
                    pq.write_table(table, handle)
            except OSError as error:  # s3fs's messages ("The specified bucket does not exist") name no object
                raise OSError(f"could not write {path}: {error}") from error
        return table.num_rows

    def _write_deferred(self, value: DeferredTable, path: UPath) -> int:
        """The engine writes the part files; the provenance goes beside them. What the engine
        kept to compute the table is released once it is written."""
        if is_local_upath(path):

            def write(temporary: str) -> None:
                value.write_folder(temporary)
                with open(f"{temporary}/{PROVENANCE_SIDECAR}", "w") as sidecar:
                    sidecar.write(json.dumps(value.provenance))

            write_locally_in_place(path.path, write)
        else:
            # The engine's own commit protocol; on S3 use a committer meant for it (the S3A committers).
            value.write_folder(str(path))
            (path / PROVENANCE_SIDECAR).write_text(json.dumps(value.provenance))
        value.release()
        return count_rows(path)

    @staticmethod
    def _missing(context: dg.InputContext, path: UPath) -> MissingPartitionError:
        return MissingPartitionError(
            f"{context.asset_key.to_user_string()} has no stored data at {path}: materialise that partition first"
        )

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        wanted = context.dagster_type.typing_type
        columns = (context.definition_metadata or {}).get("columns")
        if wanted is StoredTable:
            if not path.exists():
                raise self._missing(context, path)
            return StoredTable(path, columns)
        try:
            table = read_table(path, columns)
        except FileNotFoundError as error:
            raise self._missing(context, path) from error
        if wanted is pd.DataFrame:
            return table.to_pandas()
        if hasattr(wanted, "from_table"):
            return wanted.from_table(table)
        return table

    def load_partitions(self, context: dg.InputContext) -> Any:
        paths = self._get_paths_for_partitions(context)
        if len(paths) == 1:
            return self.load_from_path(context, next(iter(paths.values())))
        return LazyPartitions(
            {day: (lambda path=path: self.load_from_path(context, path)) for day, path in paths.items()}
        )

    def make_directory(self, path: UPath) -> None:
        # Object stores have no folders, and s3fs's mkdir would create a missing bucket rather
        # than let the write fail on it.
        if is_local_upath(path):
            super().make_directory(path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not isinstance(obj, PartitionedOutput):
            return super().handle_output(context, obj)
        paths = self._get_paths_for_partitions(context)
        rows = {}
        for day, compute in obj.compute_by_day.items():
            self.make_directory(paths[day].parent)
            rows[day] = self._write(compute(), paths[day])
            context.log.info(f"wrote {rows[day]} rows of {context.asset_key.to_user_string()} for {day} to {paths[day]}")
        context.add_output_metadata({"rows_per_day": rows, "days": len(rows)})


class ParquetIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Parquet files under `base_url` (a folder or s3://bucket/prefix)."""

    base_url: str
    storage_options: dict[str, Any] = {}  # fsspec options for an object-store base (s3://, gs://)

    def _base_path(self) -> UPath:
        base = UPath(self.base_url)
        # A local UPath warns about storage options it would ignore anyway.
        return base if is_local_upath(base) else UPath(self.base_url, **self.storage_options)

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetIOManager:
        return ParquetIOManager(base_path=self._base_path())


class DocumentIOManager(ParquetIOManager):
    """Fitted objects (candidate sources, install model) as JSON, `<base>/<asset>/<day>.json`,
    with the same day-by-day range handling and atomic writes as the parquet files."""

    extension = ".json"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        context.add_output_metadata({"bytes": self._write(obj, path)})

    def _write(self, value: Any, path: UPath) -> int:
        data = value.to_json()
        if is_local_upath(path):
            write_bytes_locally_in_place(path.path, data)
        else:
            path.fs.pipe_file(path.path, data)
        return len(data)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        try:
            with path.open("rb") as handle:
                return context.dagster_type.typing_type.from_json(handle.read())
        except FileNotFoundError as error:
            raise self._missing(context, path) from error


class DocumentIOManagerFactory(ParquetIOManagerFactory):
    """JSON documents under `base_url` (a folder or s3://bucket/prefix)."""

    def create_io_manager(self, context: dg.InitResourceContext) -> DocumentIOManager:
        return DocumentIOManager(base_path=self._base_path())
