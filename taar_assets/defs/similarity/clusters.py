"""Stage 3: clients clustered by their add-on sets (hashed TF, IDF, bisecting k-means)."""

import time

import dagster as dg
from pydantic import Field

from taar_assets.engines import Engine
from taar_assets.io_managers import ArrowTable, StoredTableInput
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.plots import bar_chart_markdown
from taar_assets.similarity.seeds import partition_seed, stage_seed
from taar_assets.storage import with_provenance


class ClustersConfig(dg.Config):
    num_clusters: int = Field(20, ge=2, description="k of bisecting k-means.")
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")


@dg.asset(
    partitions_def=daily_partitions,
    ins={"addons_per_client": dg.AssetIn(dagster_type=StoredTableInput)},
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"parquet"},
)
def clusters(context: dg.AssetExecutionContext, config: ClustersConfig, engine: Engine, addons_per_client):
    """(client_id, cluster): cluster 0 is the biggest (docs/behaviour.md §3.3)."""

    def compute(day: str):
        started = time.perf_counter()
        seed = stage_seed(partition_seed(day, config.seed), "clusters")
        result = engine.clusters(on_day(addons_per_client, day), config.num_clusters, seed)
        sizes = result.stats["sizes"]
        total, non_empty = sum(sizes), sum(1 for size in sizes if size > 0)
        context.log.info(
            f"{day}: {total} clients in {non_empty} clusters, sizes {sizes} ({time.perf_counter() - started:.1f}s)"
        )
        table = with_provenance(result.value, {"parameters": {"num_clusters": config.num_clusters}})
        return table, {
            "clients": total,
            "non_empty_clusters": non_empty,
            "cluster_sizes": dg.MetadataValue.json({str(c): int(n) for c, n in enumerate(sizes)}),
            "largest_cluster_share": round(max(sizes) / max(total, 1), 3),
            "cluster_size_histogram": dg.MetadataValue.md(
                bar_chart_markdown(dict(enumerate(sizes)), "clients per cluster", "cluster")
            ),
        }

    return for_each_day(context, compute)
