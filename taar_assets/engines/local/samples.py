"""Stage 1 on the embedded engine: each client's latest qualifying row, with DuckDB (out of core).

Filters, projection and the latest-row-per-client step run inside DuckDB, which streams the
result into the stored parquet file and spills to disk beyond its memory limit: the window is
never held in the run's process. Remote roots (``s3://...``) go through fsspec, which DuckDB
uses as a registered filesystem.

Two passes: the first finds each client's latest qualifying row from light columns only; the
second fetches just those rows. A row's position in the files read is
``file_index * 2^32 + file_row_number``, files in day order then name, so the greatest position
is the client's latest row. Sorting or aggregating the nested add-on lists of the whole window
instead costs several times more time and memory.
"""

from __future__ import annotations

from taar_assets.similarity.features import FEATURES, SAMPLE_COLUMNS, SUBMISSION_DATE, Feature
from taar_assets.similarity.rules import ADDON_FIELDS_READ, ADDON_STRING_FIELDS, FIREFOX, RELEASE_CHANNEL, SampleRule

_SOURCE = "read_parquet($files, union_by_name = true, file_row_number = true)"
_POSITION = "file_index * 4294967296 + file_row_number"


def plausible(expression: str, feature: Feature) -> str:
    """SQL: whether a value of `feature` is usable (finite, 0 .. plausible_max)."""
    return f"(isfinite({expression}) AND {expression} >= 0 AND {expression} <= {feature.plausible_max!r})"


def _projection() -> str:
    """SAMPLE_COLUMNS from a clients_daily row (the add-on structs cut to the fields read)."""
    fields = ", ".join(
        f"{name} := CAST(a.{name} AS {'VARCHAR' if name in ADDON_STRING_FIELDS else 'BOOLEAN'})"
        for name in ADDON_FIELDS_READ
    )
    expressions = {
        "client_id": "CAST(client_id AS VARCHAR)",
        "active_addons": f"list_transform(active_addons, lambda a: CASE WHEN a IS NULL THEN NULL ELSE struct_pack({fields}) END)",
        SUBMISSION_DATE: "$file_days[CAST(file_index AS BIGINT) + 1]",
    }
    for feature in FEATURES:
        if feature.kind == "categorical":
            expressions[feature.name] = f"CAST({feature.source} AS VARCHAR)"
        else:
            value = f"CAST({feature.source} AS DOUBLE)"
            expressions[feature.name] = f"CASE WHEN {plausible(value, feature)} THEN {value} END"
    return ",\n      ".join(f"{expressions[name]} AS {name}" for name in SAMPLE_COLUMNS)


def latest_rows(rule: SampleRule) -> str:
    """SQL over `$files` (with their `$file_days`): each client's latest qualifying row, unordered."""
    return f"""
    SELECT
      {_projection()}
    FROM {_SOURCE}
    WHERE {_POSITION} IN (
      SELECT max({_POSITION})
      FROM {_SOURCE}
      WHERE client_id IS NOT NULL
        AND active_addons IS NOT NULL
        AND len(active_addons) > {int(rule.min_addons_exclusive)}
        AND len(active_addons) < {int(rule.max_addons_exclusive)}
        AND channel = '{RELEASE_CHANNEL}'
        AND app_name = '{FIREFOX}'
      GROUP BY client_id
    )"""


def window_samples(rule: SampleRule) -> str:
    """SQL: the samples of the files read, sorted by client_id."""
    return f"{latest_rows(rule)}\n    ORDER BY client_id"


def advanced_samples(rule: SampleRule, with_day: bool = True) -> str:
    """SQL: the previous day's samples (`$previous`) without rows older than `$oldest`, overridden
    by the latest qualifying rows of the day's `$files` (a later day always wins), sorted.
    Without a day (no data that day) the aged rows are only dropped."""
    columns = ", ".join(f"previous.{name}" for name in SAMPLE_COLUMNS)
    if not with_day:
        return f"""
    SELECT {columns} FROM read_parquet($previous) AS previous
    WHERE previous.{SUBMISSION_DATE} >= $oldest
    ORDER BY client_id"""
    return f"""
    WITH day_rows AS ({latest_rows(rule)})
    SELECT * FROM (
      SELECT {columns}
      FROM read_parquet($previous) AS previous
      ANTI JOIN day_rows ON previous.client_id = day_rows.client_id
      WHERE previous.{SUBMISSION_DATE} >= $oldest
      UNION ALL
      SELECT * FROM day_rows
    )
    ORDER BY client_id"""
