"""Stage 2: each sampled client's valid, whitelisted add-ons."""

import time

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from taar_assets.defs.daily import for_each_day, on_day, single_run
from taar_assets.io_managers import ArrowTable
from taar_assets.lib.addons import valid_addons_per_client
from taar_assets.partitions import daily_partitions


class AddonsConfig(dg.Config):
    min_valid_addons_exclusive: int = Field(2, ge=0, description="Keep clients with more valid add-ons than this.")


@dg.asset(
    partitions_def=daily_partitions,
    group_name="similarity",
    ins={
        "samples": dg.AssetIn(dagster_type=ArrowTable, metadata={"columns": ["client_id", "active_addons"]}),
        "amo_whitelist": dg.AssetIn(dagster_type=ArrowTable),
    },
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"pyarrow", "parquet"},
)
def addons_per_client(context: dg.AssetExecutionContext, config: AddonsConfig, samples, amo_whitelist):
    """(client_id, addon_ids): enabled, non-system, non-foreign whitelisted extensions (SPEC §3.2)."""

    def compute(day: str):
        started = time.perf_counter()
        day_samples: pa.Table = on_day(samples, day)
        whitelist = frozenset(on_day(amo_whitelist, day).column("guid").to_pylist())
        table = valid_addons_per_client(day_samples, whitelist, config.min_valid_addons_exclusive)
        counts = pc.list_value_length(table.column("addon_ids"))
        context.log.info(
            f"{day}: {table.num_rows} of {day_samples.num_rows} clients have more than "
            f"{config.min_valid_addons_exclusive} valid add-ons ({time.perf_counter() - started:.1f}s)"
        )
        return table, {
            "clients_in": day_samples.num_rows,
            "clients_out": table.num_rows,
            "mean_valid_addons": round(pc.mean(counts).as_py() or 0.0, 2),
            "distinct_addons": len(pc.unique(pc.list_flatten(table.column("addon_ids")))),
        }

    return for_each_day(context, compute)
