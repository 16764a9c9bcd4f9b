"""How much the day's model moved since the previous day's, with charts and a warning check."""

import datetime as dt
import warnings

import dagster as dg
import pandas as pd
from pydantic import Field

from taar_assets.io_managers import LazyPartitions, MissingPartitionError, PandasFrame, table_type
from taar_assets.monitoring.drift import DriftThresholds, donors_per_cluster, measure_drift
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.plots import histogram_markdown, log_ratio_curves_markdown, paired_bar_chart_markdown
from taar_assets.resources import DriftPanel
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves

warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*allow_nonexistent_upstream_partitions.*")
# The day and the day before it (none before the first partition).
DAY_AND_PREVIOUS = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)
DEFAULTS = DriftThresholds()


class DriftConfig(dg.Config):
    donors_per_cluster_threshold: float = Field(
        DEFAULTS.donors_per_cluster, ge=0, le=1, description="Warn above this distance between the shares of donors per cluster."
    )
    lr_curves_threshold: float = Field(
        DEFAULTS.lr_curves, ge=0, le=1, description="Warn above this distance between the LR-curve densities."
    )
    top10_changed_share_threshold: float = Field(
        DEFAULTS.top10_changed_share, ge=0, le=1, description="Warn above this share of panel clients whose top 10 changed."
    )

    def thresholds(self) -> DriftThresholds:
        return DriftThresholds(
            self.donors_per_cluster_threshold, self.lr_curves_threshold, self.top10_changed_share_threshold
        )


def _stored(upstream, day: str):
    """The upstream value of `day`, or None when that day was never built."""
    try:
        return upstream[day] if isinstance(upstream, LazyPartitions) else None
    except (KeyError, MissingPartitionError):
        return None


@dg.asset(
    partitions_def=daily_partitions,
    deps=["similarity_model"],
    ins={
        "donor_pool": dg.AssetIn(dagster_type=table_type(DonorPool), partition_mapping=DAY_AND_PREVIOUS),
        "lr_curves": dg.AssetIn(dagster_type=table_type(LrCurves), partition_mapping=DAY_AND_PREVIOUS),
    },
    dagster_type=PandasFrame,
    backfill_policy=single_run,
    kinds={"pandas", "parquet"},
)
def model_drift(context: dg.AssetExecutionContext, config: DriftConfig, drift_panel: DriftPanel, donor_pool, lr_curves):
    """(measure, value, threshold) of the day's model against the previous day's: donors per cluster,
    LR-curve distance, share of a fixed panel of clients whose top 10 changed (README: Monitoring)."""
    panel = drift_panel.load()
    thresholds = config.thresholds()

    def compute(day: str):
        previous = f"{dt.date.fromisoformat(day) - dt.timedelta(days=1)}"
        pool, curves = on_day(donor_pool, day), on_day(lr_curves, day)
        previous_pool, previous_curves = _stored(donor_pool, previous), _stored(lr_curves, previous)
        if previous_pool is None or previous_curves is None:
            context.log.warning(f"{day}: no model for {previous} to compare with")
            table = pd.DataFrame({"measure": [], "value": [], "threshold": []})
            return table, {"previous_day": f"{previous}: not built", "exceeded": dg.MetadataValue.json([])}
        drift, overlaps = measure_drift(pool, curves, previous_pool, previous_curves, panel)
        exceeded = drift.exceeded(thresholds)
        limits = vars(thresholds)
        table = pd.DataFrame(
            {"measure": list(limits), "value": [getattr(drift, name) for name in limits], "threshold": list(limits.values())}
        )
        context.log.info(
            f"{day} vs {previous}: donors per cluster {drift.donors_per_cluster:.3f}, LR curves {drift.lr_curves:.3f}, "
            f"top 10 changed for {drift.top10_changed_share:.0%} of {drift.panel_size} panel clients"
        )
        labels = (day, previous)
        return table, {
            "previous_day": previous,
            **{name: dg.MetadataValue.float(round(getattr(drift, name), 4)) for name in limits},
            "mean_top10_overlap": dg.MetadataValue.float(round(drift.mean_top10_overlap, 4)),
            "panel_size": drift.panel_size,
            "exceeded": dg.MetadataValue.json(sorted(exceeded)),
            "donors_per_cluster_chart": dg.MetadataValue.md(
                paired_bar_chart_markdown(
                    donors_per_cluster(pool), donors_per_cluster(previous_pool), labels, "donors per cluster", "cluster"
                )
            ),
            "lr_curves_chart": dg.MetadataValue.md(
                log_ratio_curves_markdown({day: curves.curves, previous: previous_curves.curves}, "LR curves")
            ),
            "top10_overlap_chart": dg.MetadataValue.md(
                histogram_markdown(overlaps, 10, "top 10 kept per panel client", "share of the previous day's top 10 still in it")
            ),
        }

    return for_each_day(context, compute)


@dg.asset_check(
    asset=model_drift,
    description="The model moved no more than its documented thresholds since the previous day (warns; never blocks).",
    partitions_def=daily_partitions,
    blocking=False,
)
def drift_within_thresholds(context: dg.AssetCheckExecutionContext, model_drift):
    exceeded, compared = {}, []
    for day in context.partition_keys:
        table = on_day(model_drift, day).to_pandas()
        compared += [day] if len(table) else []
        for row in table.itertuples():
            if row.value > row.threshold:
                exceeded[f"{day} {row.measure}"] = f"{row.value:.3f} > {row.threshold:.3f}"
    return dg.AssetCheckResult(
        passed=not exceeded,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"exceeded": dg.MetadataValue.json(exceeded), "days_compared": dg.MetadataValue.json(compared)},
    )
