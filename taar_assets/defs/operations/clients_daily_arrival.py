"""Start the day's similarity partition as soon as that day of clients_daily is complete."""

import datetime as dt

import dagster as dg

from taar_assets.partitions import daily_partitions
from taar_assets.resources import ClientsDailyResource

# Days before the latest partition that are still watched: a day that lands late (after the
# next one) is built too; older days are a backfill's business.
LOOKBACK_DAYS = 3


@dg.sensor(
    job_name="similarity_job",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests the similarity partition of each recent day whose clients_daily folder is complete "
        "(TAAR_INPUT_DONE_MARKER present, or no change for TAAR_INPUT_QUIET_MINUTES) and whose model "
        "is not published yet."
    ),
)
def clients_daily_arrival(context: dg.SensorEvaluationContext, clients_daily: ClientsDailyResource):
    now = dt.datetime.now(dt.timezone.utc)
    last = daily_partitions.get_last_partition_key()
    if last is None:
        return dg.SkipReason("no partition exists yet")
    watched = {dt.date.fromisoformat(last) - dt.timedelta(days=n) for n in range(LOOKBACK_DAYS + 1)}
    built = context.instance.get_materialized_partitions(dg.AssetKey("similarity_model"))
    waiting = {day for day in watched & clients_daily.present_days() if f"{day}" not in built}
    statuses = clients_daily.day_statuses(waiting, now)
    complete = [status for status in statuses if status.complete]
    if not complete:
        pending = "; ".join(f"{s.day}: {s.reason}" for s in statuses) or "every watched day is built or absent"
        return dg.SkipReason(f"no complete day to build ({pending})")
    for status in complete:
        context.log.info(f"clients_daily {status.day} is complete ({status.reason}): requesting its partition")
    return dg.SensorResult(
        # One request per day ever: a failed day is not retried here (the run's own retries, the
        # failure alert and the cron fallback deal with it).
        run_requests=[dg.RunRequest(partition_key=f"{s.day}", run_key=f"clients_daily:{s.day}") for s in complete],
        asset_events=[
            dg.AssetObservation(
                asset_key="clients_daily",
                partition=f"{s.day}",
                metadata={"complete": s.reason, "parquet_files": s.parquet_files},
            )
            for s in complete
        ],
    )
