"""A check on the per-client state: has any input day it absorbed changed since?

The samples of day D record a fingerprint of every clients_daily day they absorbed (file
names, sizes, ETags or modification times). When an absorbed day's files change later (late or
restated data), or a day that had no data gets some, the state no longer reflects the input:
re-run from the earliest changed day; a single-run range backfill up to D rebuilds the chain in
order (the first day reads its whole window).
"""


import datetime as dt

import dagster as dg

from taar_assets.io_managers import MissingPartitionError
from taar_assets.partitions import daily_partitions, on_day
from taar_assets.resources import ClientsDailyResource
from taar_assets.similarity.input_contract import Window
from taar_assets.storage import StoredTable


def changed_days(absorbed: dict[str, str], current: dict[str, str], window: Window) -> dict[str, str]:
    """{day: what changed} for the days of `window` whose files differ from what was absorbed."""
    changes = {}
    for day in map(str, window.dates()):
        if day in absorbed and day not in current:
            changes[day] = "its files are gone"
        elif day in absorbed and absorbed[day] != current[day]:
            changes[day] = "its files changed"
        elif day not in absorbed and day in current:
            changes[day] = "it has data now"
    return changes


@dg.asset_check(
    asset="samples",
    description="No clients_daily day absorbed by the samples has changed since (late or restated input).",
    partitions_def=daily_partitions,
)
def input_unchanged(
    context: dg.AssetCheckExecutionContext, clients_daily: ClientsDailyResource, samples: StoredTable
) -> dg.AssetCheckResult:
    changed: dict[str, dict[str, str]] = {}
    for day in context.partition_keys:
        try:
            record = on_day(samples, day).provenance()
        except MissingPartitionError:  # the day failed in this range run: nothing to compare
            continue
        window = Window(dt.date.fromisoformat(record["input_window"]["end"]), record["input_window"]["days"])
        current = {f"{d}": files.fingerprint for d, files in clients_daily.list_days(window.dates()).items()}
        if changes := changed_days(record.get("absorbed", {}), current, window):
            changed[day] = changes
    earliest = min((d for changes in changed.values() for d in changes), default=None)
    return dg.AssetCheckResult(
        passed=not changed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "changed_input_days": dg.MetadataValue.json(changed),
            "repair": f"re-run samples (and what follows) from {earliest} on, in one range run" if earliest else "-",
        },
    )
