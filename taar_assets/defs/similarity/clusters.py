"""Stage 3: clients clustered by their add-on sets (hashed TF, IDF, bisecting k-means)."""

import time

import dagster as dg
import numpy as np
import pyarrow as pa
from pydantic import Field

from taar_assets.defs.daily import for_each_day, on_day, single_run
from taar_assets.engines import Engine, SparkEngine
from taar_assets.io_managers import (
    ArrowTable,
    StoredTable,
    StoredTableInput,
    with_provenance,
)
from taar_assets.lib.clustering import cluster_clients
from taar_assets.lib.plots import bar_chart_markdown
from taar_assets.lib.seeds import partition_seed, stage_seed
from taar_assets.partitions import daily_partitions


class ClustersConfig(dg.Config):
    num_clusters: int = Field(20, ge=2, description="k of bisecting k-means.")
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")


@dg.asset(
    partitions_def=daily_partitions,
    group_name="similarity",
    ins={"addons_per_client": dg.AssetIn(dagster_type=StoredTableInput)},
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"numpy", "parquet"},
)
def clusters(context: dg.AssetExecutionContext, config: ClustersConfig, engine: Engine, addons_per_client):
    """(client_id, cluster): cluster 0 is the biggest (SPEC §3.3)."""

    def compute(day: str):
        started = time.perf_counter()
        stored: StoredTable = on_day(addons_per_client, day)
        seed = stage_seed(partition_seed(day, config.seed), "clusters")
        if isinstance(engine, SparkEngine):
            from taar_assets.lib.spark_stages import spark_clusters

            addons = engine.session().read.parquet(stored.url)
            table, cluster_sizes = spark_clusters(addons, config.num_clusters, seed)
            sizes = np.array(cluster_sizes)
        else:
            clients: pa.Table = stored.read()
            labels = cluster_clients(clients.column("addon_ids"), config.num_clusters, seed)
            sizes = np.bincount(labels, minlength=config.num_clusters)
            table = pa.table({"client_id": clients.column("client_id"), "cluster": pa.array(labels, pa.int32())})
        total = int(sizes.sum())
        context.log.info(
            f"{day}: {total} clients in {int((sizes > 0).sum())} clusters, sizes {sizes.tolist()} "
            f"({time.perf_counter() - started:.1f}s)"
        )
        table = with_provenance(table, {"parameters": {"num_clusters": config.num_clusters}})
        return table, {
            "clients": total,
            "non_empty_clusters": int((sizes > 0).sum()),
            "cluster_sizes": dg.MetadataValue.json({str(c): int(n) for c, n in enumerate(sizes)}),
            "largest_cluster_share": round(float(sizes.max() / max(total, 1)), 3),
            "cluster_size_histogram": dg.MetadataValue.md(
                bar_chart_markdown(dict(enumerate(sizes.tolist())), "clients per cluster", "cluster")
            ),
        }

    return for_each_day(context, compute)
