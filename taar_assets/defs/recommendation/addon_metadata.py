"""The optional add-on metadata input (producer signals for the ranker), snapshotted per day."""

import dagster as dg
import pyarrow as pa

from taar_assets.partitions import daily_partitions, for_each_day, single_run
from taar_assets.io_managers import ArrowTable
from taar_assets.resources import RecommendationInputs


@dg.asset(
    partitions_def=daily_partitions,
    deps=["similarity_model"],  # fitted on the day's model once it is published
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"json", "parquet"},
)
def addon_metadata(context: dg.AssetExecutionContext, recommendation_inputs: RecommendationInputs):
    """Per add-on: producer, audience, ratings, reports and flags (TAAR_ADDON_METADATA; optional).

    Without it the table is empty and the ranker runs with producer boosting off.
    """

    def compute(day: str):
        records = [info.to_record() for info in recommendation_inputs.load_addon_metadata().values()]
        location = recommendation_inputs.addon_metadata or "not configured (TAAR_ADDON_METADATA)"
        context.log.info(f"{day}: add-on metadata {location}: {len(records)} add-ons")
        table = pa.Table.from_pylist(records) if records else pa.table({"guid": pa.array([], pa.string())})
        return table, {
            "addons": len(records),
            "location": location,
            "producer_boosting": "on" if records else "off: no add-on metadata",
        }

    return for_each_day(context, compute)
