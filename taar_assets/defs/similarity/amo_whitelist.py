"""The curated add-on whitelist, snapshotted per day so every model records the list it used."""

import dagster as dg
import pyarrow as pa

from taar_assets.partitions import for_each_day, single_run
from taar_assets.io_managers import ArrowTable
from taar_assets.partitions import daily_partitions
from taar_assets.resources import ClientsDailyResource


@dg.asset(
    partitions_def=daily_partitions,
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"json", "parquet"},
)
def amo_whitelist(context: dg.AssetExecutionContext, clients_daily: ClientsDailyResource):
    """The add-on GUIDs that may be recommended (a JSON list of strings at TAAR_WHITELIST)."""

    def compute(day: str):
        guids = clients_daily.load_whitelist()
        context.log.info(f"{day}: whitelist {clients_daily.whitelist} holds {len(guids)} GUIDs")
        return pa.table({"guid": pa.array(guids, pa.string())}), {
            "guids": len(guids),
            "location": clients_daily.whitelist,
        }

    return for_each_day(context, compute)
