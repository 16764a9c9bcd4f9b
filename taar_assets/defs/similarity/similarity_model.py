"""Stage 6: the published model: donors.json, lr_curves.json and manifest.json for the day."""

import datetime as dt

import dagster as dg
import pandas as pd

from taar_assets.defs.daily import on_day, single_run
from taar_assets.io_managers import PandasFrame, provenance
from taar_assets.lib import model_files
from taar_assets.lib.lr_curves import lr_curves_as_json
from taar_assets.partitions import daily_partitions
from taar_assets.publishing import ModelPublisher


def model_documents(day: str, donors: pd.DataFrame, curves: pd.DataFrame, layout: str) -> dict[str, bytes]:
    """The three files' bytes; the manifest carries the others' checksums."""
    files = {
        "donors": model_files.to_json_bytes(model_files.donor_records(donors, layout)),
        "lr_curves": model_files.to_json_bytes(lr_curves_as_json(curves)),
    }
    lineage = provenance(curves)
    manifest = model_files.build_manifest(
        day=day,
        layout=layout,
        files={f"{name}.json": data for name, data in files.items()},
        counts={
            "donors": len(donors),
            "clusters": int(donors["cluster"].nunique()),
            "lr_curve_points": len(curves),
        },
        parameters=lineage.get("parameters", {}),
        input_window=lineage.get("input_window", {}),
    )
    return {**files, "manifest": model_files.to_json_bytes(manifest)}


@dg.asset(
    partitions_def=daily_partitions,
    group_name="similarity",
    ins={
        "donor_pool": dg.AssetIn(dagster_type=PandasFrame),
        "lr_curves": dg.AssetIn(dagster_type=PandasFrame),
    },
    backfill_policy=single_run,
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
    kinds={"json", "s3"},
)
def similarity_model(
    context: dg.AssetExecutionContext, publisher: ModelPublisher, donor_pool, lr_curves
) -> dg.MaterializeResult:
    """donors.json + lr_curves.json (+ manifest.json), as latest and dated archive copies."""
    published: dict[str, list[str]] = {"archive": [], "latest": []}
    # Days in order, so after a range the latest files are the last day's.
    for day in context.partition_keys:
        files = model_documents(day, on_day(donor_pool, day), on_day(lr_curves, day), publisher.layout)
        urls = publisher.publish(dt.date.fromisoformat(day), files)
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
