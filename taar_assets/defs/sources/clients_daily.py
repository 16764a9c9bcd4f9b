"""The external input: Mozilla's clients_daily telemetry, one Hive folder per day (docs/behaviour.md §2)."""

import dagster as dg

from taar_assets.partitions import daily_partitions

clients_daily = dg.AssetSpec(
    key="clients_daily",
    description=(
        "One row per Firefox client per active day, Hive-partitioned parquet "
        "(`submission_date_s3=YYYYMMDD`). Produced upstream; read from TAAR_CLIENTS_DAILY."
    ),
    partitions_def=daily_partitions,
    kinds={"parquet"},
)
