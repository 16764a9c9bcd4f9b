"""Add-on metadata (the optional input ``TAAR_ADDON_METADATA``): who makes each add-on and how it fares.

The ranker's producer boosting and subscribed-creator boost (docs/behaviour.md §8) need facts about
an add-on's producer (its developer account) that telemetry does not hold. They come from this
file, one record per add-on GUID, in JSON or parquet:

JSON: ``{"schema_version": 1, "addons": [record, ...]}``; parquet: one row per record, one
column per field. A record:

=====================  ========  ========  =====================================================
field                  type      required  meaning
=====================  ========  ========  =====================================================
guid                   string    yes       the add-on's GUID (unique in the file)
name                   string    yes       display name
producer               string    yes       the developer account (author) that publishes it
weekly_users           number    yes       average daily users over the last week, >= 0
average_rating         number    no (0)    1-5 stars; 0 = unrated
rating_count           integer   no (0)    number of ratings, >= 0
report_rate            number    no (0)    abuse reports per weekly user, >= 0
risk_score             number    no (0.5)  automated-review risk, 0 (safe) - 1; 0.5 = unknown
policy_violation       bool      no        currently in violation of the add-on policies
abuse_flagged          bool      no        among the most reported add-ons (moderate tier)
abuse_flagged_severe   bool      no        among the most reported add-ons (severe tier)
recent_updates         integer   no (0)    versions released in the last 90 days, >= 0
subscribed             bool      no        the producer is a "subscribed creator" (e.g. a
                                           Mozilla-recommended developer)
=====================  ========  ========  =====================================================

Unknown fields are rejected (a misspelt optional field would otherwise be silently ignored).
Every error names the file, the record's GUID (or position) and the field.

``producer_signals`` folds the records of each producer into one ``ranker.ProducerSignals``:
audience, ratings and updates add up, the rating and report rate are averaged over the
producer's ratings and users, the risk is the worst add-on's, and any flag on any add-on flags
the producer.
"""

from __future__ import annotations

import io
import json
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from taar_assets.recommendation.ranker import ProducerSignals

SCHEMA_VERSION = 1


class AddonMetadataError(ValueError):
    """The metadata file breaks the schema; the message names the file, the GUID and the field."""


@dataclass(frozen=True)
class AddonInfo:
    """One add-on's metadata record (fields as in the module docstring)."""

    guid: str
    name: str
    producer: str
    weekly_users: float
    average_rating: float = 0.0
    rating_count: int = 0
    report_rate: float = 0.0
    risk_score: float = 0.5
    policy_violation: bool = False
    abuse_flagged: bool = False
    abuse_flagged_severe: bool = False
    recent_updates: int = 0
    subscribed: bool = False

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


REQUIRED_FIELDS = ("guid", "name", "producer", "weekly_users")
FIELD_NAMES = tuple(f.name for f in fields(AddonInfo))
_TEXT = ("guid", "name", "producer")
_FLAGS = ("policy_violation", "abuse_flagged", "abuse_flagged_severe", "subscribed")
_COUNTS = ("rating_count", "recent_updates")
# field -> (minimum, maximum) of the real-valued fields.
_REALS = {
    "weekly_users": (0.0, math.inf),
    "average_rating": (0.0, 5.0),
    "report_rate": (0.0, math.inf),
    "risk_score": (0.0, 1.0),
}

AddonMetadata = dict[str, AddonInfo]  # GUID -> record


def parse_addon_metadata(records: Iterable[Mapping[str, Any]], source: str = "add-on metadata") -> AddonMetadata:
    """Validate records (mappings of the schema's fields) into ``{guid: AddonInfo}``.

    ``source`` names the file in error messages. Missing (None) optional values take their
    defaults; a missing required value, a wrong type, a value out of range, an unknown field or
    a repeated GUID raises AddonMetadataError.
    """
    metadata: AddonMetadata = {}
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise AddonMetadataError(f"{source}: record {position} must be an object, got {type(record).__name__}")
        guid = record.get("guid")
        where = f"{source}: add-on {guid!r}" if isinstance(guid, str) and guid else f"{source}: record {position}"
        unknown = sorted(set(record) - set(FIELD_NAMES))
        if unknown:
            raise AddonMetadataError(f"{where}: unknown field(s) {unknown}; known fields: {list(FIELD_NAMES)}")
        values = {}
        for name in FIELD_NAMES:
            value = record.get(name)
            if _missing(value):
                if name in REQUIRED_FIELDS:
                    raise AddonMetadataError(f"{where}: field {name!r} is required")
                continue
            values[name] = _checked(name, value, where)
        info = AddonInfo(**values)
        if info.guid in metadata:
            raise AddonMetadataError(f"{where}: GUID {info.guid!r} appears more than once")
        metadata[info.guid] = info
    return metadata


