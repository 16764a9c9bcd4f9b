"""The recommendation group's job and its cron schedule."""

import dagster as dg

recommendation_job = dg.define_asset_job(
    name="recommendation_job",
    selection=dg.AssetSelection.groups("recommendation"),
    description="Fit the candidate sources and the install model, and evaluate the recommendations of one day.",
)

# 05:00 UTC, an hour after the model: the evaluation reads the day's donors and curves.
recommendation_schedule = dg.build_schedule_from_partitioned_job(recommendation_job, hour_of_day=5)
