"""The `clients_daily` input (docs/behaviour.md §2): its schema, its day folders, and checking files against it.

A Hive-partitioned parquet dataset, one folder per day (`<root>/submission_date_s3=YYYYMMDD/`),
at a local path or an object-store URL. Only the columns of `CLIENTS_DAILY_SCHEMA` are read;
others may exist and are ignored. The continuous columns may be doubles or longs. How the
engines read the window is theirs (`taar_assets.engines`); this module finds the files and
checks them before any row is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
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
class DayFiles:
    """The parquet files of one day folder (hidden ones skipped), and a fingerprint of them."""

    day: dt.date
    files: tuple[str, ...]  # full paths (s3://... for remote datasets), sorted by name
    fingerprint: str  # changes when a file is added, removed, rewritten or resized
    rows: int | None = None  # set once the footers have been read


@dataclass(frozen=True)
class WindowFiles:
    """The days of a window that have data (in order), the days that do not, and how to read them."""

    window: Window
    days: tuple[DayFiles, ...]
    missing_days: tuple[dt.date, ...]
    filesystem: fsspec.AbstractFileSystem

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(path for day in self.days for path in day.files)

    @property
    def file_days(self) -> tuple[dt.date, ...]:
        """The submission day of each of `files`."""
        return tuple(day.day for day in self.days for _ in day.files)

    @property
    def fingerprints(self) -> dict[str, str]:
        """{YYYY-MM-DD: fingerprint} of the days with data."""
        return {f"{day.day}": day.fingerprint for day in self.days}

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


def _is_hidden(relative_path: str) -> bool:
    # Spark, Hive and pyarrow skip them too: `_SUCCESS`, `_temporary/...`, `.part-0.parquet.crc`.
    return any(part.startswith((".", "_")) for part in relative_path.split("/"))


def _version(info: Mapping[str, object]) -> object:
    """What changes when an object is rewritten: its ETag / md5 / generation, else its mtime."""
    for key in ("ETag", "etag", "md5Hash", "generation", "mtime", "LastModified", "updated", "created"):
        if info.get(key) is not None:
            return str(info[key])
    return None


def _list_day(fs: fsspec.AbstractFileSystem, base: str, day: dt.date) -> DayFiles:
    folder = f"{base}/{day_folder(day)}"
    found = fs.find(folder, detail=True)
    entries = sorted(
        (path, info) for path, info in found.items()
        if path.endswith(".parquet") and not _is_hidden(path[len(folder) + 1 :])
    )
    listing = [(path[len(folder) + 1 :], info.get("size"), _version(info)) for path, info in entries]
    fingerprint = hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]
    return DayFiles(day, tuple(full_path(fs, path) for path, _ in entries), fingerprint)


def list_days(
    root: str, days: Sequence[dt.date], storage_options: Mapping[str, object] | None = None
) -> tuple[fsspec.AbstractFileSystem, dict[dt.date, DayFiles]]:
    """The visible parquet files of each of `days` that has a folder holding any (no footer read)."""
    fs, base, present = _day_folders(root, storage_options)
    listed = {day: _list_day(fs, base, day) for day in days if day_folder(day) in present}
    return fs, {day: files for day, files in listed.items() if files.files}


def find_window_files(
    root: str,
    window: Window,
    require_end_day: bool = True,
    storage_options: Mapping[str, object] | None = None,
    read_days: Sequence[dt.date] | None = None,
) -> WindowFiles:
    """The files of the window's days under `root`, checked against the input contract.

    Only `read_days` (default: every day of the window) are read: each of their files' parquet
    footer is checked (schema, row count) before any row is read. A day without a folder, or
    whose folder holds no visible parquet file or only files of 0 rows, is missing. Raises
    InputContractError when the dataset root does not exist, a file breaks the contract, the
    partition day (the window's last) is missing and `require_end_day` is set, or no day of the
    whole window has data (with `read_days`, none may have data).
    """
    wanted = window.dates() if read_days is None else sorted(read_days)
    fs, listed = list_days(root, wanted, storage_options)
    days = []
    for day in wanted:
        if day in listed:
            rows = sum(_checked_footer(fs, path) for path in listed[day].files)
            if rows:
                days.append(DayFiles(day, listed[day].files, listed[day].fingerprint, rows))
    present = {day.day for day in days}
    missing = tuple(day for day in wanted if day not in present)
    if require_end_day and window.end in missing:
        raise InputContractError(
            f"clients_daily has no data for partition {window.end:%Y-%m-%d}: folder "
            f"{root.rstrip('/')}/{day_folder(window.end)} is missing or holds no parquet file with rows"
        )
    if not days and read_days is None:
        raise InputContractError(
            f"clients_daily has no rows in {len(wanted)} day(s) of the window {window.start:%Y-%m-%d} .. "
            f"{window.end:%Y-%m-%d} under {root!r}"
        )
    return WindowFiles(window, tuple(days), missing, fs)


def read_error(path: str, error: Exception) -> Exception:
    """What reading a clients_daily file raised, named: transient (OSError, retried) or the file."""
    if is_transient(error):
        return OSError(f"could not read {path} (clients_daily): {error or type(error).__name__}")
    return InputContractError(f"clients_daily file {path} is not readable parquet: {error}")


def _checked_footer(fs: fsspec.AbstractFileSystem, path: str) -> int:
    """The file's row count, once its schema is known to follow the contract."""
    try:
        with fs.open(path, "rb") as handle:
            metadata = pq.read_metadata(handle)
    except Exception as error:
        raise read_error(path, error) from error
    problems = _schema_problems(metadata.schema.to_arrow_schema())
    if problems:
        raise InputContractError(f"clients_daily file {path} breaks the input contract: " + "; ".join(problems))
    return metadata.num_rows


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
