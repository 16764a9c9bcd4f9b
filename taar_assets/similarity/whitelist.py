"""The curated add-on whitelist: a JSON list of GUID strings at a local or remote location."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import fsspec


class WhitelistError(ValueError):
    """The whitelist is missing or not a non-empty JSON list of strings."""


def parse_whitelist(text: str, location: str) -> list[str]:
    """Validate the whitelist document; returns the GUIDs in file order without duplicates."""
    try:
        guids = json.loads(text)
    except json.JSONDecodeError as error:
        raise WhitelistError(f"whitelist {location} is not valid JSON: {error}") from error
    if not isinstance(guids, list):
        raise WhitelistError(f"whitelist {location} must be a JSON list of GUID strings, got {type(guids).__name__}")
    if not guids:
        raise WhitelistError(f"whitelist {location} is empty: no add-on could ever be recommended")
    for index, guid in enumerate(guids):
        if not isinstance(guid, str) or not guid.strip():
            raise WhitelistError(f"whitelist {location}: entry {index} is {guid!r}, expected a non-empty GUID string")
    return list(dict.fromkeys(guids))


def load_whitelist(location: str, storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """Read and validate the whitelist at a path or URL (s3:// takes s3fs `storage_options`)."""
    try:
        with fsspec.open(location, "rb", **(storage_options or {})) as handle:
            data = handle.read()
    except FileNotFoundError as error:
        raise WhitelistError(f"whitelist not found at {location}") from error
    except IsADirectoryError as error:
        raise WhitelistError(f"whitelist {location} is a folder, not a JSON file") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WhitelistError(f"whitelist {location} is not UTF-8 text: byte {error.start} is {data[error.start]:#x}") from error
    return parse_whitelist(text, location)
