"""The checks a model must pass before it is published (plain functions, one per property).

Each returns a `Verdict`: whether it passed, a one-line description naming the numbers,
and the numbers themselves (shown in the UI as check metadata).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from taar_assets.similarity.distance import CATEGORICAL_FEATURES
from taar_assets.similarity.donors import MIN_DONORS
from taar_assets.similarity.features import DONOR_KEYS, FEATURES, LAYOUTS
from taar_assets.similarity.model_files import donor_records
from taar_assets.similarity.privacy import smallest_group

# Donor columns that are published; the cluster id is not.


@dataclass(frozen=True)
class Verdict:
    passed: bool
    description: str
    numbers: dict[str, Any] = field(default_factory=dict)


def donor_count(donors: pd.DataFrame, requested: int, clients: int) -> Verdict:
    """Exactly min(requested, clients) donors, and at least 100 when there are enough clients."""
    expected = min(requested, clients)
    passed = len(donors) == expected and (len(donors) >= MIN_DONORS or clients < MIN_DONORS)
    return Verdict(
        passed,
        f"{len(donors)} donors; expected {expected} ({requested} requested, {clients} clients)",
        {"donors": len(donors), "expected": expected, "clients": clients},
    )


def clusters_represented(donors: pd.DataFrame, cluster_sizes: Mapping[int, int]) -> Verdict:
    """Every non-empty cluster has at least one donor."""
    non_empty = {int(c) for c, n in cluster_sizes.items() if n > 0}
    missing = sorted(non_empty - set(donors["cluster"].astype(int)))
    return Verdict(
        not missing,
        f"{len(non_empty) - len(missing)} of {len(non_empty)} clusters have donors"
        + (f"; missing {missing}" if missing else ""),
        {"clusters": len(non_empty), "missing_clusters": missing},
    )


def donors_have_addons(donors: pd.DataFrame) -> Verdict:
    """No donor without add-ons."""
    counts = donors["active_addons"].map(len)
    empty = int((counts == 0).sum())
    return Verdict(
        empty == 0,
        f"{empty} donors without add-ons; fewest add-ons {int(counts.min()) if len(counts) else 0}",
        {"donors_without_addons": empty, "min_addons": int(counts.min()) if len(counts) else 0},
    )


def addons_whitelisted(donors: pd.DataFrame, whitelist: Iterable[str]) -> Verdict:
    """Every published add-on is in the day's whitelist."""
    allowed = set(whitelist)
    published = {guid for addons in donors["active_addons"] for guid in addons}
    outside = sorted(published - allowed)
    return Verdict(
        not outside,
        f"{len(outside)} of {len(published)} published add-ons are not whitelisted",
        {"addons": len(published), "not_whitelisted": outside[:20]},
    )


def published_values(donors: pd.DataFrame) -> set[str]:
    """Every text value the donors publish: categoricals and add-on ids."""
    values = {str(v) for column in CATEGORICAL_FEATURES for v in donors[column].dropna()}
    return values | {guid for addons in donors["active_addons"] for guid in addons}


def no_client_identifiers(donors: pd.DataFrame, client_ids_published: Iterable[str]) -> Verdict:
    """No client id column, and no published value equal to a client id (`client_ids_published`:
    the values of `published_values` an engine found among the client ids)."""
    id_columns = [c for c in donors.columns if "client" in c.lower()]
    leaked = set(client_ids_published) & published_values(donors)
    return Verdict(
        not id_columns and not leaked,
        f"id-like columns {id_columns}; {len(leaked)} published values equal a client id",
        {"id_columns": id_columns, "leaked_values": len(leaked)},
    )


def k_anonymous(donors: pd.DataFrame, k: int) -> Verdict:
    """Every (city, locale, os) combination is shared by at least k donors."""
    smallest = smallest_group(donors, CATEGORICAL_FEATURES)
    return Verdict(
        smallest >= k,
        f"the rarest (city, locale, os) combination is held by {smallest} donors; k = {k}",
        {"smallest_group": smallest, "k": k},
    )


def significant_digits_of(number: float) -> int:
    """Significant digits of the shortest decimal that reads back as `number` (7920.0: 3)."""
    return len(Decimal(repr(float(number))).normalize().as_tuple().digits)


