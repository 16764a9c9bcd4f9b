"""The `clients_daily` input (docs/behaviour.md §2): its schema, its day folders, and checking files against it.

A Hive-partitioned parquet dataset, one folder per day (`<root>/submission_date_s3=YYYYMMDD/`),
at a local path or an object-store URL. Only the columns of `CLIENTS_DAILY_SCHEMA` are read;
others may exist and are ignored. The continuous columns may be doubles or longs. How the
engines read the window is theirs (`taar_assets.engines`); this module finds the files and
checks them before any row is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from taar_assets.similarity.features import FEATURES
from taar_assets.similarity.rules import ADDON_FIELDS_READ
from taar_assets.storage import filesystem, full_path, is_local_filesystem, is_transient

DAY_FOLDER_PREFIX = "submission_date_s3="

# One add-on of a client's active_addons list.
ADDON_STRUCT = pa.struct(
    [
        ("addon_id", pa.string()),
        ("blocklisted", pa.bool_()),
        ("name", pa.string()),
        ("user_disabled", pa.bool_()),
        ("app_disabled", pa.bool_()),
        ("version", pa.string()),
        ("scope", pa.int32()),
        ("type", pa.string()),
        ("foreign_install", pa.bool_()),
        ("has_binary_components", pa.bool_()),
        ("install_day", pa.int32()),
        ("update_day", pa.int32()),
        ("signed_state", pa.int32()),
        ("is_system", pa.bool_()),
        ("is_web_extension", pa.bool_()),
        ("multiprocess_compatible", pa.bool_()),
    ]
)

_SOURCE_TYPES = {
    "city": pa.string(),
    "locale": pa.string(),
    "os": pa.string(),
    "subsession_hours_sum": pa.float64(),
    "places_bookmarks_count_mean": pa.float64(),
    "scalar_parent_browser_engagement_tab_open_event_count_sum": pa.int64(),
    "scalar_parent_browser_engagement_total_uri_count_sum": pa.int64(),
    "scalar_parent_browser_engagement_unique_domains_count_mean": pa.float64(),
}
# The columns the pipeline reads, with the types a writer should use. Readers accept any string
# type for strings and any integer, floating or decimal type for the continuous columns.
CLIENTS_DAILY_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("channel", pa.string()),
        ("app_name", pa.string()),
        *[(feature.source, _SOURCE_TYPES[feature.source]) for feature in FEATURES],
        ("active_addons", pa.list_(ADDON_STRUCT)),
    ]
)
# clients_daily column -> samples column, for the continuous features (read as doubles).
CONTINUOUS_SOURCES = {f.source: f.name for f in FEATURES if f.kind == "continuous"}


class InputContractError(ValueError):
    """The clients_daily dataset does not follow the input contract."""


@dataclass(frozen=True)
class Window:
    """The days one partition reads: the `days`-day window ending on `end` (inclusive)."""

    end: dt.date
    days: int = 90

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=self.days - 1)

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class WindowFiles:
    """The parquet files found for a window, and the days that had no folder."""

    window: Window
    files: tuple[str, ...]
    missing_days: tuple[dt.date, ...]
    filesystem: fsspec.AbstractFileSystem

    @property
    def is_local(self) -> bool:
        return is_local_filesystem(self.filesystem)


def day_folder(day: dt.date) -> str:
    return f"{DAY_FOLDER_PREFIX}{day:%Y%m%d}"


def _day_folders(
    root: str, storage_options: Mapping[str, object] | None
) -> tuple[fsspec.AbstractFileSystem, str, set[str]]:
    """(filesystem, base path, names of the entries under the dataset root)."""
    fs, base = filesystem(root, storage_options)
    if not fs.isdir(base):
        raise InputContractError(f"clients_daily dataset not found: {root!r} is not a folder")
    return fs, base, {name.rstrip("/").rsplit("/", 1)[-1] for name in fs.ls(base, detail=False)}


def latest_day(root: str, storage_options: Mapping[str, object] | None = None) -> dt.date:
    """The most recent day that has a folder in the dataset."""
    _, _, names = _day_folders(root, storage_options)
    days = sorted(name.removeprefix(DAY_FOLDER_PREFIX) for name in names if name.startswith(DAY_FOLDER_PREFIX))
    if not days:
        raise InputContractError(f"clients_daily dataset {root!r} has no {DAY_FOLDER_PREFIX}YYYYMMDD folders")
    return dt.datetime.strptime(days[-1], "%Y%m%d").date()


def find_window_files(
    root: str,
    window: Window,
    require_end_day: bool = True,
    storage_options: Mapping[str, object] | None = None,
) -> WindowFiles:
    """List the parquet files of every day folder of the window under `root`.

    Raises InputContractError when the dataset root does not exist, when the window's last day
    (the partition day) has no folder and `require_end_day` is set, or when no day has data.
    """
    fs, base, present = _day_folders(root, storage_options)
    files: list[str] = []
    missing: list[dt.date] = []
    for day in window.dates():
        folder = day_folder(day)
        if folder not in present:
            missing.append(day)
            continue
        day_files = sorted(p for p in fs.find(f"{base}/{folder}") if p.endswith(".parquet"))
        if not day_files:
            missing.append(day)
        files.extend(full_path(fs, p) for p in day_files)
    if require_end_day and window.end in missing:
        raise InputContractError(
            f"clients_daily has no data for partition {window.end:%Y-%m-%d}: "
            f"folder {root.rstrip('/')}/{day_folder(window.end)} is missing or holds no parquet file"
        )
    if not files:
        raise InputContractError(
            f"clients_daily has no parquet files in the window {window.start:%Y-%m-%d} .. "
            f"{window.end:%Y-%m-%d} under {root!r}"
        )
    return WindowFiles(window, tuple(files), tuple(missing), fs)


def _is_string(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_null(t)
        or (pa.types.is_dictionary(t) and _is_string(t.value_type))
    )


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t)


def _is_bool(t: pa.DataType) -> bool:
    return pa.types.is_boolean(t) or pa.types.is_null(t)


def _accepts(expected: pa.DataType):
    """(test, description) of the types a reader accepts where the schema says `expected`."""
    if pa.types.is_string(expected):
        return _is_string, "string"
    if pa.types.is_boolean(expected):
        return _is_bool, "bool"
    return _is_number, "double or long"


def _field_problems(schema: pa.Schema | pa.StructType, expected: pa.Schema | pa.StructType, names, prefix: str) -> list[str]:
    problems = []
    for name in names:
        index = schema.get_field_index(name)
        if index < 0:
            kind = "struct field" if prefix else "column"
            problems.append(f"{kind} '{prefix}{name}' is missing")
            continue
        actual = schema.field(index).type
        accepts, description = _accepts(expected.field(name).type)
        if not accepts(actual):
            kind = "struct field" if prefix else "column"
            problems.append(f"{kind} '{prefix}{name}' has type {actual}, expected {description}")
    return problems


def _schema_problems(schema: pa.Schema) -> list[str]:
    """What keeps a file's schema from CLIENTS_DAILY_SCHEMA (only the add-on fields the rule reads)."""
    scalar_columns = [name for name in CLIENTS_DAILY_SCHEMA.names if name != "active_addons"]
    problems = _field_problems(schema, CLIENTS_DAILY_SCHEMA, scalar_columns, "")
    index = schema.get_field_index("active_addons")
    if index < 0:
        return [*problems, "column 'active_addons' is missing"]
    addons_type = schema.field(index).type
    is_list = pa.types.is_list(addons_type) or pa.types.is_large_list(addons_type)
    if not is_list or not pa.types.is_struct(addons_type.value_type):
        return [*problems, f"column 'active_addons' has type {addons_type}, expected list of struct"]
    return problems + _field_problems(addons_type.value_type, ADDON_STRUCT, ADDON_FIELDS_READ, "active_addons.")


def validate_schemas(window_files: WindowFiles) -> None:
    """Check every file's parquet schema against the input contract before reading any row."""
    for path in window_files.files:
        try:
            with window_files.filesystem.open(path, "rb") as handle:
                schema = pq.read_schema(handle)
        except Exception as error:
            if is_transient(error):  # the store, not the file: worth a retry
                raise OSError(f"could not read {path}: {error or type(error).__name__}") from error
            raise InputContractError(f"clients_daily file {path} is not readable parquet: {error}") from error
        problems = _schema_problems(schema)
        if problems:
            raise InputContractError(f"clients_daily file {path} breaks the input contract: " + "; ".join(problems))


