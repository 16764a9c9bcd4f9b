"""The similarity group's job and its cron fallback: build and publish the day that just closed."""

import dagster as dg

from taar_assets.partitions import fallback_schedule

similarity_job = dg.define_asset_job(
    name="similarity_job",
    selection=dg.AssetSelection.groups("similarity"),
    description="Build and publish the TAAR similarity model for one day.",
)

# The clients_daily_arrival sensor starts a day when its input is complete; at 04:00 UTC this
# builds the day that just closed if it has not.
similarity_schedule = fallback_schedule(similarity_job, hour_of_day=4, built="similarity_model")
