"""The published model's files (SPEC §4): donors, LR curves and the manifest that describes them."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd

from taar_assets.lib.distance import CATEGORICAL_FEATURES

Layout = Literal["service", "original"]
SCHEMA_VERSION = 2

# Donor pool columns, published under these keys in the "original" job's layout.
DONOR_FIELDS = (
    "city", "subsession_hours_sum", "locale", "os",
    "bookmark_count", "tab_open_count", "total_uri", "unique_tlds", "active_addons",
)
# What the TAAR service reads instead (the session length in seconds, not hours).
SERVICE_RENAMES = {"city": "geo_city", "subsession_hours_sum": "subsession_length"}
# Donor pool column -> published key, per layout.
DONOR_KEYS: dict[str, dict[str, str]] = {
    "service": {column: SERVICE_RENAMES.get(column, column) for column in DONOR_FIELDS},
    "original": {column: column for column in DONOR_FIELDS},
}
SECONDS_PER_HOUR = 3600


def _plain(value: Any) -> Any:
    """A JSON-safe Python value; NaN/inf never reach a published file."""
    if value is None:
        return None
    if isinstance(value, float) or hasattr(value, "dtype"):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"refusing to publish a non-finite number: {number}")
        return number
    return value


def donor_records(donor_pool: pd.DataFrame, layout: Layout = "service") -> list[dict[str, Any]]:
    """The donors as the published JSON objects of `layout` (no client id, no cluster)."""
    keys = DONOR_KEYS[layout]
    records = []
    for row in donor_pool.itertuples(index=False):
        values = row._asdict()
        record: dict[str, Any] = {}
        for column, key in keys.items():
            value = values[column]
            if column == "active_addons":
                record[key] = [str(guid) for guid in value]
            elif column in CATEGORICAL_FEATURES:
                record[key] = None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                record[key] = None
            elif column == "subsession_hours_sum" and layout == "service":
                record[key] = _plain(value) * SECONDS_PER_HOUR
            else:
                record[key] = _plain(value)
        records.append(record)
    return records


def to_json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=2, allow_nan=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(
    *,
    day: str,
    layout: Layout,
    files: Mapping[str, bytes],
    counts: Mapping[str, int],
    parameters: Mapping[str, Any],
    input_window: Mapping[str, str],
) -> dict[str, Any]:
    """What a reader needs to trust the files without guessing: layout, day, sizes, checksums."""
    return {
        "schema_version": SCHEMA_VERSION,
        "model": "taar-similarity",
        "date": day,
        "layout": layout,
        "subsession_unit": "seconds" if layout == "service" else "hours",
        "counts": dict(counts),
        "parameters": dict(parameters),
        "input_window": dict(input_window),
        "files": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in files.items()},
    }
