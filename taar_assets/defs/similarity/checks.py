"""The checks on the donors and the curves: a day whose model fails one is not published.

One table lists every check: its name, the asset it guards, what it asserts, the other stored
values it needs and its judge (a plain function of `taar_assets.similarity.checks`). The
judges receive those values explicitly: the day's `DonorPool` or `LrCurves` (which carry
what was asked for: num_donors, k, the grid size, the kernels' mass) and the extra inputs.

Each check is an asset check the UI shows; the publish step applies the same table to each day
(`failed_checks`) and publishes only the days that pass, so a bad day of a range stops that day
alone.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from taar_assets.io_managers import ArrowTable, MissingPartitionError
from taar_assets.partitions import daily_partitions, on_day
from taar_assets.similarity import checks
from taar_assets.similarity.checks import Verdict
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves

# Checks on a partitioned asset need its partitions (else they load every partition): a preview API.
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")


@dataclass(frozen=True)
class Check:
    name: str
    asset: str  # donor_pool or lr_curves: the judge's first argument is that day's value
    description: str
    judge: Callable[..., Verdict]
    inputs: Mapping[str, dg.AssetIn] = field(default_factory=dict)  # further stored values, by parameter name


_WHITELIST = {"amo_whitelist": dg.AssetIn("amo_whitelist", dagster_type=ArrowTable)}

CHECKS = (
    Check(
        "donor_count",
        "donor_pool",
        "Exactly num_donors donors (or every client), at least 100 when possible.",
        lambda pool: checks.donor_count(pool.donors, pool.num_donors, pool.clients),
    ),
    Check(
        "clusters_represented",
        "donor_pool",
        "Every non-empty cluster has a donor.",
        lambda pool: checks.clusters_represented(pool.donors, pool.cluster_sizes),
    ),
    Check(
        "donors_have_addons",
        "donor_pool",
        "No donor without add-ons.",
        lambda pool: checks.donors_have_addons(pool.donors),
    ),
    Check(
        "addons_whitelisted",
        "donor_pool",
        "Every published add-on is in the day's whitelist.",
        lambda pool, amo_whitelist: checks.addons_whitelisted(pool.donors, amo_whitelist.column("guid").to_pylist()),
        _WHITELIST,
    ),
    Check(
        "no_client_identifiers",
        "donor_pool",
        "No client id column and no published value equal to a client id.",
        lambda pool: checks.no_client_identifiers(pool.donors, pool.client_ids_published),
    ),
    Check(
        "k_anonymous",
        "donor_pool",
        "Every (city, locale, os) combination is shared by at least k donors.",
        lambda pool: checks.k_anonymous(pool.donors, pool.k_anonymity),
    ),
    Check(
        "values_publishable",
        "donor_pool",
        "Every published donor value is present and finite, and rounded (no float noise) in both layouts.",
        lambda pool: checks.values_publishable(pool.donors, pool.significant_digits),
    ),
    Check(
        "curve_shape",
        "lr_curves",
        "num_pdf_points finite, non-negative points with increasing x.",
        lambda curves: checks.curve_shape(curves.curves, curves.num_pdf_points),
    ),
    Check(
        "densities_normalised",
        "lr_curves",
        "Each density integrates to the mass its kernels put on the grid's range.",
        lambda curves: checks.densities_normalised(curves.curves, curves.mass_in_range),
    ),
    Check(
        "clusters_separate",
        "lr_curves",
        "Same-cluster distances are lower on average than different-cluster ones.",
        lambda curves: checks.clusters_separate(curves.curves),
    ),
)

# The checked asset reaches a check as a stored table; it is read back as its domain value.
_VALUE_OF = {"donor_pool": DonorPool.from_table, "lr_curves": LrCurves.from_table}


def failed_checks(values: dict[str, Any]) -> dict[str, str]:
    """{check: what it found} for each check a day's model fails; `values` holds that day's
    donor_pool, lr_curves and amo_whitelist."""
    verdicts = {check.name: check.judge(values[check.asset], *(values[name] for name in check.inputs)) for check in CHECKS}
    return {name: verdict.description for name, verdict in verdicts.items() if not verdict.passed}


def _over_days(context: dg.AssetCheckExecutionContext, judge: Callable[[str], Verdict]) -> dg.AssetCheckResult:
    """Judge every day of the run that has data; the check passes only if every one does."""
    verdicts = {}
    for day in context.partition_keys:
        try:
            verdicts[day] = judge(day)
        except MissingPartitionError:  # the day failed upstream: nothing to judge
            context.log.warning(f"{day}: not judged, nothing was stored for it")
    if not verdicts:
        return dg.AssetCheckResult(passed=False, metadata={"result": "no day of the run was stored"})
    failed = {day: v for day, v in verdicts.items() if not v.passed}
    for day, verdict in failed.items():
        context.log.error(f"{day}: {verdict.description}")
    shown = next(iter(failed.values()), None) or next(iter(verdicts.values()))
    metadata = {"result": shown.description, **shown.numbers}
    if len(verdicts) > 1:
        metadata["failed_days"] = sorted(failed)
    return dg.AssetCheckResult(passed=not failed, metadata=metadata)


def _definition(check: Check) -> dg.AssetChecksDefinition:
    def run(context: dg.AssetCheckExecutionContext, **stored: Any) -> dg.AssetCheckResult:
        def judge(day: str) -> Verdict:
            checked = _VALUE_OF[check.asset](on_day(stored[check.asset], day))
            return check.judge(checked, *(on_day(stored[name], day) for name in check.inputs))

        return _over_days(context, judge)

    # Dagster maps inputs to parameters by name: the guarded asset first, then the check's inputs.
    names = ["context", check.asset, *check.inputs]
    run.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names]
    )
    return dg.asset_check(
        asset=check.asset,
        name=check.name,
        description=check.description,
        partitions_def=daily_partitions,
        additional_ins=dict(check.inputs),
    )(run)


model_checks = [_definition(check) for check in CHECKS]
