"""When a day of clients_daily is complete, so that its partition can start (no Dagster).

A day folder (`<root>/submission_date_s3=YYYYMMDD/`) is complete when it holds the marker file
its writer leaves last (`_SUCCESS` by default, as Spark and most exporters write it), or, for
writers that leave none, when it holds parquet files and nothing in it has changed for a quiet
period. Temporary files count as changes: a folder still being written is never quiet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from taar_assets.similarity.input_contract import DAY_FOLDER_PREFIX, day_folder
from taar_assets.storage import filesystem


@dataclass(frozen=True)
class CompletenessRule:
    """`marker`: the file whose presence completes a day (None: no marker); `quiet_minutes`:
    how long a folder's files must stay unchanged to complete it without one (None: never)."""

    marker: str | None = "_SUCCESS"
    quiet_minutes: float | None = 60

    def __post_init__(self) -> None:
        if self.marker is None and self.quiet_minutes is None:
            raise ValueError("a day can never be complete without a marker file or a quiet period")
        if self.quiet_minutes is not None and self.quiet_minutes < 0:
            raise ValueError(f"quiet_minutes must be >= 0, got {self.quiet_minutes}")


@dataclass(frozen=True)
class DayStatus:
    day: dt.date
    complete: bool
    reason: str  # why, in words, e.g. "marker _SUCCESS present" or "last change 3.0 min ago"
    parquet_files: int


def present_days(root: str, storage_options: Mapping[str, Any] | None = None) -> set[dt.date]:
    """The days that have a folder under the dataset root (none when the root does not exist)."""
    fs, base = filesystem(root, storage_options)
    if not fs.isdir(base):
        return set()
    days = set()
    for entry in fs.ls(base, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        try:
            days.add(dt.datetime.strptime(name.removeprefix(DAY_FOLDER_PREFIX), "%Y%m%d").date())
        except ValueError:
            continue  # not a day folder
    return days


def day_statuses(
    root: str,
    days: Iterable[dt.date],
    rule: CompletenessRule,
    now: dt.datetime,
    storage_options: Mapping[str, Any] | None = None,
) -> list[DayStatus]:
    """Whether each of `days` (which must have a folder) is complete at `now` (timezone-aware)."""
    fs, base = filesystem(root, storage_options)
    statuses = []
    for day in sorted(days):
        files = fs.find(f"{base}/{day_folder(day)}", detail=True)
        names = {path.rsplit("/", 1)[-1] for path in files}
        parquet = sum(1 for name in names if name.endswith(".parquet") and not name.startswith("."))
        statuses.append(DayStatus(day, *_completeness(fs, files, names, parquet, rule, now), parquet))
    return statuses


def _completeness(fs, files: Mapping[str, dict], names: set[str], parquet: int, rule: CompletenessRule, now):
    if rule.marker and rule.marker in names:
        return True, f"marker {rule.marker} present"
    if not parquet:
        return False, "no parquet file yet"
    if rule.quiet_minutes is None:
        return False, f"waiting for the marker {rule.marker}"
    quiet = (now - max(_modified(fs, path, info) for path, info in files.items())).total_seconds() / 60
    if quiet >= rule.quiet_minutes:
        return True, f"unchanged for {quiet:.1f} min (quiet period {rule.quiet_minutes:g} min)"
    return False, f"last change {quiet:.1f} min ago (quiet period {rule.quiet_minutes:g} min)"


def _modified(fs, path: str, info: Mapping[str, Any]) -> dt.datetime:
    """A file's last modification, timezone-aware, from its listing when the filesystem gives it."""
    if isinstance(info.get("mtime"), (int, float)):  # local files
        return dt.datetime.fromtimestamp(info["mtime"], dt.timezone.utc)
    modified = info.get("LastModified") or fs.modified(path)  # S3 lists LastModified
    return modified if modified.tzinfo else modified.replace(tzinfo=dt.timezone.utc)
