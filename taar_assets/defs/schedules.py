"""The daily job and its schedule: build and publish the day that just closed."""

import dagster as dg

similarity_job = dg.define_asset_job(
    name="similarity_job",
    selection=dg.AssetSelection.groups("similarity"),
    description="Build and publish the TAAR similarity model for one day.",
)

# 04:00 UTC, requesting the partition of the day that just closed.
similarity_schedule = dg.build_schedule_from_partitioned_job(similarity_job, hour_of_day=4)

recommendation_job = dg.define_asset_job(
    name="recommendation_job",
    selection=dg.AssetSelection.groups("recommendation"),
    description="Fit the candidate sources and the install model, and evaluate the recommendations of one day.",
)

# 05:00 UTC, an hour after the model: the evaluation reads the day's donors and curves.
recommendation_schedule = dg.build_schedule_from_partitioned_job(recommendation_job, hour_of_day=5)
