"""Stage 4: the donors: an exact number of clients spread over the clusters, made k-anonymous."""

import time

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from taar_assets.io_managers import ArrowTable, table_type
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.plots import bar_chart_markdown
from taar_assets.similarity.donor_profiles import DonorPool, donor_profiles
from taar_assets.similarity.donors import MIN_DONORS, sample_donors
from taar_assets.similarity.features import FEATURE_NAMES
from taar_assets.similarity.seeds import partition_seed, stage_rng
from taar_assets.storage import provenance


class DonorPoolConfig(dg.Config):
    num_donors: int = Field(1000, ge=1, description="Donors to sample; raised to 100 if lower, as the original did.")
    k_anonymity: int = Field(5, ge=1, description="Every (city, os, locale) combination is shared by >= k donors.")
    significant_digits: int = Field(2, ge=1, description="Continuous features are rounded to this many digits.")
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        # Everything but the raw add-on lists, which the donors take from addons_per_client.
        "samples": dg.AssetIn(dagster_type=ArrowTable, metadata={"columns": ["client_id", *FEATURE_NAMES]}),
        "addons_per_client": dg.AssetIn(dagster_type=ArrowTable),
        "clusters": dg.AssetIn(dagster_type=ArrowTable),
    },
    dagster_type=table_type(DonorPool),
    backfill_policy=single_run,
    kinds={"pandas", "parquet"},
)
def donor_pool(context: dg.AssetExecutionContext, config: DonorPoolConfig, samples, addons_per_client, clusters):
    """The published donors: sample features, valid add-ons and cluster; no client id (docs/behaviour.md §3.4)."""
    num_donors = max(config.num_donors, MIN_DONORS)
    if num_donors != config.num_donors:
        context.log.warning(f"num_donors={config.num_donors} is below {MIN_DONORS}: using {MIN_DONORS}")

    def compute(day: str):
        started = time.perf_counter()
        day_clusters: pa.Table = on_day(clusters, day)
        clustered = day_clusters.to_pandas()
        chosen = sample_donors(clustered, num_donors, stage_rng(partition_seed(day, config.seed), "donor_pool"))
        chosen_ids = pa.array(chosen["client_id"].tolist(), pa.string())
        day_samples: pa.Table = on_day(samples, day)
        day_addons: pa.Table = on_day(addons_per_client, day)
        features = day_samples.filter(pc.is_in(day_samples.column("client_id"), value_set=chosen_ids)).to_pandas()
        addons = day_addons.filter(pc.is_in(day_addons.column("client_id"), value_set=chosen_ids)).to_pandas()
        donors, replaced = donor_profiles(
            chosen, features, addons, k=config.k_anonymity, significant_digits=config.significant_digits
        )
        pool = DonorPool(
            donors=donors,
            num_donors=num_donors,
            k_anonymity=config.k_anonymity,
            significant_digits=config.significant_digits,
            num_clusters=provenance(day_clusters)["parameters"]["num_clusters"],
            cluster_sizes={int(c): int(n) for c, n in clustered["cluster"].value_counts().sort_index().items()},
            generalised=replaced,
            input_window=provenance(day_samples)["input_window"],
        )
        per_cluster = donors["cluster"].value_counts().sort_index()
        context.log.info(
            f"{day}: {len(donors)} donors from {len(per_cluster)} clusters; generalised values {replaced} "
            f"({time.perf_counter() - started:.1f}s)"
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
