"""Reading the `clients_daily` input (SPEC §2) and building the per-client samples (SPEC §3.1).

The window is read with DuckDB straight from parquet: filters, projection and the
latest-row-per-client step run inside DuckDB, so the window is never held as pandas objects.
Remote roots (``s3://...``) go through fsspec, which DuckDB uses as a registered filesystem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DAY_FOLDER_PREFIX = "submission_date_s3="

STRING_COLUMNS = ("client_id", "channel", "app_name", "city", "locale", "os")
# source column -> name in samples (the original job's names)
CONTINUOUS_COLUMNS = {
    "subsession_hours_sum": "subsession_hours_sum",
    "places_bookmarks_count_mean": "bookmark_count",
    "scalar_parent_browser_engagement_tab_open_event_count_sum": "tab_open_count",
    "scalar_parent_browser_engagement_total_uri_count_sum": "total_uri",
    "scalar_parent_browser_engagement_unique_domains_count_mean": "unique_tlds",
}
# The add-on struct fields the validity rule reads (SPEC §3.2); samples keep only these.
ADDON_STRING_FIELDS = ("addon_id", "type")
ADDON_BOOL_FIELDS = ("is_system", "app_disabled", "user_disabled", "foreign_install")

SAMPLE_COLUMNS = (
    "client_id",
    "active_addons",
    "city",
    "subsession_hours_sum",
    "locale",
    "os",
    "bookmark_count",
    "tab_open_count",
    "total_uri",
    "unique_tlds",
)


# The sample columns that describe a client (its profile), without the raw add-on list.
PROFILE_COLUMNS = tuple(column for column in SAMPLE_COLUMNS if column != "active_addons")


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
        return _is_local(self.filesystem)


def day_folder(day: dt.date) -> str:
    return f"{DAY_FOLDER_PREFIX}{day:%Y%m%d}"


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return "file" in ((fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol)


def _full_path(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if _is_local(fs) else fs.unstrip_protocol(path)


def _day_folders(
    root: str, storage_options: Mapping[str, object] | None
) -> tuple[fsspec.AbstractFileSystem, str, set[str]]:
    """(filesystem, base path, names of the entries under the dataset root)."""
    fs, base = fsspec.core.url_to_fs(root, **(storage_options or {}))
    base = base.rstrip("/")
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
        files.extend(_full_path(fs, p) for p in day_files)
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


def _schema_problems(schema: pa.Schema) -> list[str]:
    problems = []

    def check(name: str, ok, expected: str) -> None:
        index = schema.get_field_index(name)
        if index < 0:
            problems.append(f"column {name!r} is missing")
        elif not ok(schema.field(index).type):
            problems.append(f"column {name!r} has type {schema.field(index).type}, expected {expected}")

    for name in STRING_COLUMNS:
        check(name, _is_string, "string")
    for name in CONTINUOUS_COLUMNS:
        check(name, _is_number, "double or long")
    index = schema.get_field_index("active_addons")
    if index < 0:
        problems.append("column 'active_addons' is missing")
        return problems
    addons_type = schema.field(index).type
    if not (pa.types.is_list(addons_type) or pa.types.is_large_list(addons_type)) or not pa.types.is_struct(
        addons_type.value_type
    ):
        problems.append(f"column 'active_addons' has type {addons_type}, expected list of struct")
        return problems
    struct = addons_type.value_type
    for name, ok, expected in [(n, _is_string, "string") for n in ADDON_STRING_FIELDS] + [
        (n, _is_bool, "bool") for n in ADDON_BOOL_FIELDS
    ]:
        field_index = struct.get_field_index(name)
        if field_index < 0:
            problems.append(f"struct field 'active_addons.{name}' is missing")
        elif not ok(struct.field(field_index).type):
            problems.append(
                f"struct field 'active_addons.{name}' has type {struct.field(field_index).type}, expected {expected}"
            )
    return problems


def validate_schemas(window_files: WindowFiles) -> None:
    """Check every file's parquet schema against the input contract before reading any row."""
    for path in window_files.files:
        try:
            with window_files.filesystem.open(path, "rb") as handle:
                schema = pq.read_schema(handle)
        except Exception as error:  # a corrupt or non-parquet file: name it
            raise InputContractError(f"clients_daily file {path} is not readable parquet: {error}") from error
        problems = _schema_problems(schema)
        if problems:
            raise InputContractError(f"clients_daily file {path} breaks the input contract: " + "; ".join(problems))


def _connect(
    filesystem: fsspec.AbstractFileSystem, memory_limit: str | None, threads: int | None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    if not _is_local(filesystem):
        # DuckDB's own S3 support is an extension it would download; fsspec is already here.
        con.register_filesystem(filesystem)
    return con


def _project_addons(lists: pa.ChunkedArray) -> pa.Array:
    """Keep only the add-on fields the validity rule reads (Arrow-side: cheap on the latest rows)."""
    lists = lists.combine_chunks()
    structs = lists.values
    fields = ADDON_STRING_FIELDS + ADDON_BOOL_FIELDS
    projected = pa.StructArray.from_arrays(
        [pc.cast(structs.field(name), pa.string() if name in ADDON_STRING_FIELDS else pa.bool_()) for name in fields],
        names=list(fields),
        mask=pc.invert(structs.is_valid()) if structs.null_count else None,
    )
    return pa.ListArray.from_arrays(lists.offsets, projected, mask=pc.invert(lists.is_valid()) if lists.null_count else None)


def build_samples(
    window_files: WindowFiles,
    *,
    min_addons_exclusive: int = 2,
    max_addons_exclusive: int = 100,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> pa.Table:
    """SPEC §3.1: the latest qualifying row per client within the window, as an Arrow table.

    Rows qualify when client_id and active_addons are set, the add-on count is strictly between
    the bounds, the channel is release and the app Firefox. Continuous features become doubles.
    Among a client's rows the latest submission day wins; rows of the same day are ordered by
    file name and position in the file, so the choice is deterministic. Rows come out sorted
    by client_id.

    Two passes: the first finds each client's latest qualifying row from light columns only;
    the second fetches just those rows. Sorting or aggregating the nested add-on lists of the
    whole window instead costs several times more time and memory.
    """
    # `files` are in day order (then by name), so a row's position in the window is
    # (file_index, file_row_number): the greatest is the client's latest row.
    source = "read_parquet($files, union_by_name = true, file_row_number = true)"
    row_position = "file_index * 4294967296 + file_row_number"
    continuous = ",\n      ".join(
        f"CAST({column} AS DOUBLE) AS {name}" for column, name in CONTINUOUS_COLUMNS.items()
    )
    query = f"""
    WITH latest AS (
      SELECT max({row_position}) AS position
      FROM {source}
      WHERE client_id IS NOT NULL
        AND active_addons IS NOT NULL
        AND len(active_addons) > {int(min_addons_exclusive)}
        AND len(active_addons) < {int(max_addons_exclusive)}
        AND channel = 'release'
        AND app_name = 'Firefox'
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
    con = _connect(window_files.filesystem, memory_limit, threads)
    try:
        table = con.sql(query, params={"files": list(window_files.files)}).to_arrow_table()
    finally:
        con.close()
    table = table.set_column(
        table.schema.get_field_index("active_addons"), "active_addons", _project_addons(table.column("active_addons"))
    )
    table = table.take(pc.sort_indices(table.column("client_id")))
    # The original job's column order.
    return table.select(list(SAMPLE_COLUMNS))
