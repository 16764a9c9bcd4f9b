"""Stage 6: the published model: donors.json, lr_curves.json and manifest.json for the day."""

import datetime as dt

import dagster as dg

from taar_assets.defs.similarity.checks import failed_checks
from taar_assets.io_managers import ArrowTable, MissingPartitionError, table_type
from taar_assets.partitions import daily_partitions, on_day, single_run
from taar_assets.publishing import ModelPublisher
from taar_assets.resources import Settings
from taar_assets.retries import transient_errors_retried
from taar_assets.similarity import model_files
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        "donor_pool": dg.AssetIn(dagster_type=table_type(DonorPool)),
        "lr_curves": dg.AssetIn(dagster_type=table_type(LrCurves)),
        "amo_whitelist": dg.AssetIn(dagster_type=ArrowTable),
    },
    backfill_policy=single_run,
    # Older than this, the daemon marks the model as failing its freshness (UI: the asset's page).
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=Settings.from_env().model_max_age_hours)),
    kinds={"json", "s3"},
)
def similarity_model(
    context: dg.AssetExecutionContext, publisher: ModelPublisher, donor_pool, lr_curves, amo_whitelist
) -> dg.MaterializeResult:
    """donors.json + lr_curves.json (+ manifest.json), as latest and dated archive copies, for
    each day whose model passes every check."""
    published: dict[str, list[str]] = {"archive": [], "latest": []}
    not_published: dict[str, str] = {}
    with (
        transient_errors_retried(context.retry_number),
        publisher.session(context.run.run_id, log=context.log.warning) as publication,
    ):
        # Days in order, so after a range the latest files are the newest good day's.
        for day in context.partition_keys:
            try:
                pool, curves = on_day(donor_pool, day), on_day(lr_curves, day)
                whitelist = on_day(amo_whitelist, day)
            except MissingPartitionError:
                not_published[day] = "its model was not built (see the run's earlier errors for that day)"
                continue
            failed = failed_checks({"donor_pool": pool, "lr_curves": curves, "amo_whitelist": whitelist})
            if failed:
                not_published[day] = "failed checks: " + "; ".join(f"{name}: {why}" for name, why in failed.items())
                continue
            urls = publication.publish(dt.date.fromisoformat(day), model_files.model_documents(day, pool, curves, publisher.layout))
            published["archive"] += urls["archive"]
            if urls["latest"]:
                context.log.info(f"{day}: published {', '.join(urls['latest'])}")
                published["latest"] = urls["latest"]
            else:
                context.log.info(f"{day}: archived only; the latest files already hold a later day")
    if not_published:
        raise dg.Failure(
            description="not published: " + " | ".join(f"{day}: {why}" for day, why in not_published.items()),
            metadata={"published_archive": dg.MetadataValue.json(published["archive"])},
            allow_retries=False,
        )
    return dg.MaterializeResult(
        metadata={
            "layout": publisher.layout,
            "latest": dg.MetadataValue.json(published["latest"]),
            "archive": dg.MetadataValue.json(published["archive"]),
            "donors_json": dg.MetadataValue.path(publisher.url("donors.json")),
        }
    )
