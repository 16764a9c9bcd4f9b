"""Stage 5: likelihood-ratio curves: densities of same- and different-cluster donor distances."""

import time

import dagster as dg
import pandas as pd
from pydantic import Field

from taar_assets.defs.daily import for_each_day, on_day, single_run
from taar_assets.io_managers import PandasFrame, provenance
from taar_assets.lib.lr_curves import density_grid, mass_in_range, score_pairs
from taar_assets.lib.plots import lr_curves_markdown
from taar_assets.lib.seeds import partition_seed, stage_rng
from taar_assets.partitions import daily_partitions


class LrCurvesConfig(dg.Config):
    kernel_bandwidth: float = Field(0.35, gt=0, description="Standard deviation of the Gaussian kernel.")
    num_pdf_points: int = Field(1000, ge=2, description="Grid points over [min score, max score].")
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")


@dg.asset(
    partitions_def=daily_partitions,
    group_name="similarity",
    ins={"donor_pool": dg.AssetIn(dagster_type=PandasFrame)},
    dagster_type=PandasFrame,
    backfill_policy=single_run,
    kinds={"scikitlearn", "parquet"},
)
def lr_curves(context: dg.AssetExecutionContext, config: LrCurvesConfig, donor_pool):
    """(x, numerator, denominator): same-cluster and different-cluster distance densities (SPEC §3.5)."""

    def compute(day: str):
        started = time.perf_counter()
        donors: pd.DataFrame = on_day(donor_pool, day)
        scores = score_pairs(donors, stage_rng(partition_seed(day, config.seed), "lr_curves"))
        curves = density_grid(scores, config.kernel_bandwidth, config.num_pdf_points)
        upstream = provenance(donors)
        low, high = float(curves["x"].iloc[0]), float(curves["x"].iloc[-1])
        curves.attrs["provenance"] = {
            **upstream,
            # What each density must integrate to over the grid; checked before publishing.
            "mass_in_range": {
                "numerator": mass_in_range(scores.same, low, high, config.kernel_bandwidth),
                "denominator": mass_in_range(scores.different, low, high, config.kernel_bandwidth),
            },
            "parameters": {
                **upstream.get("parameters", {}),
                "kernel_bandwidth": config.kernel_bandwidth,
                "num_pdf_points": config.num_pdf_points,
            },
        }
        context.log.info(
            f"{day}: {len(scores.same)} same-cluster and {len(scores.different)} different-cluster scores; "
            f"grid {curves['x'].iloc[0]:.4f} .. {curves['x'].iloc[-1]:.4f} ({time.perf_counter() - started:.1f}s)"
        )
        return curves, {
            "points": len(curves),
            "x_min": float(curves["x"].iloc[0]),
            "x_max": float(curves["x"].iloc[-1]),
            "same_cluster_pairs": len(scores.same),
            "different_cluster_pairs": len(scores.different),
            "mean_same_cluster_distance": float(scores.same.mean()),
            "mean_different_cluster_distance": float(scores.different.mean()),
            "plot": dg.MetadataValue.md(lr_curves_markdown(curves)),
        }

    return for_each_day(context, compute)
