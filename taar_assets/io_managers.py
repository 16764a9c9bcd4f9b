"""The parquet IO manager: one dataset per asset and day, `<base>/<asset>/<YYYY-MM-DD>.parquet`.

The base is a local folder or an `s3://bucket/prefix` URL; switching is configuration only.
Values are Arrow tables, pandas DataFrames or, on the Spark engine, Spark DataFrames; the
asset's Dagster type says which one an input wants, and a `StoredTable` input is not read
until the asset asks (as Arrow, or by Spark from its URL). Arrow and pandas values are one
parquet file; Spark writes a folder of part files at the same path, with the value's
provenance in a `_taar_provenance.json` file inside it (readers skip `_` files). Either form
loads the same way. Single-run backfills over a range are computed and written one day at a
time (`PartitionedOutput` / `LazyPartitions`), so a long range never holds every day in memory.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from upath import UPath


def _is_spark_frame(value: Any) -> bool:
    # pyspark is optional: a value can only be a Spark DataFrame once pyspark has been imported.
    pyspark_sql = sys.modules.get("pyspark.sql")
    return pyspark_sql is not None and isinstance(value, pyspark_sql.DataFrame)


def _is_arrow_value(value: Any) -> bool:
    return isinstance(value, (pa.Table, SparkTable, PartitionedOutput, LazyPartitions)) or _is_spark_frame(value)


def _is_pandas_value(value: Any) -> bool:
    return isinstance(value, (pd.DataFrame, PartitionedOutput, LazyPartitions))


# Dagster types for the two value kinds; they also admit the per-day containers of range runs.
ArrowTable = dg.DagsterType(
    name="ArrowTable",
    type_check_fn=lambda _, value: _is_arrow_value(value),
    typing_type=pa.Table,
    description="A pyarrow.Table stored as parquet (a Spark DataFrame when the Spark engine made it).",
)
PandasFrame = dg.DagsterType(
    name="PandasFrame",
    type_check_fn=lambda _, value: _is_pandas_value(value),
    typing_type=pd.DataFrame,
    description="A pandas.DataFrame stored as parquet.",
)


def hadoop_url(location: str) -> str:
    """A storage location as Spark (Hadoop) names it: s3:// is s3a://, a local path is absolute."""
    if location.startswith("s3://"):
        return "s3a://" + location.removeprefix("s3://")
    return location if "://" in location else os.path.abspath(location)


class StoredTable:
    """One stored day of an upstream asset, read only when the asset asks.

    `read()` gives what an ArrowTable input would (the input's `columns`, the provenance);
    Spark reads it from `url`.
    """

    def __init__(self, path: UPath, read: Callable[[], pa.Table]):
        self.path = path
        self._read = read

    @property
    def url(self) -> str:
        return hadoop_url(str(self.path))

    def read(self) -> pa.Table:
        return self._read()


StoredTableInput = dg.DagsterType(
    name="StoredTable",
    type_check_fn=lambda _, value: isinstance(value, (StoredTable, LazyPartitions)),
    typing_type=StoredTable,
    description="An upstream day's parquet, read when the asset asks: as Arrow, or by Spark.",
)


# Parquet schema metadata key under which a value's provenance (parameters, input window) travels
# from stage to stage: `DataFrame.attrs` for pandas, schema metadata for Arrow, `SparkTable` for
# Spark, which cannot write schema metadata: its folder holds the record as a sidecar file.
PROVENANCE_KEY = b"taar.provenance"
PROVENANCE_SIDECAR = "_taar_provenance.json"


class SparkTable:
    """A Spark DataFrame for the IO manager to write, with the provenance it carries."""

    def __init__(self, frame: Any, record: dict[str, Any]):
        self.frame = frame
        self.provenance = record


def provenance(value: pa.Table | pd.DataFrame | SparkTable) -> dict[str, Any]:
    if isinstance(value, pd.DataFrame):
        return dict(value.attrs.get("provenance", {}))
    if isinstance(value, SparkTable):
        return dict(value.provenance)
    raw = (value.schema.metadata or {}).get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}


def with_provenance(table: Any, record: dict[str, Any]) -> pa.Table | SparkTable:
    """`table` (Arrow, or a Spark DataFrame) carrying `record` to storage and to the next stages."""
    if _is_spark_frame(table):
        return SparkTable(table, record)
    return table.replace_schema_metadata({**(table.schema.metadata or {}), PROVENANCE_KEY: json.dumps(record)})


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


class MissingPartitionError(FileNotFoundError):
    """An upstream partition was never materialised."""


def _is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def _dataset_location(path: UPath) -> tuple[str, Any]:
    """(path, filesystem) for pyarrow to read a folder of part files."""
    return (os.path.abspath(path.path), None) if _is_local(path) else (path.path, path.fs)


def _move_into_place(temporary: str, target: str) -> None:
    """Local rename of a written file or folder onto `target`; readers never see it half-written."""
    if os.path.lexists(target) and (os.path.isdir(target) or os.path.isdir(temporary)):
        # A folder (Spark's output) cannot replace, or be replaced by, another entry in one
        # rename: the old one is moved aside first, so readers briefly find no data, never a mix.
        aside = f"{temporary}.old"
        os.rename(target, aside)
        os.rename(temporary, target)
        _remove_local(aside)
    else:
        os.replace(temporary, target)


