"""The fixed panel of client profiles the drift monitor recommends for every day (no Dagster).

A JSON-lines file of profiles in the `taar-assets recommend` input format. The package ships
one (`drift_panel.jsonl`: 300 clients of the demo data, drawn by `taar_assets.demo.profiles`);
a deployment on real data points `TAAR_DRIFT_PANEL` at a panel of its own. Whichever it is, it
must stay the same from day to day, or the drift measures compare different clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fsspec

from taar_assets.recommendation.profiles import profile_from_json

PACKAGED_PANEL = Path(__file__).with_name("drift_panel.jsonl")


def load_panel(location: str | None = None, storage_options: Mapping[str, Any] | None = None) -> list[dict]:
    """The profiles of the panel at `location` (path or URL; None: the packaged panel)."""
    location = location or str(PACKAGED_PANEL)
    try:
        with fsspec.open(location, "rb", **dict(storage_options or {})) as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise ValueError(f"drift panel {location}: cannot be read: {error}") from None
    profiles = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                profiles.append(profile_from_json(line)[1])
            except (TypeError, ValueError) as error:
                raise ValueError(f"drift panel {location} line {number}: {error}") from None
    if not profiles:
        raise ValueError(f"drift panel {location} holds no profile")
    return profiles
