"""Writing the demo dataset: the day files, the whitelist, the planted groups and the metadata.

Generation is vectorised and streamed one day at a time: the per-client state (about 10
add-on entries per client) is built once, then each day selects the clients seen that day and
turns their current add-ons into an Arrow list<struct> column with offsets, without Python
loops over rows or add-ons. Output is deterministic for a given `DemoSpec`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from taar_assets.demo.catalog import _build_catalog, _Catalog
from taar_assets.demo.entries import _build_entries, _Entries
from taar_assets.demo.metadata import _addon_metadata
from taar_assets.demo.profiles import profiles_jsonl, sample_profiles
from taar_assets.demo.population import _build_clients, _build_groups, _Clients
from taar_assets.demo.sampling import _rng
from taar_assets.demo.spec import DemoSpec, _validate
from taar_assets.demo.tables import (
    ADDON_TYPES,
    APPS,
    APP_DISABLED,
    BLOCKLISTED,
    CHANNELS,
    DAILY_DOMAINS_SPREAD,
    DAILY_HOURS_SPREAD,
    FOREIGN_INSTALL,
    LOCALES,
    NON_WHITELISTED_EXTENSIONS,  # noqa: F401  (re-exported: callers read the catalogue size here)
    NULL_ADDONS,
    NULL_CATEGORICAL,
    NULL_CLIENT_ID,
    NULL_NUMBER,
    OS_NAMES,
    STREAM_DAYS,
    USER_DISABLED,
)
from taar_assets.recommendation.addon_metadata import addon_metadata_json
from taar_assets.similarity.input_contract import ADDON_STRUCT, CLIENTS_DAILY_SCHEMA, DAY_FOLDER_PREFIX, day_folder
from taar_assets.storage import write_bytes_locally_in_place, write_locally_in_place

DAY_FILE_NAME = "part-0.parquet"
# Written into a day folder once its file is whole, as Spark and most exporters do: the
# pipeline's sensor starts a day's partition when it appears.
DONE_MARKER = "_SUCCESS"
PROFILES_FILE = "profiles.jsonl"
SAMPLE_PROFILES = 50

# The columns of every day file: the input contract's, plus country, sample_id and
# profile_age_in_days, which the pipeline does not read; they are there because the real table
# has hundreds of columns to ignore.
_EXTRA_COLUMNS = {"sample_id": pa.int64(), "country": pa.string(), "profile_age_in_days": pa.int32()}
_DAY_COLUMNS = (
    "client_id", "sample_id", "channel", "app_name", "country", "city", "locale", "os", "profile_age_in_days",
    "subsession_hours_sum", "places_bookmarks_count_mean",
    "scalar_parent_browser_engagement_tab_open_event_count_sum",
    "scalar_parent_browser_engagement_total_uri_count_sum",
    "scalar_parent_browser_engagement_unique_domains_count_mean",
    "active_addons",
)
DAY_SCHEMA = pa.schema(
    [
        (name, _EXTRA_COLUMNS[name] if name in _EXTRA_COLUMNS else CLIENTS_DAILY_SCHEMA.field(name).type)
        for name in _DAY_COLUMNS
    ]
)


@dataclass(frozen=True)
class DemoSummary:
    """Where the dataset went and how big it is."""

    clients_daily: Path
    whitelist: Path
    groups: Path
    rows: int
    days: list[dt.date]
    addon_metadata: Path
    profiles: Path


# --- One day ----------------------------------------------------------------------------


def _masked(values: np.ndarray, rng: np.random.Generator, null_share: float, arrow_type: pa.DataType) -> pa.Array:
    return pa.array(values, type=arrow_type, mask=rng.random(len(values)) < null_share)


def _take(table: pa.Array, indices: np.ndarray, rng: np.random.Generator, null_share: float) -> pa.Array:
    """Strings from a small table; a null index gives a null value, so nulls cost nothing extra."""
    mask = rng.random(len(indices)) < null_share if null_share else None
    return table.take(pa.array(indices, pa.int64(), mask=mask))


def _addon_lists(
    day: int,
    rows: np.ndarray,
    rng: np.random.Generator,
    catalog: _Catalog,
    entries: _Entries,
    window_start_epoch_day: int,
) -> pa.ListArray:
    """The add-ons each row's client has on window day `day`, as list<struct>."""
    starts = entries.offsets[rows]
    lengths = entries.offsets[rows + 1] - starts
    row_of = np.repeat(np.arange(len(rows)), lengths)
    entry = np.arange(len(row_of)) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    present = (entries.install[entry] <= day) & (day < entries.removal[entry])
    entry, row_of = entry[present], row_of[present]
    offsets = np.zeros(len(rows) + 1, np.int32)
    np.cumsum(np.bincount(row_of, minlength=len(rows)), out=offsets[1:])

    addon = entries.addon[entry]
    flags = entries.flags[entry]
    install = entries.install[entry]
    period, shift = catalog.release_period[addon], catalog.release_offset[addon]
    release = (day + shift) // period
    # Auto-update: the installed version is the add-on's latest release, or what was installed.
    update = np.maximum(install, release * period - shift)
    foreign = (flags & FOREIGN_INSTALL) != 0
    structs = pa.StructArray.from_arrays(
        [
            catalog.ids.take(addon),
            (flags & BLOCKLISTED) != 0,
            catalog.names.take(addon),
            (flags & USER_DISABLED) != 0,
            (flags & APP_DISABLED) != 0,
            catalog.versions.take(catalog.version_base[addon] + release),
            np.where(foreign, 8, catalog.scope[addon]).astype(np.int32),
            pa.array(ADDON_TYPES).take(catalog.type_code[addon]),
            foreign,
            catalog.has_binary_components[addon],
            (window_start_epoch_day + install).astype(np.int32),
            (window_start_epoch_day + update).astype(np.int32),
            catalog.signed_state[addon],
            catalog.is_system[addon],
            catalog.is_web_extension[addon],
            catalog.multiprocess_compatible[addon],
        ],
        fields=list(ADDON_STRUCT),
    )
    return pa.ListArray.from_arrays(offsets, structs, mask=pa.array(rng.random(len(rows)) < NULL_ADDONS))


