"""Stage 2: each sampled client's valid, whitelisted add-ons."""

import time

import dagster as dg
from pydantic import Field

from taar_assets.engines import Engine
from taar_assets.io_managers import ArrowTable, StoredTableInput
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run


class AddonsConfig(dg.Config):
    min_valid_addons_exclusive: int = Field(2, ge=0, description="Keep clients with more valid add-ons than this.")


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        "samples": dg.AssetIn(dagster_type=StoredTableInput),
        "amo_whitelist": dg.AssetIn(dagster_type=ArrowTable),
    },
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"parquet"},
)
def addons_per_client(context: dg.AssetExecutionContext, config: AddonsConfig, engine: Engine, samples, amo_whitelist):
    """(client_id, addon_ids): enabled, non-system, non-foreign whitelisted extensions (docs/behaviour.md §3.2)."""

    def compute(day: str):
        started = time.perf_counter()
        whitelist = frozenset(on_day(amo_whitelist, day).column("guid").to_pylist())
        result = engine.valid_addons(on_day(samples, day), whitelist, config.min_valid_addons_exclusive)
        context.log.info(
            f"{day}: valid add-ons of {result.stats['clients_in']} clients against {len(whitelist)} whitelisted "
            f"GUIDs; clients with more than {config.min_valid_addons_exclusive} are kept "
            f"({time.perf_counter() - started:.1f}s)"
        )
        return result.value, result.stats

    return for_each_day(context, compute)
