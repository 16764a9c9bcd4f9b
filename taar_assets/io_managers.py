"""The parquet IO manager: one file per asset and day, `<base>/<asset>/<YYYY-MM-DD>.parquet`.

The base is a local folder or an `s3://bucket/prefix` URL; switching is configuration only.
Values are Arrow tables or pandas DataFrames; the asset's Dagster type says which one an input
wants. Single-run backfills over a range are computed and written one day at a time
(`PartitionedOutput` / `LazyPartitions`), so a long range never holds every day in memory.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath


def _is_arrow_value(value: Any) -> bool:
    return isinstance(value, (pa.Table, PartitionedOutput, LazyPartitions))


def _is_pandas_value(value: Any) -> bool:
    return isinstance(value, (pd.DataFrame, PartitionedOutput, LazyPartitions))


# Dagster types for the two value kinds; they also admit the per-day containers of range runs.
ArrowTable = dg.DagsterType(
    name="ArrowTable",
    type_check_fn=lambda _, value: _is_arrow_value(value),
    typing_type=pa.Table,
    description="A pyarrow.Table stored as parquet.",
)
PandasFrame = dg.DagsterType(
    name="PandasFrame",
    type_check_fn=lambda _, value: _is_pandas_value(value),
    typing_type=pd.DataFrame,
    description="A pandas.DataFrame stored as parquet.",
)


# Parquet schema metadata key under which a value's provenance (parameters, input window) travels
# from stage to stage: `DataFrame.attrs` for pandas, schema metadata for Arrow.
PROVENANCE_KEY = b"taar.provenance"


def provenance(value: pa.Table | pd.DataFrame) -> dict[str, Any]:
    if isinstance(value, pd.DataFrame):
        return dict(value.attrs.get("provenance", {}))
    raw = (value.schema.metadata or {}).get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}


def with_provenance(table: pa.Table, record: dict[str, Any]) -> pa.Table:
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


def _row_count(value: Any) -> int:
    return value.num_rows if isinstance(value, pa.Table) else len(value)


def _is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


class ParquetIOManager(dg.UPathIOManager):
    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        if isinstance(obj, pd.DataFrame):
            table = with_provenance(pa.Table.from_pandas(obj, preserve_index=False), provenance(obj))
        else:
            table = obj
        if _is_local(path):
            # Write beside the target, then rename: readers never see a half-written file.
            temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            try:
                pq.write_table(table, temporary.path)
                os.replace(temporary.path, path.path)
            finally:
                if os.path.exists(temporary.path):
                    os.remove(temporary.path)
        else:
            # One object store PUT (or multipart completion) is atomic already.
            try:
                with path.open("wb") as handle:
                    pq.write_table(table, handle)
            except OSError as error:  # s3fs's messages ("The specified bucket does not exist") name no object
                raise OSError(f"could not write {path}: {error}") from error

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        columns = (context.definition_metadata or {}).get("columns")
        try:
            with path.open("rb") as handle:
                table = pq.read_table(handle, columns=list(columns) if columns else None)
        except FileNotFoundError as error:
            raise MissingPartitionError(
                f"{context.asset_key.to_user_string()} has no stored data at {path}: "
                "materialise that partition first"
            ) from error
        if context.dagster_type.typing_type is not pd.DataFrame:
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

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, Any]:
        return {"dagster/row_count": _row_count(obj)} if obj is not None else {}

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not isinstance(obj, PartitionedOutput):
            return super().handle_output(context, obj)
        paths = self._get_paths_for_partitions(context)
        rows = {}
        for day, compute in obj.compute_by_day.items():
            value = compute()
            self.make_directory(paths[day].parent)
            self.dump_to_path(context, value, paths[day])
            rows[day] = _row_count(value)
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
