"""The one place that defines how the pipeline is partitioned in time, and how an asset runs
over the day(s) of a run: one partition, or a range in a single run (a backfill)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg

from taar_assets.io_managers import LazyPartitions, PartitionedOutput
from taar_assets.retries import transient_errors_retried

# The first day a model can be built for. Real clients_daily data goes back years; the default
# keeps the UI's partition list short. Override with TAAR_PARTITIONS_START=YYYY-MM-DD.
DEFAULT_START = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("TAAR_PARTITIONS_START", DEFAULT_START),
    timezone="UTC",
)

# Days of clients_daily one partition reads, ending on the partition day (the original's 90).
WINDOW_DAYS = 90

warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")

# Every daily asset accepts a range in one run (`dg launch --partition-range`, single-run backfills).
single_run = dg.BackfillPolicy.single_run()


def for_each_day(
    context: dg.AssetExecutionContext, compute: Callable[[str], tuple[Any, dict[str, Any]]]
) -> Any:
    """Run `compute(day) -> (value, metadata)` for the run's day(s).

    One day: computed now, metadata attached to the materialisation. A range: each day is
    computed when the IO manager writes it, so memory holds one day at a time. Either way a
    transient storage error retries the step.
    """

    def computed(day: str) -> tuple[Any, dict[str, Any]]:
        with transient_errors_retried(context.retry_number):
            return compute(day)

    days = context.partition_keys
    if len(days) == 1:
        value, metadata = computed(days[0])
        context.add_output_metadata(metadata)
        return value
    return PartitionedOutput({day: (lambda day=day: computed(day)[0]) for day in days})


def on_day(upstream: Any, day: str) -> Any:
    """The upstream value for `day`, whether the run covers one day or a range."""
    return upstream[day] if isinstance(upstream, LazyPartitions) else upstream