def values_publishable(donors: pd.DataFrame, significant_digits: int) -> Verdict:
    """In both layouts' donors.json, every feature value is present (never null), every number
    finite and rounded: at most `significant_digits` significant digits, plus the digits of the
    unit's scale (3600: 2) in the service's seconds, so no float noise such as 7920.000000000001."""
    problems: dict[str, list[str]] = {"missing": [], "not_finite": [], "not_rounded": []}
    for layout in LAYOUTS:
        try:
            records = donor_records(donors, layout)
        except ValueError as error:  # a missing or non-finite value is refused by the writer itself
            problems["missing" if "missing" in str(error) else "not_finite"].append(f"{layout}: {error}")
            continue
        for feature in FEATURES:
            if feature.kind != "continuous":
                continue
            key = DONOR_KEYS[layout][feature.name]
            allowed = significant_digits + (
                significant_digits_of(feature.service_scale) if layout == "service" else 0
            )
            for index, record in enumerate(records):
                value = record[key]
                if not math.isfinite(value):
                    problems["not_finite"].append(f"{layout} donor {index} {key}={value}")
                elif significant_digits_of(value) > allowed:
                    problems["not_rounded"].append(f"{layout} donor {index} {key}={value!r}")
    counts = {name: len(found) for name, found in problems.items()}
    shown = [example for found in problems.values() for example in found[:3]]
    return Verdict(
        not any(counts.values()),
        f"{counts['missing']} missing, {counts['not_finite']} non-finite, {counts['not_rounded']} unrounded "
        f"donor values (significant digits {significant_digits})" + (f"; e.g. {shown}" if shown else ""),
        {**counts, "examples": shown},
    )


def curve_shape(curves: pd.DataFrame, num_points: int) -> Verdict:
    """Exactly num_points points, finite and non-negative, with strictly increasing x."""
    values = curves[["x", "numerator", "denominator"]].to_numpy(dtype=float)
    finite = bool(np.isfinite(values).all())
    non_negative = bool((values[:, 1:] >= 0).all())
    increasing = bool((np.diff(values[:, 0]) > 0).all())
    passed = len(curves) == num_points and finite and non_negative and increasing
    return Verdict(
        passed,
        f"{len(curves)} points (expected {num_points}); finite {finite}, non-negative {non_negative}, "
        f"increasing x {increasing}",
        {"points": len(curves), "finite": finite, "non_negative": non_negative, "increasing_x": increasing},
    )


def densities_normalised(curves: pd.DataFrame, expected_mass: Mapping[str, float], tolerance: float = 0.01) -> Verdict:
    """Each density integrates over the grid to the mass its kernels put on that range (≈ 1 − spill)."""
    x = curves["x"].to_numpy(dtype=float)
    integrals = {name: float(np.trapezoid(curves[name].to_numpy(dtype=float), x)) for name in ("numerator", "denominator")}
    errors = {name: abs(integrals[name] - expected_mass[name]) for name in integrals}
    return Verdict(
        all(error <= tolerance for error in errors.values()),
        ", ".join(
            f"{name} integrates to {integrals[name]:.4f} (expected {expected_mass[name]:.4f})" for name in integrals
        ),
        {**{f"{n}_integral": round(v, 6) for n, v in integrals.items()},
         **{f"{n}_expected": round(float(v), 6) for n, v in expected_mass.items()}},
    )


def clusters_separate(curves: pd.DataFrame) -> Verdict:
    """Same-cluster distances are lower on average than different-cluster distances."""
    x = curves["x"].to_numpy(dtype=float)

    def mean_distance(density: np.ndarray) -> float:
        return float(np.trapezoid(x * density, x) / np.trapezoid(density, x))

    same = mean_distance(curves["numerator"].to_numpy(dtype=float))
    different = mean_distance(curves["denominator"].to_numpy(dtype=float))
    return Verdict(
        same < different,
        f"mean same-cluster distance {same:.4f} vs different-cluster {different:.4f}",
        {"mean_same_cluster": round(same, 6), "mean_different_cluster": round(different, 6)},
    )
