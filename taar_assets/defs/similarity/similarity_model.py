"""Stage 6: the published model: donors.json, lr_curves.json and manifest.json for the day."""

import datetime as dt

import dagster as dg

from taar_assets.io_managers import table_type
from taar_assets.partitions import daily_partitions, on_day, single_run
from taar_assets.publishing import ModelPublisher
from taar_assets.retries import transient_errors_retried
from taar_assets.similarity import model_files
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        "donor_pool": dg.AssetIn(dagster_type=table_type(DonorPool)),
        "lr_curves": dg.AssetIn(dagster_type=table_type(LrCurves)),
    },
    backfill_policy=single_run,
    kinds={"json", "s3"},
)
def similarity_model(
    context: dg.AssetExecutionContext, publisher: ModelPublisher, donor_pool, lr_curves
) -> dg.MaterializeResult:
    """donors.json + lr_curves.json (+ manifest.json), as latest and dated archive copies."""
    published: dict[str, list[str]] = {"archive": [], "latest": []}
    with (
        transient_errors_retried(context.retry_number),
        publisher.session(context.run.run_id, log=context.log.warning) as publication,
    ):
        # Days in order, so after a range the latest files are the last day's.
        for day in context.partition_keys:
            files = model_files.model_documents(day, on_day(donor_pool, day), on_day(lr_curves, day), publisher.layout)
            urls = publication.publish(dt.date.fromisoformat(day), files)
            published["archive"] += urls["archive"]
            if urls["latest"]:
                context.log.info(f"{day}: published {', '.join(urls['latest'])}")
                published["latest"] = urls["latest"]
            else:
                context.log.info(f"{day}: archived only; the latest files already hold a later day")
    return dg.MaterializeResult(
        metadata={
            "layout": publisher.layout,
            "latest": dg.MetadataValue.json(published["latest"]),
            "archive": dg.MetadataValue.json(published["archive"]),
            "donors_json": dg.MetadataValue.path(publisher.url("donors.json")),
        }
    )