def load_addon_metadata(location: str, storage_options: Mapping[str, Any] | None = None) -> AddonMetadata:
    """Read and validate the metadata file at ``location`` (path or ``s3://`` URL).

    ``.parquet`` files are read as a table, anything else as JSON
    (``{"schema_version": 1, "addons": [...]}``). Raises AddonMetadataError naming the file.
    """
    try:
        with fsspec.open(location, "rb", **dict(storage_options or {})) as handle:
            data = handle.read()
    except FileNotFoundError:
        raise AddonMetadataError(f"add-on metadata {location} not found") from None
    if str(location).endswith(".parquet"):
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError, ValueError) as error:
            raise AddonMetadataError(f"add-on metadata {location} is not a readable parquet file: {error}") from None
        return parse_addon_metadata(table.to_pylist(), location)
    try:
        document = json.loads(data)
    except ValueError as error:
        raise AddonMetadataError(f"add-on metadata {location} is not valid JSON: {error}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("addons"), list):
        raise AddonMetadataError(
            f'add-on metadata {location} must be a JSON object {{"schema_version": {SCHEMA_VERSION}, "addons": [...]}}'
        )
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise AddonMetadataError(
            f"add-on metadata {location}: schema_version must be {SCHEMA_VERSION}, got {version!r}"
        )
    return parse_addon_metadata(document["addons"], location)


def addon_metadata_json(metadata: Iterable[AddonInfo]) -> bytes:
    """The JSON document ``load_addon_metadata`` reads, records in the given order."""
    document = {"schema_version": SCHEMA_VERSION, "addons": [info.to_record() for info in metadata]}
    return json.dumps(document, indent=1, allow_nan=False).encode("utf-8")


def producer_signals(metadata: Mapping[str, AddonInfo]) -> dict[str, ProducerSignals]:
    """One ``ProducerSignals`` per producer, folding the records of all its add-ons."""
    by_producer: dict[str, list[AddonInfo]] = {}
    for info in metadata.values():
        by_producer.setdefault(info.producer, []).append(info)
    signals = {}
    for producer, infos in by_producer.items():
        users = sum(info.weekly_users for info in infos)
        ratings = sum(info.rating_count for info in infos)
        signals[producer] = ProducerSignals(
            weekly_users=users,
            risk_score=max(info.risk_score for info in infos),
            policy_violation=any(info.policy_violation for info in infos),
            abuse_flagged=any(info.abuse_flagged for info in infos),
            abuse_flagged_severe=any(info.abuse_flagged_severe for info in infos),
            recent_updates=sum(info.recent_updates for info in infos),
            # Averages weighted by what they average over: a producer's rating is the mean of
            # all its ratings, its report rate reports per user across all its users.
            average_rating=sum(i.average_rating * i.rating_count for i in infos) / ratings if ratings else 0.0,
            rating_count=ratings,
            report_rate=sum(i.report_rate * i.weekly_users for i in infos) / users if users else 0.0,
        )
    return signals


def _missing(value: Any) -> bool:
    # Parquet nulls and pandas' NaN both mean "not given".
    return value is None or (isinstance(value, float) and math.isnan(value))


def _checked(name: str, value: Any, where: str) -> Any:
    def fail(requirement: str) -> None:
        raise AddonMetadataError(f"{where}: field {name!r} {requirement}, got {value!r}")

    if name in _TEXT:
        if not isinstance(value, str) or not value.strip():
            fail("must be a non-empty string")
        return value
    if name in _FLAGS:
        if not isinstance(value, bool):
            fail("must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail("must be a number")
    if name in _COUNTS:
        if not math.isfinite(value) or value != int(value) or value < 0:
            fail("must be a non-negative integer")
        return int(value)
    low, high = _REALS[name]
    if math.isinf(value) or not low <= value <= high:
        fail(f"must be a finite number in [{low:g}, {high:g}]")
    return float(value)
