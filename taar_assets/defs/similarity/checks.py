"""Blocking checks on the donors and the curves: a model that fails one is not published."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import dagster as dg
import pyarrow.compute as pc

from taar_assets.defs.daily import on_day
from taar_assets.io_managers import ArrowTable, as_frame, provenance
from taar_assets.lib import model_checks
from taar_assets.lib.model_checks import Verdict
from taar_assets.partitions import daily_partitions

# Checks on a partitioned asset need its partitions (else they load every partition): a preview API.
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")


def _over_days(context: dg.AssetCheckExecutionContext, judge: Callable[[str], Verdict]) -> dg.AssetCheckResult:
    """Judge every day of the run; the check passes only if every day does."""
    verdicts = {day: judge(day) for day in context.partition_keys}
    failed = {day: v for day, v in verdicts.items() if not v.passed}
    for day, verdict in failed.items():
        context.log.error(f"{day}: {verdict.description}")
    shown = next(iter(failed.values()), None) or next(iter(verdicts.values()))
    metadata = {"result": shown.description, **shown.numbers}
    if len(verdicts) > 1:
        metadata["failed_days"] = sorted(failed)
    return dg.AssetCheckResult(passed=not failed, metadata=metadata)


def _donor_check(name: str, description: str, **ins: dg.AssetIn):
    return dg.asset_check(
        asset="donor_pool", name=name, description=description, blocking=True,
        partitions_def=daily_partitions, additional_ins=ins,
    )


def _curve_check(name: str, description: str):
    return dg.asset_check(
        asset="lr_curves", name=name, description=description, blocking=True, partitions_def=daily_partitions
    )


_clusters_in = dg.AssetIn("clusters", dagster_type=ArrowTable)


@_donor_check("donor_count", "Exactly num_donors donors (or every client), at least 100 when possible.", clusters=_clusters_in)
def donor_count(context, donor_pool, clusters) -> dg.AssetCheckResult:
    def judge(day: str) -> Verdict:
        donors = as_frame(on_day(donor_pool, day))
        requested = provenance(donors)["parameters"]["num_donors"]
        return model_checks.donor_count(donors, requested, on_day(clusters, day).num_rows)

    return _over_days(context, judge)


@_donor_check("clusters_represented", "Every non-empty cluster has a donor.", clusters=_clusters_in)
def clusters_represented(context, donor_pool, clusters) -> dg.AssetCheckResult:
    def judge(day: str) -> Verdict:
        counts = pc.value_counts(on_day(clusters, day).column("cluster")).to_pylist()
        sizes = {item["values"]: item["counts"] for item in counts}
        return model_checks.clusters_represented(as_frame(on_day(donor_pool, day)), sizes)

    return _over_days(context, judge)


@_donor_check("donors_have_addons", "No donor without add-ons.")
def donors_have_addons(context, donor_pool) -> dg.AssetCheckResult:
    return _over_days(context, lambda day: model_checks.donors_have_addons(as_frame(on_day(donor_pool, day))))


@_donor_check(
    "addons_whitelisted", "Every published add-on is in the day's whitelist.",
    amo_whitelist=dg.AssetIn("amo_whitelist", dagster_type=ArrowTable),
)
def addons_whitelisted(context, donor_pool, amo_whitelist) -> dg.AssetCheckResult:
    def judge(day: str) -> Verdict:
        guids = on_day(amo_whitelist, day).column("guid").to_pylist()
        return model_checks.addons_whitelisted(as_frame(on_day(donor_pool, day)), guids)

    return _over_days(context, judge)


@_donor_check(
    "no_client_identifiers", "No client id column and no published value equal to a client id.",
    clusters=dg.AssetIn("clusters", dagster_type=ArrowTable, metadata={"columns": ["client_id"]}),
)
def no_client_identifiers(context, donor_pool, clusters) -> dg.AssetCheckResult:
    def judge(day: str) -> Verdict:
        client_ids = on_day(clusters, day).column("client_id").to_pylist()
        return model_checks.no_client_identifiers(as_frame(on_day(donor_pool, day)), client_ids)

    return _over_days(context, judge)


@_donor_check("k_anonymous", "Every (city, locale, os) combination is shared by at least k donors.")
def k_anonymous(context, donor_pool) -> dg.AssetCheckResult:
    def judge(day: str) -> Verdict:
        donors = as_frame(on_day(donor_pool, day))
        return model_checks.k_anonymous(donors, provenance(donors)["parameters"]["k_anonymity"])

    return _over_days(context, judge)


@_curve_check("curve_shape", "num_pdf_points finite, non-negative points with increasing x.")
def curve_shape(context, lr_curves) -> dg.AssetCheckResult:
    def judge(day: str) -> Verdict:
        curves = as_frame(on_day(lr_curves, day))
        return model_checks.curve_shape(curves, provenance(curves)["parameters"]["num_pdf_points"])

    return _over_days(context, judge)


@_curve_check("densities_normalised", "Each density integrates to the mass its kernels put on the grid's range.")
def densities_normalised(context, lr_curves) -> dg.AssetCheckResult:
    def judge(day: str) -> Verdict:
        curves = as_frame(on_day(lr_curves, day))
        return model_checks.densities_normalised(curves, provenance(curves)["mass_in_range"])

    return _over_days(context, judge)


@_curve_check("clusters_separate", "Same-cluster distances are lower on average than different-cluster ones.")
def clusters_separate(context, lr_curves) -> dg.AssetCheckResult:
    return _over_days(context, lambda day: model_checks.clusters_separate(as_frame(on_day(lr_curves, day))))


model_checks_defs = [
    donor_count, clusters_represented, donors_have_addons, addons_whitelisted, no_client_identifiers,
    k_anonymous, curve_shape, densities_normalised, clusters_separate,
]
