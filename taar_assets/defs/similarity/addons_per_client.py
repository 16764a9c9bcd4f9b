"""Stage 2: each sampled client's valid, whitelisted add-ons."""

import time

import dagster as dg
import pyarrow.compute as pc
from pydantic import Field

from taar_assets.defs.daily import for_each_day, on_day, single_run
from taar_assets.engines import Engine, SparkEngine
from taar_assets.io_managers import ArrowTable, StoredTable, StoredTableInput
from taar_assets.lib.addons import valid_addons_per_client
from taar_assets.partitions import daily_partitions


class AddonsConfig(dg.Config):
    min_valid_addons_exclusive: int = Field(2, ge=0, description="Keep clients with more valid add-ons than this.")


@dg.asset(
    partitions_def=daily_partitions,
    group_name="similarity",
    ins={
        "samples": dg.AssetIn(dagster_type=StoredTableInput, metadata={"columns": ["client_id", "active_addons"]}),
        "amo_whitelist": dg.AssetIn(dagster_type=ArrowTable),
    },
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"pyarrow", "parquet"},
)
def addons_per_client(context: dg.AssetExecutionContext, config: AddonsConfig, engine: Engine, samples, amo_whitelist):
    """(client_id, addon_ids): enabled, non-system, non-foreign whitelisted extensions (SPEC §3.2)."""

    def compute(day: str):
        started = time.perf_counter()
        stored_samples: StoredTable = on_day(samples, day)
        whitelist = frozenset(on_day(amo_whitelist, day).column("guid").to_pylist())
        if isinstance(engine, SparkEngine):
            table, stats = _spark_addons(engine, stored_samples, whitelist, config)
        else:
            day_samples = stored_samples.read()
            table = valid_addons_per_client(day_samples, whitelist, config.min_valid_addons_exclusive)
            counts = pc.list_value_length(table.column("addon_ids"))
            stats = {
                "clients_in": day_samples.num_rows,
                "clients_out": table.num_rows,
                "mean_valid_addons": round(pc.mean(counts).as_py() or 0.0, 2),
                "distinct_addons": len(pc.unique(pc.list_flatten(table.column("addon_ids")))),
            }
        context.log.info(
            f"{day}: {stats['clients_out']} of {stats['clients_in']} clients have more than "
            f"{config.min_valid_addons_exclusive} valid add-ons ({time.perf_counter() - started:.1f}s)"
        )
        return table, stats

    return for_each_day(context, compute)


def _spark_addons(engine: SparkEngine, stored_samples: StoredTable, whitelist: frozenset[str], config: AddonsConfig):
    """The valid add-ons as a cached Spark DataFrame (the IO manager writes it), and the same stats."""
    from pyspark.sql import functions as F

    from taar_assets.lib.spark_stages import spark_valid_addons

    day_samples = engine.session().read.parquet(stored_samples.url)
    frame = spark_valid_addons(day_samples, whitelist, config.min_valid_addons_exclusive).persist()
    summary = frame.agg(F.count("*").alias("clients"), F.avg(F.size("addon_ids")).alias("mean")).first()
    return frame, {
        "clients_in": day_samples.count(),
        "clients_out": summary["clients"],
        "mean_valid_addons": round(summary["mean"] or 0.0, 2),
        "distinct_addons": frame.select(F.explode("addon_ids")).distinct().count(),
    }
