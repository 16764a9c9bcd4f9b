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

A run holds a lease on each of its days in the storage location for as long as it runs
(`StoredDays`), so two runs never interleave their writes of one day's values, whatever their
configuration, process or Dagster instance; the second one fails at once, naming the first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from taar_assets.leases import Lease, LeaseHeld
from taar_assets.retries import transient_errors_retried
from taar_assets.storage import (
    PROVENANCE_SIDECAR,
    DeferredTable,
    StoredTable,
    count_rows,
    is_local_upath,
    put_object,
    read_table,
    remove_temporaries,
    write_bytes_locally_in_place,
    write_locally_in_place,
)


class PartitionedOutput:
    """An asset's output over several days, each computed only when the IO manager writes it."""

    def __init__(self, compute_by_day: Mapping[str, Callable[[], Any]]):
        self.compute_by_day = dict(compute_by_day)


class DayFailed:
    """A day of a range run that could not be computed: nothing is stored for it."""

    def __init__(self, day: str, reason: str):
        self.day, self.reason = day, reason


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
# A check's own asset reaches it typed by its annotation: `StoredTable` means this type.
dg.make_python_type_usable_as_dagster_type(StoredTable, StoredTableInput)
# The same, or None when that day was never stored (e.g. an asset's own previous day).
OptionalStoredTableInput = _stored_type(
    "OptionalStoredTable", StoredTable, (StoredTable, type(None)), "An upstream day's table if it was stored, else None."
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
    object_timeout: float | None = None  # bounds each upload to an object store, in seconds
    stored_days: StoredDays | None = None  # the run's leases, checked before each write

    def _upload(self, path: UPath, data: bytes) -> None:
        if self.stored_days is not None:
            self.stored_days.check()
        try:
            put_object(path.fs, path.path, data, self.object_timeout)
        except Exception as error:  # s3fs's messages ("The specified bucket does not exist") name no object
            raise OSError(f"could not write {path}: {error or type(error).__name__}") from error

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        rows, figures = self._write(obj, path)
        context.add_output_metadata({**figures, "dagster/row_count": rows})

    def _write(self, value: Any, path: UPath) -> tuple[int, dict[str, Any]]:
        """Store `value` at `path`; returns the rows written and what the engine reported."""
        if isinstance(value, DeferredTable):
            return self._write_deferred(value, path)
        if isinstance(value, pd.DataFrame):
            table = pa.Table.from_pandas(value, preserve_index=False)
        elif isinstance(value, pa.Table):
            table = value
        else:
            table = value.to_table()
        if is_local_upath(path):
            if self.stored_days is not None:
                self.stored_days.check()
            write_locally_in_place(path.path, lambda temporary: pq.write_table(table, temporary))
        else:
            try:
                if path.is_dir():  # an earlier engine's folder would shadow the file
                    path.fs.rm(path.path, recursive=True)
            except OSError as error:
                raise OSError(f"could not write {path}: {error}") from error
            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            self._upload(path, buffer.getvalue())  # one PUT (or multipart completion): atomic already
        return table.num_rows, {}

    def _write_deferred(self, value: DeferredTable, path: UPath) -> tuple[int, dict[str, Any]]:
        """The engine writes the table; a folder of part files gets the provenance beside them.
        What the engine kept to compute the table is released once it is written."""
        figures: dict[str, Any] = {}
        sidecar = json.dumps(value.provenance)
        if self.stored_days is not None:
            self.stored_days.check()
        if is_local_upath(path):

            def write(temporary: str) -> None:
                figures.update(value.write(temporary))
                if os.path.isdir(temporary):
                    with open(os.path.join(temporary, PROVENANCE_SIDECAR), "w") as handle:
                        handle.write(sidecar)

            write_locally_in_place(path.path, write)
        elif value.writes_remote:
            # The engine's own commit protocol; on S3 use a committer meant for it (the S3A committers).
            figures.update(value.write(str(path)))
            if path.is_dir():
                (path / PROVENANCE_SIDECAR).write_text(sidecar)
        else:
            with tempfile.TemporaryDirectory() as folder:
                local = os.path.join(folder, path.name)
                figures.update(value.write(local))
                if path.is_dir():  # an earlier engine's folder would shadow the file
                    path.fs.rm(path.path, recursive=True)
                path.fs.put_file(local, path.path)  # one PUT (or multipart completion): atomic
        value.release()
        return count_rows(path), figures

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
                if context.dagster_type.key == OptionalStoredTableInput.key:
                    return None
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

    def load_input(self, context: dg.InputContext) -> Any:
        with transient_errors_retried(_previous_attempts(context)):
            return super().load_input(context)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        with transient_errors_retried(_previous_attempts(context)):
            return self._handle_output(context, obj)

    def _handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not isinstance(obj, PartitionedOutput):
            return super().handle_output(context, obj)
        paths = self._get_paths_for_partitions(context)
        rows, failed = {}, {}
        for day, compute in obj.compute_by_day.items():
            value = compute()
            if isinstance(value, DayFailed):
                failed[day] = value.reason
                continue
            self.make_directory(paths[day].parent)
            rows[day], _ = self._write(value, paths[day])
            context.log.info(f"wrote {rows[day]} rows of {context.asset_key.to_user_string()} for {day} to {paths[day]}")
        context.add_output_metadata({"rows_per_day": rows, "days": len(rows), "failed_days": failed})


def _previous_attempts(context: dg.InputContext | dg.OutputContext) -> int:
    try:
        return context.step_context.previous_attempt_count
    except Exception:  # a context built outside a run (tests) has no step
        return 0


class ParquetIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Parquet files under `base_url` (a folder or s3://bucket/prefix)."""

    base_url: str
    storage_options: dict[str, Any] = {}  # fsspec options for an object-store base (s3://, gs://)
    object_timeout: float | None = None  # seconds an upload may take in all (None: the client's own limits)
    lease_seconds: float | None = None  # hold a lease on each day of the run (None: no lease)

    def _base_path(self) -> UPath:
        base = UPath(self.base_url)
        # A local UPath warns about storage options it would ignore anyway.
        return base if is_local_upath(base) else UPath(self.base_url, **self.storage_options)

    def _io_manager(self) -> ParquetIOManager:
        return ParquetIOManager(base_path=self._base_path())

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetIOManager:
        io_manager = self._io_manager()
        io_manager.object_timeout = self.object_timeout
        return io_manager

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[ParquetIOManager]:
        days = run_days(context.run.tags) if context.run is not None and self.lease_seconds else []
        if not days:
            yield self.create_io_manager(context)
            return
        with StoredDays(self, days, context.run.run_id) as stored_days:
            io_manager = self.create_io_manager(context)
            io_manager.stored_days = stored_days
            yield io_manager


def run_days(tags: Mapping[str, str]) -> list[str]:
    """The partition days a run covers, from its tags: one partition or a range."""
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if not (start and end):
        return []
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [f"{first + dt.timedelta(days=n)}" for n in range((last - first).days + 1)]


class StoredDays:
    """The leases of a run on its days of a storage location, held from the first step to the
    last; taking them also removes what killed writers of those days left (temporary files)."""

    def __init__(self, factory: ParquetIOManagerFactory, days: list[str], run_id: str):
        self.base_url = factory.base_url.rstrip("/")
        self.leases = [
            Lease(
                factory.base_url, day, owner=run_id, seconds=factory.lease_seconds,
                storage_options=factory.storage_options, timeout=factory.object_timeout,
                holder=f"run {run_id}", description=f"partition {day} of {self.base_url}",
            )
            for day in days
        ]

    def __enter__(self) -> StoredDays:
        taken: list[Lease] = []
        try:
            for lease in self.leases:
                taken.append(lease.acquire())
        except LeaseHeld as error:
            for lease in taken:
                lease.release()
            raise LeaseHeld(f"{error}: this run stops, so that two runs never mix the stored values of one day") from None
        except BaseException:
            for lease in taken:
                lease.release()
            raise
        self._remove_temporaries()
        return self

    def __exit__(self, *exc_info) -> None:
        for lease in self.leases:
            lease.release()

    def check(self) -> None:
        for lease in self.leases:
            lease.check()

    def _remove_temporaries(self) -> None:
        """Locally: the temporary files of these days in every asset's folder (no other run can
        be writing them: this run holds the days)."""
        if "://" in self.base_url or not os.path.isdir(self.base_url):
            return
        days = tuple(f"{lease.name}." for lease in self.leases)
        for entry in os.scandir(self.base_url):
            if entry.is_dir() and not entry.name.startswith("_"):
                remove_temporaries(entry.path, of=lambda target: target.startswith(days))


class DocumentIOManager(ParquetIOManager):
    """Fitted objects (candidate sources, install model) as JSON, `<base>/<asset>/<day>.json`,
    with the same day-by-day range handling and atomic writes as the parquet files."""

    extension = ".json"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        context.add_output_metadata({"bytes": self._write(obj, path)[0]})

    def _write(self, value: Any, path: UPath) -> tuple[int, dict[str, Any]]:
        data = value.to_json()
        if is_local_upath(path):
            if self.stored_days is not None:
                self.stored_days.check()
            write_bytes_locally_in_place(path.path, data)
        else:
            self._upload(path, data)
        return len(data), {}

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        try:
            with path.open("rb") as handle:
                return context.dagster_type.typing_type.from_json(handle.read())
        except FileNotFoundError as error:
            raise self._missing(context, path) from error


class DocumentIOManagerFactory(ParquetIOManagerFactory):
    """JSON documents under `base_url` (a folder or s3://bucket/prefix)."""

    def _io_manager(self) -> DocumentIOManager:
        return DocumentIOManager(base_path=self._base_path())
