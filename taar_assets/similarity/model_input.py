"""Reading what the recommender is given, validated: the published files and client profiles.

Errors name the file (and donor or point) or the profile field at fault.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from taar_assets.similarity.features import (
    ADDONS_COLUMN,
    CATEGORICAL_FEATURES,
    CONTINUOUS_FEATURES,
    DONOR_KEYS,
    FEATURE_BY_NAME,
    LAYOUTS,
    MISSING_CATEGORY,
    MISSING_NUMBER,
    PROFILE_FIELDS,
)
from taar_assets.similarity.model_files import sha256

CATEGORICAL_COUNT = len(CATEGORICAL_FEATURES)  # PROFILE_FIELDS: categoricals first, then continuous
SUBSESSION_UNITS = {"service": "seconds", "original": "hours"}
MANIFEST_FILE = "manifest.json"


class ModelError(ValueError):
    """The published model is malformed; the message names the file and what is wrong."""


class ProfileError(ValueError):
    """A client profile lacks a required field or has a value of the wrong type; the message names it."""


def validate_profile(profile: Mapping) -> None:
    """Raise ProfileError naming the field if ``profile`` cannot be scored.

    Required: every PROFILE_FIELDS key; categoricals a string or None (= ""), continuous
    features a finite number or None (= 0); NaN counts as None. Optional: ``installed_addons``,
    a list of add-on ids.
    """
    profile_values(profile, PROFILE_FIELDS)
    installed_addon_ids(profile)


def profile_values(record: Mapping, keys: Sequence[str], also_required: Sequence[str] = ()) -> list:
    """The 3 categorical (None/NaN -> "") then 5 continuous (None/NaN -> 0.0) values of ``record``,
    read under ``keys`` (PROFILE_FIELDS order in some layout)."""
    if not isinstance(record, Mapping):
        raise ProfileError(f"must be a JSON object, got {type(record).__name__}")
    missing = [key for key in (*keys, *also_required) if key not in record]
    if missing:
        raise ProfileError(f"missing required field(s) {missing}")
    values: list = []
    # NaN counts as missing, as in distance.feature_matrices: it is pandas' missing value.
    for key in keys[:CATEGORICAL_COUNT]:
        value = record[key]
        if _missing(value):
            value = MISSING_CATEGORY
        elif not isinstance(value, str):
            raise ProfileError(f"field {key!r} must be a string or null, got {value!r}")
        values.append(value)
    for key in keys[CATEGORICAL_COUNT:]:
        value = record[key]
        if _missing(value):
            value = MISSING_NUMBER
        elif isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isinf(value):
            raise ProfileError(f"field {key!r} must be a finite number or null, got {value!r}")
        values.append(float(value))
    return values


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _addon_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(guid, str) for guid in value):
        raise ProfileError(f"field {key!r} must be a list of add-on id strings, got {value!r}")
    return tuple(value)


def installed_addon_ids(profile: Mapping) -> tuple[str, ...]:
    installed = profile.get("installed_addons")
    return () if installed is None else _addon_list(installed, "installed_addons")


def _layout_keys(layout: str) -> tuple[str, ...]:
    """The donors.json key of each PROFILE_FIELDS entry in ``layout``."""
    column_of = {key: column for column, key in DONOR_KEYS["service"].items()}
    return tuple(DONOR_KEYS[layout][column_of[name]] for name in PROFILE_FIELDS)


def _check_donor_list(donors: Any, source: str) -> None:
    if not isinstance(donors, list) or not donors:
        raise ModelError(f"{source} must be a non-empty JSON list of donors, got {_preview(donors)}")


def inferred_layout(donors: Any, source: str) -> str:
    _check_donor_list(donors, source)
    keys = set(donors[0]) if isinstance(donors[0], Mapping) else set()
    service = bool(keys & {"geo_city", "subsession_length"})
    original = bool(keys & {"city", "subsession_hours_sum"})
    if service != original:
        return "service" if service else "original"
    raise ModelError(
        f"{source}: without a manifest the layout is read from the donors' keys, but donor 0 has "
        f"{sorted(keys)}: expected geo_city/subsession_length (service) or city/subsession_hours_sum (original)"
    )


def donor_features(donors: Any, layout: str, source: str) -> tuple[np.ndarray, np.ndarray, tuple]:
    """(categorical, continuous in seconds, add-on lists) of the donors, validated."""
    _check_donor_list(donors, source)
    keys = _layout_keys(layout)
    addons_key = DONOR_KEYS[layout][ADDONS_COLUMN]
    categorical, continuous, addons = [], [], []
    for index, donor in enumerate(donors):
        try:
            values = profile_values(donor, keys, also_required=(addons_key,))
            addons.append(_addon_list(donor[addons_key], addons_key))
        except ProfileError as error:
            raise ModelError(f"{source}: donor {index} ({layout} layout): {error}") from None
        categorical.append(values[:CATEGORICAL_COUNT])
        continuous.append(values[CATEGORICAL_COUNT:])
    continuous_matrix = np.array(continuous, dtype=np.float64)
    if layout == "original":  # the original layout's units -> the service's (hours -> seconds)
        continuous_matrix *= np.array([FEATURE_BY_NAME[name].service_scale for name in CONTINUOUS_FEATURES])
    return np.array(categorical, dtype=str), continuous_matrix, tuple(addons)


def curve_columns(curves: Any, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, numerator, denominator) of ``[[x, [numerator, denominator]], ...]``, validated."""
    if not isinstance(curves, list) or not curves:
        raise ModelError(
            f"{source} must be a non-empty JSON list of [x, [numerator, denominator]], got {_preview(curves)}"
        )
    rows = []
    for index, point in enumerate(curves):
        shaped = (
            isinstance(point, (list, tuple))
            and len(point) == 2
            and isinstance(point[1], (list, tuple))
            and len(point[1]) == 2
        )
        if not shaped:
            raise ModelError(f"{source}: point {index} must be [x, [numerator, denominator]], got {_preview(point)}")
        row = (point[0], *point[1])
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in row):
            raise ModelError(f"{source}: point {index} must hold finite numbers, got {_preview(point)}")
        if row[1] < 0 or row[2] < 0:
            raise ModelError(f"{source}: point {index} has a negative density: {_preview(point)}")
        rows.append(row)
    columns = np.array(rows, dtype=np.float64)
    not_increasing = np.flatnonzero(np.diff(columns[:, 0]) <= 0)
    if len(not_increasing):
        raise ModelError(f"{source}: x must be strictly increasing, but point {not_increasing[0] + 1} is not")
    return columns[:, 0], columns[:, 1], columns[:, 2]


