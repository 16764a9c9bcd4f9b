"""Likelihood-ratio curves: distance densities of same-cluster and different-cluster pairs.

docs/behaviour.md §3.6, with the original's defects fixed (section 7): the pairs with other
clusters are drawn at random (the original took the first rows), the grid has exactly
``num_points`` points spanning [min, max] (the original's ``arange`` excluded max and could
give one point too many), and degenerate score sets raise a clear error instead of giving NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.stats import norm
from sklearn.neighbors import KernelDensity

from taar_assets.similarity.distance import feature_matrices, paired_distances
from taar_assets.storage import record_of, with_record


class DegenerateScoresError(ValueError):
    """The scores cannot give meaningful curves (an empty set, or all scores equal)."""


@dataclass(frozen=True)
class ScoreSets:
    """Distances of same-cluster pairs and of different-cluster pairs."""

    same: np.ndarray
    different: np.ndarray


def score_pairs(donors: pd.DataFrame, rng: np.random.Generator, cluster_column: str = "cluster") -> ScoreSets:
    """Score same-cluster and different-cluster donor pairs.

    For each cluster c, in sorted order: c's donors are shuffled and split into two halves,
    and the i-th donor of one half is paired with the i-th of the other (a cluster of n
    donors gives n // 2 same-cluster pairs). Each of c's donors is also paired with a donor
    drawn at random from the other clusters: without replacement when the other clusters
    have enough donors, otherwise using every other donor as evenly as possible. The
    distance features are read with :func:`feature_matrices` (default column names).
    Reproducible for a given ``rng`` state and row order of ``donors``.
    """
    if not isinstance(donors, pd.DataFrame):
        raise TypeError(f"donors must be a pandas DataFrame, got {type(donors).__name__}")
    if cluster_column not in donors.columns:
        raise ValueError(f"donors has no cluster column {cluster_column!r}; it has {list(donors.columns)}")
    if donors[cluster_column].isna().any():
        raise ValueError(f"donors.{cluster_column} has null values")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    categorical, continuous = feature_matrices(donors)

    cluster_codes, cluster_labels = pd.factorize(donors[cluster_column], sort=True)
    same_left, same_right, different_left, different_right = [], [], [], []
    for code in range(len(cluster_labels)):
        members = np.flatnonzero(cluster_codes == code)
        others = np.flatnonzero(cluster_codes != code)

        shuffled = rng.permutation(members)
        half = len(shuffled) // 2
        same_left.append(shuffled[:half])
        same_right.append(shuffled[half : 2 * half])

        if len(others):
            # Enough shuffled copies of the other donors to cover every member: one copy
            # (no repeats) whenever the other clusters are at least as big as this one.
            copies = -(-len(members) // len(others))
            draws = rng.permuted(np.tile(others, (copies, 1)), axis=1).ravel()[: len(members)]
            different_left.append(members)
            different_right.append(draws)

    def distances(left: list[np.ndarray], right: list[np.ndarray]) -> np.ndarray:
        left_rows = np.concatenate(left) if left else np.empty(0, dtype=np.intp)
        right_rows = np.concatenate(right) if right else np.empty(0, dtype=np.intp)
        return paired_distances(
            categorical[left_rows], continuous[left_rows], categorical[right_rows], continuous[right_rows]
        )

    return ScoreSets(
        same=distances(same_left, same_right), different=distances(different_left, different_right)
    )


def density_grid(scores: ScoreSets, bandwidth: float, num_points: int) -> pd.DataFrame:
    """Gaussian kernel densities of both score sets on an even grid.

    Returns a DataFrame with exactly ``num_points`` rows and columns ``x`` (evenly spaced
    from the smallest to the largest of all scores, both ends included), ``numerator``
    (density of the same-cluster scores) and ``denominator`` (density of the
    different-cluster scores). ``bandwidth`` is the kernel's standard deviation h:
    density(x) = mean over scores s of phi((x - s) / h) / h.

    Raises DegenerateScoresError when a score set is empty or all scores are equal, and
    ValueError for a non-positive bandwidth, fewer than 2 points or non-finite scores.
    """
    if not isinstance(scores, ScoreSets):
        raise TypeError(f"scores must be a ScoreSets, got {type(scores).__name__}")
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float, np.number)) or not bandwidth > 0:
        raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}")
    if not np.isfinite(bandwidth):
        raise ValueError(f"bandwidth must be finite, got {bandwidth!r}")
    if isinstance(num_points, bool) or not isinstance(num_points, (int, np.integer)) or num_points < 2:
        raise ValueError(f"num_points must be an integer >= 2, got {num_points!r}")
    same = np.asarray(scores.same, dtype=np.float64).ravel()
    different = np.asarray(scores.different, dtype=np.float64).ravel()
    for name, values in (("same", same), ("different", different)):
        if not np.isfinite(values).all():
            raise ValueError(f"scores.{name} contains NaN or infinite values")
    if len(same) == 0:
        raise DegenerateScoresError(
            "no same-cluster pairs: every cluster has a single donor, so the numerator "
            "density is undefined (use more donors or fewer clusters)"
        )
    if len(different) == 0:
        raise DegenerateScoresError(
            "no different-cluster pairs: all donors are in one cluster, so the denominator "
            "density is undefined (use at least two clusters)"
        )
    all_scores = np.concatenate([same, different])
    low, high = all_scores.min(), all_scores.max()
    if low == high:
        raise DegenerateScoresError(
            f"all {len(all_scores)} scores equal {low}: the curves cannot separate same-cluster "
            "from different-cluster pairs (the donors' features do not vary)"
        )

    grid = np.linspace(low, high, num_points)
    curves = pd.DataFrame(
        {
            "x": grid,
            "numerator": _gaussian_density(same, grid, bandwidth),
            "denominator": _gaussian_density(different, grid, bandwidth),
        }
    )
    if not np.isfinite(curves.to_numpy()).all():
        raise DegenerateScoresError(
            f"bandwidth {bandwidth!r} gives non-finite densities for scores in [{low}, {high}]"
        )
    return curves


def lr_curves_as_json(curves: pd.DataFrame) -> list[list]:
    """``[[x, [numerator, denominator]], ...]`` with plain Python floats, ready for json.dumps."""
    if not isinstance(curves, pd.DataFrame):
        raise TypeError(f"curves must be a pandas DataFrame, got {type(curves).__name__}")
    missing = [name for name in ("x", "numerator", "denominator") if name not in curves.columns]
    if missing:
        raise ValueError(f"curves is missing column(s) {missing}; it has {list(curves.columns)}")
    columns = [curves[name].to_numpy(dtype=np.float64).tolist() for name in ("x", "numerator", "denominator")]
    return [[x, [numerator, denominator]] for x, numerator, denominator in zip(*columns)]


def _gaussian_density(samples: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    # With the default atol = rtol = 0, sklearn's tree-based estimate is exact, and its
    # Gaussian kernel with this bandwidth is phi((x - s) / h) / h averaged over samples.
    estimator = KernelDensity(kernel="gaussian", bandwidth=float(bandwidth)).fit(samples[:, np.newaxis])
    return np.exp(estimator.score_samples(grid[:, np.newaxis]))


def mass_in_range(scores: np.ndarray, low: float, high: float, bandwidth: float) -> float:
    """The exact probability mass a Gaussian KDE of `scores` puts on [low, high].

    Kernels of scores near the ends spill outside the grid, so the densities on the grid
    integrate to this, not to 1; the lr_curves check compares the two.
    """
    return float(np.mean(norm.cdf((high - scores) / bandwidth) - norm.cdf((low - scores) / bandwidth)))


_FACTS_KEY = b"taar.lr_curves"


@dataclass(frozen=True)
class LrCurves:
    """The day's curves (x, numerator, denominator) and what the checks need to judge them:
    the parameters and the mass each density's kernels put on the grid's range."""

    curves: pd.DataFrame
    kernel_bandwidth: float
    num_pdf_points: int
    mass_in_range: dict[str, float]  # numerator / denominator: exact, from the scores

    @classmethod
    def learn(cls, scores: ScoreSets, bandwidth: float, num_points: int) -> LrCurves:
        curves = density_grid(scores, bandwidth, num_points)
        low, high = float(curves["x"].iloc[0]), float(curves["x"].iloc[-1])
        return cls(
            curves=curves,
            kernel_bandwidth=bandwidth,
            num_pdf_points=num_points,
            mass_in_range={
                "numerator": mass_in_range(scores.same, low, high, bandwidth),
                "denominator": mass_in_range(scores.different, low, high, bandwidth),
            },
        )

    @property
    def parameters(self) -> dict[str, Any]:
        return {"kernel_bandwidth": self.kernel_bandwidth, "num_pdf_points": self.num_pdf_points}

    def as_json(self) -> list[list]:
        return lr_curves_as_json(self.curves)

    def to_table(self) -> pa.Table:
        facts = {**self.parameters, "mass_in_range": self.mass_in_range}
        return with_record(pa.Table.from_pandas(self.curves, preserve_index=False), _FACTS_KEY, facts)

    @classmethod
    def from_table(cls, table: pa.Table) -> LrCurves:
        facts = record_of(table, _FACTS_KEY)
        return cls(
            curves=table.to_pandas(),
            kernel_bandwidth=facts["kernel_bandwidth"],
            num_pdf_points=facts["num_pdf_points"],
            mass_in_range=facts["mass_in_range"],
        )
