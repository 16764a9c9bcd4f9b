"""The Dagster code location: every asset, check, job, schedule and resource of taar_assets."""

import dagster as dg

from taar_assets.defs.addon_metadata import addon_metadata
from taar_assets.defs.addons_per_client import addons_per_client
from taar_assets.defs.amo_whitelist import amo_whitelist
from taar_assets.defs.candidate_sources import candidate_sources
from taar_assets.defs.checks import model_checks_defs
from taar_assets.defs.clients_daily import clients_daily
from taar_assets.defs.clusters import clusters
from taar_assets.defs.donor_pool import donor_pool
from taar_assets.defs.install_model import install_model
from taar_assets.defs.lr_curves import lr_curves
from taar_assets.defs.recommendation_evaluation import (
    recommendation_evaluation,
    similarity_beats_locale_popularity,
)
from taar_assets.defs.samples import samples
from taar_assets.defs.schedules import (
    recommendation_job,
    recommendation_schedule,
    similarity_job,
    similarity_schedule,
)
from taar_assets.defs.similarity_model import similarity_model
from taar_assets.resources import build_resources


def build_definitions(resources: dict[str, object] | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            clients_daily, amo_whitelist, samples, addons_per_client, clusters, donor_pool, lr_curves,
            similarity_model, addon_metadata, candidate_sources, install_model, recommendation_evaluation,
        ],
        asset_checks=[*model_checks_defs, similarity_beats_locale_popularity],
        jobs=[similarity_job, recommendation_job],
        schedules=[similarity_schedule, recommendation_schedule],
        resources=resources if resources is not None else build_resources(),
        # The stages run one after another; a process per step would only add start-up time.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