def _day_table(
    day: int, spec: DemoSpec, catalog: _Catalog, clients: _Clients, entries: _Entries, window_start_epoch_day: int
) -> pa.Table:
    """The rows of window day `day`: one per client seen that day."""
    rng = _rng(spec.seed, STREAM_DAYS, day)
    u = rng.random(spec.clients, dtype=np.float32)
    seen = (clients.first <= day) & (day <= clients.last) & ((clients.anchor == day) | (u < clients.daily_probability))
    rows = np.flatnonzero(seen)

    level = clients.engagement[rows].astype(np.float64)
    hours = level[:, 0] * rng.lognormal(0.0, DAILY_HOURS_SPREAD, len(rows))
    bookmarks = np.round(level[:, 1] * (1.0 + 0.002 * day) * rng.lognormal(0.0, 0.03, len(rows)), 1)
    tabs = rng.poisson(level[:, 2] * hours)
    uris = rng.poisson(level[:, 3] * hours)
    domains = np.round(level[:, 4] * rng.lognormal(0.0, DAILY_DOMAINS_SPREAD, len(rows)), 2)

    locale = clients.locale[rows]
    columns = {
        "client_id": _take(clients.ids, rows, rng, NULL_CLIENT_ID),
        "sample_id": pa.array(clients.sample_id[rows], pa.int64()),
        "channel": _take(pa.array([c for c, _ in CHANNELS]), clients.channel[rows], rng, 0.0),
        "app_name": _take(pa.array([a for a, _ in APPS]), clients.app[rows], rng, 0.0),
        "country": _take(pa.array([country for _, country, *_ in LOCALES]), locale, rng, NULL_CATEGORICAL),
        "city": _take(clients.city_names, clients.city[rows], rng, NULL_CATEGORICAL),
        "locale": _take(pa.array([name for name, *_ in LOCALES]), locale, rng, NULL_CATEGORICAL),
        "os": _take(pa.array(OS_NAMES), clients.os[rows], rng, NULL_CATEGORICAL),
        "profile_age_in_days": pa.array(clients.profile_age[rows] + day, pa.int32()),
        "subsession_hours_sum": _masked(hours, rng, NULL_NUMBER, pa.float64()),
        "places_bookmarks_count_mean": _masked(bookmarks, rng, NULL_NUMBER, pa.float64()),
        "scalar_parent_browser_engagement_tab_open_event_count_sum": _masked(tabs, rng, NULL_NUMBER, pa.int64()),
        "scalar_parent_browser_engagement_total_uri_count_sum": _masked(uris, rng, NULL_NUMBER, pa.int64()),
        "scalar_parent_browser_engagement_unique_domains_count_mean": _masked(domains, rng, NULL_NUMBER, pa.float64()),
        "active_addons": _addon_lists(day, rows, rng, catalog, entries, window_start_epoch_day),
    }
    return pa.Table.from_arrays([columns[field.name] for field in DAY_SCHEMA], schema=DAY_SCHEMA)


