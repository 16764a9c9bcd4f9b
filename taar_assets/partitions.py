"""The one place that defines how the pipeline is partitioned in time."""

import os

import dagster as dg

# The first day a model can be built for. Real clients_daily data goes back years; the default
# keeps the UI's partition list short. Override with TAAR_PARTITIONS_START=YYYY-MM-DD.
DEFAULT_START = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("TAAR_PARTITIONS_START", DEFAULT_START),
    timezone="UTC",
)

# Days of clients_daily one partition reads, ending on the partition day (the original's 90).
WINDOW_DAYS = 90
