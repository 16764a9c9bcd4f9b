"""The similarity group's job and its cron schedule: build and publish the day that just closed."""

import dagster as dg

similarity_job = dg.define_asset_job(
    name="similarity_job",
    selection=dg.AssetSelection.groups("similarity"),
    description="Build and publish the TAAR similarity model for one day.",
)

# 04:00 UTC, requesting the partition of the day that just closed.
similarity_schedule = dg.build_schedule_from_partitioned_job(similarity_job, hour_of_day=4)
