"""The one place that defines how the pipeline is partitioned in time, and how an asset runs
over the day(s) of a run: one partition, or a range in a single run (a backfill)."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg

from taar_assets.io_managers import DayFailed, LazyPartitions, MissingPartitionError, PartitionedOutput
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


# What says a day's data cannot make a model (the input contract broken, no client qualifying,
# degenerate scores, an upstream day missing): the day fails, and retrying cannot help.
DAY_ERRORS = (ValueError, MissingPartitionError)


def for_each_day(
    context: dg.AssetExecutionContext, compute: Callable[[str], tuple[Any, dict[str, Any]]]
) -> Any:
    """Run `compute(day) -> (value, metadata)` for the run's day(s).

    One day: computed now, metadata attached to the materialisation; a day error fails the step
    without retries. A range: each day is computed when the IO manager writes it, so memory holds
    one day at a time, and a day error fails that day alone: nothing is stored for it, the days
    after it go on (the ones that need it fail too) and the publish step names it. Either way a
    transient storage error retries the step.
    """

    def computed(day: str) -> tuple[Any, dict[str, Any]]:
        with transient_errors_retried(context.retry_number):
            return compute(day)

    days = context.partition_keys
    if len(days) == 1:
        try:
            value, metadata = computed(days[0])
        except DAY_ERRORS as error:
            raise dg.Failure(description=f"{days[0]}: {error}", allow_retries=False) from error
        context.add_output_metadata(metadata)
        return value
    return PartitionedOutput({day: (lambda day=day: _day_of_range(context, computed, day)) for day in days})


def _day_of_range(context: dg.AssetExecutionContext, compute, day: str) -> Any:
    try:
        return compute(day)[0]
    except DAY_ERRORS as error:
        context.log.error(f"{day}: {error} (nothing stored for this day; the others go on)")
        return DayFailed(day, str(error))


_REQUIRED = object()


def on_day(upstream: Any, day: str, missing: Any = _REQUIRED) -> Any:
    """The upstream value for `day`, whether the run covers one day or a range (`missing` when
    the range's upstream has no such day, if given)."""
    if not isinstance(upstream, LazyPartitions):
        return upstream
    if day not in upstream and missing is not _REQUIRED:
        return missing
    return upstream[day]


def fallback_schedule(job: dg.UnresolvedAssetJobDefinition, hour_of_day: int, built: str) -> dg.ScheduleDefinition:
    """`<job>_schedule`: at `hour_of_day` UTC, the day that just closed, unless `built` (the job's
    last asset) already has that partition: sensors and automation conditions normally build
    it as soon as its input is there, and the schedule catches what they missed."""

    @dg.schedule(
        name=f"{job.name}_schedule",
        job=job,
        cron_schedule=f"0 {hour_of_day} * * *",
        execution_timezone="UTC",
        description=f"Fallback: builds the day that just closed at {hour_of_day:02d}:00 UTC unless {built} has it.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        day = f"{context.scheduled_execution_time.date() - dt.timedelta(days=1)}"
        if day in context.instance.get_materialized_partitions(dg.AssetKey(built)):
            return dg.SkipReason(f"{built} {day} is already built")
        return dg.RunRequest(partition_key=day)

    return _schedule