def log_ratios(numerator: np.ndarray, denominator: np.ndarray, source: str) -> np.ndarray:
    """ln(numerator / denominator) per grid point, zero densities as the module docstring says."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratios = np.log(numerator / denominator)
    log_ratios[numerator == 0] = -np.inf  # also 0/0, which is NaN
    finite = np.isfinite(log_ratios)
    if not finite.any():
        raise ModelError(f"{source}: no grid point has both densities positive, so no ratio is defined")
    log_ratios[np.isposinf(log_ratios)] = log_ratios[finite].max()
    return log_ratios


def check_manifest(manifest: Any, documents: Mapping[str, bytes], url: Callable[[str], str]) -> None:
    """The manifest names a known layout (and its unit) and its checksums match the files."""
    source = url(MANIFEST_FILE)
    if not isinstance(manifest, Mapping):
        raise ModelError(f"{source} must be a JSON object, got {_preview(manifest)}")
    layout = manifest.get("layout")
    if layout not in LAYOUTS:
        raise ModelError(f"{source}: layout must be one of {list(LAYOUTS)}, got {layout!r}")
    unit = manifest.get("subsession_unit", SUBSESSION_UNITS[layout])
    if unit != SUBSESSION_UNITS[layout]:
        raise ModelError(f"{source}: layout {layout!r} has subsession_unit {SUBSESSION_UNITS[layout]!r}, not {unit!r}")
    files = manifest.get("files", {})
    if not isinstance(files, Mapping):
        raise ModelError(f"{source}: files must be an object, got {_preview(files)}")
    for name, data in documents.items():
        entry = files.get(name)
        expected = entry.get("sha256") if isinstance(entry, Mapping) else None
        if expected is not None and expected != sha256(data):
            raise ModelError(
                f"{url(name)} does not match {source}: its sha256 is {sha256(data)}, the manifest says {expected}"
            )


def parsed_json(data: bytes, source: str) -> Any:
    def reject(constant: str) -> None:
        raise ValueError(f"{constant} is not a number JSON allows")

    try:
        return json.loads(data, parse_constant=reject)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelError(f"{source} is not valid JSON: {error}") from None


def _preview(value: Any, length: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= length else f"{text[: length - 3]}..."
