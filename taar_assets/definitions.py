"""The Dagster code location: every asset, check, job, schedule and resource of taar_assets."""

import dagster as dg

from taar_assets.defs.addons_per_client import addons_per_client
from taar_assets.defs.amo_whitelist import amo_whitelist
from taar_assets.defs.checks import model_checks_defs
from taar_assets.defs.clients_daily import clients_daily
from taar_assets.defs.clusters import clusters
from taar_assets.defs.donor_pool import donor_pool
from taar_assets.defs.lr_curves import lr_curves
from taar_assets.defs.samples import samples
from taar_assets.defs.schedules import similarity_job, similarity_schedule
from taar_assets.defs.similarity_model import similarity_model
from taar_assets.resources import build_resources


def build_definitions(resources: dict[str, object] | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[clients_daily, amo_whitelist, samples, addons_per_client, clusters, donor_pool, lr_curves, similarity_model],
        asset_checks=model_checks_defs,
        jobs=[similarity_job],
        schedules=[similarity_schedule],
        resources=resources if resources is not None else build_resources(),
        # The stages run one after another; a process per step would only add start-up time.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
