"""Stage 1: each client's latest qualifying row in the window ending on the partition day."""

import datetime as dt
import time

import dagster as dg
from pydantic import Field

from taar_assets.defs.daily import for_each_day, single_run
from taar_assets.engines import Engine, SparkEngine
from taar_assets.io_managers import ArrowTable, hadoop_url, with_provenance
from taar_assets.lib.clients_daily import (
    Window,
    WindowFiles,
    build_samples,
    validate_schemas,
)
from taar_assets.partitions import WINDOW_DAYS, daily_partitions
from taar_assets.resources import ClientsDailyResource


class SamplesConfig(dg.Config):
    window_days: int = Field(WINDOW_DAYS, ge=1, description="Days of clients_daily read, ending on the partition day.")
    min_addons_exclusive: int = Field(2, ge=0, description="Keep rows with more active add-ons than this.")
    max_addons_exclusive: int = Field(100, ge=1, description="Keep rows with fewer active add-ons than this.")
    require_partition_day: bool = Field(
        True, description="Fail when the partition day itself has no clients_daily folder."
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="similarity",
    deps=[
        dg.AssetDep(
            "clients_daily",
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=1 - WINDOW_DAYS, end_offset=0),
        )
    ],
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"duckdb", "parquet"},
)
def samples(
    context: dg.AssetExecutionContext, config: SamplesConfig, clients_daily: ClientsDailyResource, engine: Engine
):
    """Latest release-Firefox row per client over the window, with 2 < add-ons < 100 (SPEC §3.1)."""

    def compute(day: str):
        started = time.perf_counter()
        window = Window(end=dt.date.fromisoformat(day), days=config.window_days)
        files = clients_daily.window_files(window, require_end_day=config.require_partition_day)
        if files.missing_days:
            context.log.warning(f"{day}: {len(files.missing_days)} day(s) of the window have no clients_daily data")
        validate_schemas(files)
        input_window = {"start": f"{window.start}", "end": f"{window.end}", "days": window.days}
        metadata = {
            "files_read": len(files.files),
            "window": f"{window.start} .. {window.end}",
            "missing_days": len(files.missing_days),
        }
        if isinstance(engine, SparkEngine):
            # Spark computes the samples as the IO manager writes them, and its row count is the
            # number of clients: counting here first would compute them twice.
            context.log.info(f"{day}: sampling {len(files.files)} files on Spark")
            return with_provenance(_spark_samples(engine, files, config), {"input_window": input_window}), metadata
        table = build_samples(
            files,
            min_addons_exclusive=config.min_addons_exclusive,
            max_addons_exclusive=config.max_addons_exclusive,
            memory_limit=clients_daily.duckdb_memory_limit,
        )
        seconds = time.perf_counter() - started
        context.log.info(f"{day}: {table.num_rows} clients sampled from {len(files.files)} files in {seconds:.1f}s")
        table = with_provenance(table, {"input_window": input_window})
        return table, {"clients": table.num_rows, **metadata, "seconds": round(seconds, 2)}

    return for_each_day(context, compute)


def _spark_samples(engine: SparkEngine, files: WindowFiles, config: SamplesConfig):
    from taar_assets.lib.spark_stages import spark_samples

    return spark_samples(
        engine.session(),
        [hadoop_url(path) for path in files.files],
        min_addons_exclusive=config.min_addons_exclusive,
        max_addons_exclusive=config.max_addons_exclusive,
    )
