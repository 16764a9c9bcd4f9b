"""How much the published model moved since the previous day (no Dagster).

Three measures, each 0 when the two days' models are the same:

- `donors_per_cluster`: the total variation distance between the two days' shares of donors
  by cluster label (labels are ranks by size, 0 the biggest, so label i is "the i-th biggest
  taste"); 1 would mean no cluster rank kept any share.
- `lr_curves`: the total variation distance between the two days' densities, each density
  interpolated onto one grid spanning both days' ranges and normalised there; the larger of the
  numerator's and the denominator's. 1 would mean two densities without any overlap.
- `top10_changed_share`: the share of a fixed panel of client profiles whose top 10 changed:
  fewer than half of the add-ons recommended the day before are still among the 10 (order
  aside). Donors are drawn anew every day, so some add-ons always move; the set being exactly
  equal would almost never happen. `mean_top10_overlap` is the mean share still in the 10.

`DriftThresholds` holds the limits past which the drift check warns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves
from taar_assets.similarity.recommender import SimilarityModel

TOP_K = 10
COMPARISON_GRID_POINTS = 2000


@dataclass(frozen=True)
class DriftThresholds:
    """The documented limits: above them the model moved more than a day normally moves it.

    Measured day after day on the demo data (20,000 clients, a new donor draw every day):
    donors per cluster 0.03-0.05, LR curves 0.08-0.12, top 10 changed for 10-12% of the panel
    (a mean of 64-67% of the top 10 kept).
    """

    donors_per_cluster: float = 0.1
    lr_curves: float = 0.2
    top10_changed_share: float = 0.3


@dataclass(frozen=True)
class ModelDrift:
    donors_per_cluster: float
    lr_curves: float
    top10_changed_share: float
    mean_top10_overlap: float
    panel_size: int

    def exceeded(self, thresholds: DriftThresholds) -> dict[str, tuple[float, float]]:
        """{measure: (value, limit)} of the measures past their threshold."""
        return {
            name: (getattr(self, name), limit)
            for name, limit in asdict(thresholds).items()
            if getattr(self, name) > limit
        }


def share_distance(counts: Mapping[object, int], other: Mapping[object, int]) -> float:
    """Total variation distance between two distributions given as counts per label."""
    labels = sorted({*counts, *other}, key=str)
    a = np.array([counts.get(label, 0) for label in labels], dtype=float)
    b = np.array([other.get(label, 0) for label in labels], dtype=float)
    if a.sum() == 0 or b.sum() == 0:
        raise ValueError("cannot compare an empty distribution")
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def curve_distance(curves: pd.DataFrame, other: pd.DataFrame) -> float:
    """The larger total variation distance of the numerators and of the denominators (x, numerator,
    denominator tables as LrCurves holds them), compared on one grid spanning both."""
    grid = np.linspace(
        min(curves["x"].iloc[0], other["x"].iloc[0]), max(curves["x"].iloc[-1], other["x"].iloc[-1]),
        COMPARISON_GRID_POINTS,
    )

    def on_grid(table: pd.DataFrame, column: str) -> np.ndarray:
        density = np.interp(grid, table["x"], table[column], left=0.0, right=0.0)
        return density / density.sum()

    return float(
        max(0.5 * np.abs(on_grid(curves, c) - on_grid(other, c)).sum() for c in ("numerator", "denominator"))
    )


def top_k_overlaps(
    model: SimilarityModel, other: SimilarityModel, panel: Sequence[Mapping], k: int = TOP_K
) -> np.ndarray:
    """Per panel profile, the share of the longer of the two top-k lists that both hold (1 when both are empty)."""
    ours, theirs = model.recommend_batch(panel, limit=k), other.recommend_batch(panel, limit=k)
    overlaps = []
    for mine, yours in zip(ours, theirs):
        a, b = {addon for addon, _ in mine}, {addon for addon, _ in yours}
        overlaps.append(len(a & b) / max(len(a), len(b)) if a or b else 1.0)
    return np.array(overlaps)


def measure_drift(
    pool: DonorPool, curves: LrCurves, previous_pool: DonorPool, previous_curves: LrCurves, panel: Sequence[Mapping]
) -> tuple[ModelDrift, np.ndarray]:
    """The drift of the day's model from the previous day's, and the panel's top-10 overlaps."""
    if not panel:
        raise ValueError("the drift panel holds no profile")
    overlaps = top_k_overlaps(
        SimilarityModel.from_pool(pool, curves), SimilarityModel.from_pool(previous_pool, previous_curves), panel
    )
    drift = ModelDrift(
        donors_per_cluster=share_distance(donors_per_cluster(pool), donors_per_cluster(previous_pool)),
        lr_curves=curve_distance(curves.curves, previous_curves.curves),
        top10_changed_share=float(np.mean(overlaps < 0.5)),
        mean_top10_overlap=float(np.mean(overlaps)),
        panel_size=len(panel),
    )
    return drift, overlaps


def donors_per_cluster(pool: DonorPool) -> dict[int, int]:
    return {int(c): int(n) for c, n in pool.donors["cluster"].value_counts().sort_index().items()}
