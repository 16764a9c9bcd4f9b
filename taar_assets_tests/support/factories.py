"""Small hand-made clients_daily datasets, row by row, for tests that need exact control."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from taar_assets.similarity.input_contract import CLIENTS_DAILY_SCHEMA

# The input contract's columns, plus one the pipeline must ignore.
SCHEMA = CLIENTS_DAILY_SCHEMA.append(pa.field("country", pa.string()))
ADDON_TYPE = CLIENTS_DAILY_SCHEMA.field("active_addons").type.value_type


def addon(guid: str, **overrides: Any) -> dict[str, Any]:
    """A valid, enabled, user-installed extension unless overridden."""
    record = {
        "addon_id": guid,
        "blocklisted": False,
        "name": guid,
        "user_disabled": False,
        "app_disabled": False,
        "version": "1.0",
        "scope": 1,
        "type": "extension",
        "foreign_install": False,
        "has_binary_components": False,
        "install_day": 17000,
        "update_day": 17500,
        "signed_state": 2,
        "is_system": False,
        "is_web_extension": True,
        "multiprocess_compatible": True,
    }
    record.update(overrides)
    return record


def row(client_id: str | None, guids: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """A release Firefox row with the given valid add-ons unless overridden."""
    record = {
        "client_id": client_id,
        "channel": "release",
        "app_name": "Firefox",
        "city": "Paris",
        "locale": "fr",
        "os": "Windows_NT",
        "subsession_hours_sum": 2.5,
        "places_bookmarks_count_mean": 10.0,
        "scalar_parent_browser_engagement_tab_open_event_count_sum": 20,
        "scalar_parent_browser_engagement_total_uri_count_sum": 100,
        "scalar_parent_browser_engagement_unique_domains_count_mean": 8.0,
        "active_addons": [addon(g) for g in (guids or [])],
        "country": "FR",
    }
    record.update(overrides)
    return record


def write_day(root: Path, day: dt.date, rows: list[dict[str, Any]], schema: pa.Schema = SCHEMA, name: str = "part-0") -> Path:
    folder = root / f"submission_date_s3={day:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def write_whitelist(path: Path, guids: list[Any]) -> Path:
    path.write_text(json.dumps(guids))
    return path
