"""Stage 1: each client's latest qualifying row in the window ending on the partition day."""

import datetime as dt
import time

import dagster as dg
from pydantic import Field

from taar_assets.engines import Engine
from taar_assets.io_managers import ArrowTable
from taar_assets.partitions import WINDOW_DAYS, daily_partitions, for_each_day, single_run
from taar_assets.resources import ClientsDailyResource
from taar_assets.similarity.input_contract import Window, validate_schemas
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import with_provenance


class SamplesConfig(dg.Config):
    window_days: int = Field(WINDOW_DAYS, ge=1, description="Days of clients_daily read, ending on the partition day.")
    min_addons_exclusive: int = Field(2, ge=0, description="Keep rows with more active add-ons than this.")
    max_addons_exclusive: int = Field(100, ge=1, description="Keep rows with fewer active add-ons than this.")
    require_partition_day: bool = Field(
        True, description="Fail when the partition day itself has no clients_daily folder."
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[
        dg.AssetDep(
            "clients_daily",
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=1 - WINDOW_DAYS, end_offset=0),
        )
    ],
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"parquet"},
)
def samples(
    context: dg.AssetExecutionContext, config: SamplesConfig, clients_daily: ClientsDailyResource, engine: Engine
):
    """Latest release-Firefox row per client over the window, with 2 < add-ons < 100 (docs/behaviour.md §3.1)."""
    rule = SampleRule(config.min_addons_exclusive, config.max_addons_exclusive)

    def compute(day: str):
        started = time.perf_counter()
        window = Window(end=dt.date.fromisoformat(day), days=config.window_days)
        files = clients_daily.window_files(window, require_end_day=config.require_partition_day)
        if files.missing_days:
            context.log.warning(f"{day}: {len(files.missing_days)} day(s) of the window have no clients_daily data")
        validate_schemas(files)
        result = engine.samples(files, rule)
        seconds = time.perf_counter() - started
        clients = f"{result.stats['clients']} clients" if "clients" in result.stats else "clients"
        context.log.info(f"{day}: {clients} sampled from {len(files.files)} files in {seconds:.1f}s")
        input_window = {"start": f"{window.start}", "end": f"{window.end}", "days": window.days}
        return with_provenance(result.value, {"input_window": input_window}), {
            **result.stats,
            "files_read": len(files.files),
            "window": f"{window.start} .. {window.end}",
            "missing_days": len(files.missing_days),
            "seconds": round(seconds, 2),
        }

    return for_each_day(context, compute)
