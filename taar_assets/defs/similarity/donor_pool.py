"""Stage 4: the donors: an exact number of clients spread over the clusters, made k-anonymous.

The engine counts the clusters and picks each cluster's quota of clients in a seeded hash
order where the clients are; only the donors come into the run's process.
"""

import time

import dagster as dg
from pydantic import Field

from taar_assets.engines import Engine
from taar_assets.io_managers import StoredTableInput, table_type
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.plots import bar_chart_markdown
from taar_assets.similarity.checks import published_values
from taar_assets.similarity.donor_profiles import DonorPool, donor_profiles
from taar_assets.similarity.donors import MIN_DONORS, allocate_donors
from taar_assets.similarity.features import FEATURE_NAMES
from taar_assets.similarity.seeds import partition_seed


class DonorPoolConfig(dg.Config):
    num_donors: int = Field(1000, ge=1, description="Donors to sample; raised to 100 if lower, as the original did.")
    k_anonymity: int = Field(5, ge=1, description="Every (city, os, locale) combination is shared by >= k donors.")
    significant_digits: int = Field(2, ge=1, description="Continuous features are rounded to this many digits.")
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")


@dg.asset(
    partitions_def=daily_partitions,
    ins={name: dg.AssetIn(dagster_type=StoredTableInput) for name in ("samples", "addons_per_client", "clusters")},
    dagster_type=table_type(DonorPool),
    backfill_policy=single_run,
    kinds={"pandas", "parquet"},
)
def donor_pool(
    context: dg.AssetExecutionContext, config: DonorPoolConfig, engine: Engine, samples, addons_per_client, clusters
):
    """The published donors: sample features, valid add-ons and cluster; no client id."""
    num_donors = max(config.num_donors, MIN_DONORS)
    if num_donors != config.num_donors:
        context.log.warning(f"num_donors={config.num_donors} is below {MIN_DONORS}: using {MIN_DONORS}")

    def compute(day: str):
        started = time.perf_counter()
        day_clusters, day_samples = on_day(clusters, day), on_day(samples, day)
        sizes = engine.cluster_sizes(day_clusters)
        seed = f"{partition_seed(day, config.seed)}:donor_pool"
        chosen = engine.select_donors(
            day_clusters, day_samples, on_day(addons_per_client, day), allocate_donors(sizes, num_donors), seed
        )
        donors, replaced = donor_profiles(
            chosen[["client_id", "cluster"]],
            chosen[["client_id", *FEATURE_NAMES]],
            chosen[["client_id", "addon_ids"]],
            k=config.k_anonymity,
            significant_digits=config.significant_digits,
        )
        pool = DonorPool(
            donors=donors,
            num_donors=num_donors,
            k_anonymity=config.k_anonymity,
            significant_digits=config.significant_digits,
            num_clusters=day_clusters.provenance()["parameters"]["num_clusters"],
            cluster_sizes=sizes,
            generalised=replaced,
            input_window=day_samples.provenance()["input_window"],
            client_ids_published=sorted(engine.client_ids_among(day_clusters, published_values(donors))),
        )
        per_cluster = donors["cluster"].value_counts().sort_index()
        context.log.info(
            f"{day}: {len(donors)} donors from {len(per_cluster)} clusters of {pool.clients} clients; "
            f"generalised values {replaced} ({time.perf_counter() - started:.1f}s)"
        )
        return pool, {
            "donors": len(donors),
            "clusters_represented": len(per_cluster),
            "donors_per_cluster": dg.MetadataValue.json({str(c): int(n) for c, n in per_cluster.items()}),
            "donors_per_cluster_chart": dg.MetadataValue.md(
                bar_chart_markdown(per_cluster.to_dict(), "donors per cluster", "cluster")
            ),
            "generalised_values": dg.MetadataValue.json(replaced),
            "preview": dg.MetadataValue.md(donors.drop(columns=["active_addons"]).head(10).to_markdown(index=False)),
        }

    return for_each_day(context, compute)