def write_locally_in_place(target: str, write: Callable[[str], None]) -> None:
    """`write(temporary)` beside `target`, then rename it onto `target`: a reader sees the old
    file (or folder) or the new one, never a half-written one."""
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        _move_into_place(temporary, target)
    finally:
        _remove_local(temporary)


def write_bytes_locally_in_place(target: str, data: bytes) -> None:
    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            handle.write(data)

    write_locally_in_place(target, write)


def _remove_local(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


class ParquetIOManager(dg.UPathIOManager):
    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        context.add_output_metadata({"dagster/row_count": self._write(obj, path)})

    def _write(self, value: Any, path: UPath) -> int:
        """Store `value` at `path`; returns the rows written."""
        if isinstance(value, SparkTable) or _is_spark_frame(value):
            return self._write_spark(value if isinstance(value, SparkTable) else SparkTable(value, {}), path)
        if isinstance(value, pd.DataFrame):
            table = with_provenance(pa.Table.from_pandas(value, preserve_index=False), provenance(value))
        else:
            table = value
        if _is_local(path):
            write_locally_in_place(path.path, lambda temporary: pq.write_table(table, temporary))
        else:
            try:
                if path.is_dir():  # an earlier Spark run's folder would shadow the file
                    path.fs.rm(path.path, recursive=True)
                # One object store PUT (or multipart completion) is atomic already.
                with path.open("wb") as handle:
                    pq.write_table(table, handle)
            except OSError as error:  # s3fs's messages ("The specified bucket does not exist") name no object
                raise OSError(f"could not write {path}: {error}") from error
        return table.num_rows

    def _write_spark(self, value: SparkTable, path: UPath) -> int:
        """Spark writes the part files; the provenance goes beside them. The frame's cache, if
        the asset made one to report on it, is released once written."""
        if _is_local(path):

            def write(temporary: str) -> None:
                value.frame.write.parquet(hadoop_url(temporary))
                with open(os.path.join(temporary, PROVENANCE_SIDECAR), "w") as sidecar:
                    sidecar.write(json.dumps(value.provenance))

            write_locally_in_place(path.path, write)
        else:
            # Spark's own commit protocol; on S3 use a committer meant for it (the S3A committers).
            value.frame.write.mode("overwrite").parquet(hadoop_url(str(path)))
            (path / PROVENANCE_SIDECAR).write_text(json.dumps(value.provenance))
        value.frame.unpersist()
        source, filesystem = _dataset_location(path)
        return ds.dataset(source, filesystem=filesystem, format="parquet").count_rows()

    def _read_table(self, context: dg.InputContext, path: UPath) -> pa.Table:
        columns = (context.definition_metadata or {}).get("columns")
        columns = list(columns) if columns else None
        try:
            if path.is_dir():  # written by Spark
                source, filesystem = _dataset_location(path)
                table = pq.read_table(source, filesystem=filesystem, columns=columns)
                sidecar = path / PROVENANCE_SIDECAR
                return with_provenance(table, json.loads(sidecar.read_text())) if sidecar.exists() else table
            with path.open("rb") as handle:
                return pq.read_table(handle, columns=columns)
        except FileNotFoundError as error:
            raise self._missing(context, path) from error

    @staticmethod
    def _missing(context: dg.InputContext, path: UPath) -> MissingPartitionError:
        return MissingPartitionError(
            f"{context.asset_key.to_user_string()} has no stored data at {path}: materialise that partition first"
        )

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        wanted = context.dagster_type.typing_type
        if wanted is StoredTable:
            if not path.exists():
                raise self._missing(context, path)
            return StoredTable(path, lambda: self._read_table(context, path))
        table = self._read_table(context, path)
        if wanted is not pd.DataFrame:
            return table
        frame = table.to_pandas()
        frame.attrs["provenance"] = provenance(table)
        return frame

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
        if _is_local(path):
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
    storage_options: dict[str, Any] = {}  # s3fs options for an s3:// base (endpoint, region)

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetIOManager:
        base = UPath(self.base_url)
        # A local UPath warns about storage options it would ignore anyway.
        return ParquetIOManager(base_path=base if _is_local(base) else UPath(self.base_url, **self.storage_options))


def document_type(document_class: type) -> dg.DagsterType:
    """The Dagster type of a JSON document value: a class with `to_json()` and `from_json()`."""
    return dg.DagsterType(
        name=document_class.__name__,
        type_check_fn=lambda _, value: isinstance(value, (document_class, PartitionedOutput, LazyPartitions)),
        typing_type=document_class,
        description=f"A {document_class.__name__} stored as JSON.",
    )


def as_frame(value: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """A loaded table as pandas, keeping its provenance (for checks, whose input type is Any)."""
    if isinstance(value, pd.DataFrame):
        return value
    frame = value.to_pandas()
    frame.attrs["provenance"] = provenance(value)
    return frame


class DocumentIOManager(ParquetIOManager):
    """Fitted objects (candidate sources, install model) as JSON, `<base>/<asset>/<day>.json`,
    with the same day-by-day range handling and atomic writes as the parquet files."""

    extension = ".json"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        context.add_output_metadata({"bytes": self._write(obj, path)})

    def _write(self, value: Any, path: UPath) -> int:
        data = value.to_json()
        if _is_local(path):
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
        return DocumentIOManager(base_path=super().create_io_manager(context)._base_path)
