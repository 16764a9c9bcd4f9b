"""Stage 5: likelihood-ratio curves: densities of same- and different-cluster donor distances."""

import time

import dagster as dg
from pydantic import Field

from taar_assets.io_managers import table_type
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.plots import lr_curves_markdown
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves, score_pairs
from taar_assets.similarity.seeds import partition_seed, stage_rng


class LrCurvesConfig(dg.Config):
    kernel_bandwidth: float = Field(
        0.1,
        gt=0,
        description="Standard deviation of the Gaussian kernel: well below the span of small distances (about 0.4) "
        "where same-cluster pairs gather, so the ratio at distance 0 (every categorical equal) stays its own.",
    )
    num_pdf_points: int = Field(1000, ge=2, description="Grid points over [min score, max score].")
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")


@dg.asset(
    partitions_def=daily_partitions,
    ins={"donor_pool": dg.AssetIn(dagster_type=table_type(DonorPool))},
    dagster_type=table_type(LrCurves),
    backfill_policy=single_run,
    kinds={"scikitlearn", "parquet"},
)
def lr_curves(context: dg.AssetExecutionContext, config: LrCurvesConfig, donor_pool):
    """(x, numerator, denominator): same-cluster and different-cluster distance densities (docs/behaviour.md §3.6)."""

    def compute(day: str):
        started = time.perf_counter()
        pool: DonorPool = on_day(donor_pool, day)
        scores = score_pairs(pool.donors, stage_rng(partition_seed(day, config.seed), "lr_curves"))
        learnt = LrCurves.learn(scores, config.kernel_bandwidth, config.num_pdf_points)
        x = learnt.curves["x"]
        context.log.info(
            f"{day}: {len(scores.same)} same-cluster and {len(scores.different)} different-cluster scores; "
            f"grid {x.iloc[0]:.4f} .. {x.iloc[-1]:.4f} ({time.perf_counter() - started:.1f}s)"
        )
        return learnt, {
            "points": len(learnt.curves),
            "x_min": float(x.iloc[0]),
            "x_max": float(x.iloc[-1]),
            "same_cluster_pairs": len(scores.same),
            "different_cluster_pairs": len(scores.different),
            "mean_same_cluster_distance": float(scores.same.mean()),
            "mean_different_cluster_distance": float(scores.different.mean()),
            "plot": dg.MetadataValue.md(lr_curves_markdown(learnt.curves)),
        }

    return for_each_day(context, compute)
