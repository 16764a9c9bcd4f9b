"""The recommendation group's job and its cron fallback."""

import dagster as dg

from taar_assets.partitions import fallback_schedule

recommendation_job = dg.define_asset_job(
    name="recommendation_job",
    selection=dg.AssetSelection.groups("recommendation"),
    description="Fit the candidate sources and the install model, and evaluate the recommendations of one day.",
)

# The group's automation condition runs it once the day's model is published; at 05:00 UTC this
# builds the day that just closed if that has not happened.
recommendation_schedule = fallback_schedule(recommendation_job, hour_of_day=5, built="recommendation_evaluation")