# --- Writing ---------------------------------------------------------------------------


def _write_parquet(table: pa.Table, final: Path) -> None:
    # Readers skip the hidden temporary name: an interrupted run leaves the old file or the new one.
    write_locally_in_place(str(final), lambda temporary: pq.write_table(table, temporary))


def _write_day(table: pa.Table, folder: Path) -> None:
    _write_parquet(table, folder / DAY_FILE_NAME)
    (folder / DONE_MARKER).touch()


def _remove_stale_days(clients_daily: Path, keep: set[str]) -> None:
    """Drop day files this generator wrote on an earlier run for days outside the new window."""
    pattern = re.compile(re.escape(DAY_FOLDER_PREFIX) + r"\d{8}")
    for folder in clients_daily.iterdir():
        if folder.is_dir() and pattern.fullmatch(folder.name) and folder.name not in keep:
            (folder / DAY_FILE_NAME).unlink(missing_ok=True)
            (folder / DONE_MARKER).unlink(missing_ok=True)
            if not any(folder.iterdir()):
                folder.rmdir()


def write_demo_dataset(out_dir: str | os.PathLike, spec: DemoSpec) -> DemoSummary:
    """Write a demo clients_daily dataset, its whitelist and the planted groups under `out_dir`.

    Layout: `clients_daily/submission_date_s3=YYYYMMDD/part-0.parquet` for each of the
    `spec.days` days ending on `spec.end_date`, `whitelist.json` (JSON list of GUIDs),
    `groups.parquet` (client_id, group: the planted truth), `addon_metadata.json` (a record
    per whitelisted and non-whitelisted extension, `addon_metadata`'s schema) and
    `profiles.jsonl` (50 clients of the last day, the `recommend` command's input). Each day
    folder gets a `_SUCCESS` marker once its file is written. The clients_daily folder belongs to
    the generator: day files from an earlier run outside the new window are removed.
    """
    _validate(spec)
    end_date = spec.end_date or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    dates = [end_date - dt.timedelta(days=spec.days - 1 - i) for i in range(spec.days)]
    out = Path(out_dir)
    clients_daily = out / "clients_daily"
    clients_daily.mkdir(parents=True, exist_ok=True)

    catalog = _build_catalog(spec)
    groups = _build_groups(spec)
    clients = _build_clients(spec, groups)
    entries = _build_entries(spec, catalog, groups, clients)

    whitelist_path = out / "whitelist.json"
    write_bytes_locally_in_place(str(whitelist_path), json.dumps(catalog.whitelist, indent=1).encode())
    groups_path = out / "groups.parquet"
    truth = pa.table({"client_id": clients.ids, "group": pa.array(clients.group, pa.int32())})
    _write_parquet(truth, groups_path)
    metadata_path = out / "addon_metadata.json"
    metadata = addon_metadata_json(_addon_metadata(spec, catalog, groups))
    write_bytes_locally_in_place(str(metadata_path), metadata)

    window_start_epoch_day = (dates[0] - dt.date(1970, 1, 1)).days
    rows = 0
    folders = set()
    # Parquet encoding releases the GIL: one writer thread encodes day d while day d+1 is
    # generated. Waiting for the previous write before queueing the next keeps at most two
    # days in memory.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = None
        for day, date in enumerate(dates):
            table = _day_table(day, spec, catalog, clients, entries, window_start_epoch_day)
            folder = clients_daily / day_folder(date)
            folder.mkdir(exist_ok=True)
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_day, table, folder)
            folders.add(folder.name)
            rows += table.num_rows
        pending.result()
    _remove_stale_days(clients_daily, folders)
    profiles_path = out / PROFILES_FILE
    last_day_file = clients_daily / day_folder(dates[-1]) / DAY_FILE_NAME
    write_bytes_locally_in_place(str(profiles_path), profiles_jsonl(sample_profiles(last_day_file, SAMPLE_PROFILES)))
    return DemoSummary(
        clients_daily=clients_daily,
        whitelist=whitelist_path,
        groups=groups_path,
        rows=rows,
        days=dates,
        addon_metadata=metadata_path,
        profiles=profiles_path,
    )
