"""The published model's files (docs/behaviour.md §6): donors, LR curves and the manifest that describes them."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.features import ADDONS_COLUMN, DONOR_KEYS, FEATURE_BY_NAME, Layout
from taar_assets.similarity.lr_curves import LrCurves

SCHEMA_VERSION = 2


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
            if column == ADDONS_COLUMN:
                record[key] = [str(guid) for guid in value]
                continue
            feature = FEATURE_BY_NAME[column]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                raise ValueError(f"refusing to publish a missing {column}: the donor pool fills missing values")
            if feature.kind == "categorical":
                record[key] = str(value)
            elif layout == "service":
                record[key] = feature.in_service_unit(_plain(value))
            else:
                record[key] = _plain(value)
        records.append(record)
    return records


def to_json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=2, allow_nan=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_name(name: str, day: str) -> str:
    """The dated archive copy of a published file: donors.json of 2026-11-20 is donors20261120.json."""
    return f"{name.removesuffix('.json')}{day.replace('-', '')}.json"


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


def model_documents(day: str, pool: DonorPool, curves: LrCurves, layout: Layout) -> dict[str, bytes]:
    """The bytes of the day's three files; the manifest carries the others' checksums."""
    files = {
        "donors": to_json_bytes(donor_records(pool.donors, layout)),
        "lr_curves": to_json_bytes(curves.as_json()),
    }
    manifest = build_manifest(
        day=day,
        layout=layout,
        files={f"{name}.json": data for name, data in files.items()},
        counts={
            "donors": len(pool.donors),
            "clusters": int(pool.donors["cluster"].nunique()),
            "lr_curve_points": len(curves.curves),
        },
        parameters={**pool.parameters, **curves.parameters},
        input_window=pool.input_window,
    )
    return {**files, "manifest": to_json_bytes(manifest)}
