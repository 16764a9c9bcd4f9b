"""The heavy ranker's predicted install score: a model learnt from held-out add-ons."""

import dagster as dg

from taar_assets.defs.recommendation import CANDIDATE_SOURCES_INPUT, MODEL_INPUTS
from taar_assets.io_managers import document_type
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.recommendation.addon_metadata import parse_addon_metadata
from taar_assets.recommendation.evaluation import fit_training_install_model, training_clients
from taar_assets.recommendation.install_model import InstallModel
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets.similarity.seeds import partition_seed, stage_seed


class InstallModelConfig(dg.Config):
    max_training_clients: int = 5000
    seed: int | None = None


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        **MODEL_INPUTS,
        "candidate_sources": CANDIDATE_SOURCES_INPUT,
    },
    dagster_type=document_type(InstallModel),
    io_manager_key="document_io_manager",
    backfill_policy=single_run,
    kinds={"scikitlearn", "json"},
)
def install_model(
    context: dg.AssetExecutionContext,
    config: InstallModelConfig,
    samples,
    addons_per_client,
    candidate_sources,
    donor_pool,
    lr_curves,
    addon_metadata,
):
    """Logistic regression over candidate features: hold one add-on out per training client and
    learn which candidates get (re)installed."""

    def compute(day: str):
        model = SimilarityModel.from_pool(on_day(donor_pool, day), on_day(lr_curves, day))
        metadata = parse_addon_metadata(on_day(addon_metadata, day).to_pylist()) or None
        fitted = fit_training_install_model(
            training_clients(on_day(addons_per_client, day).to_pandas()),
            on_day(samples, day).to_pandas(),
            on_day(candidate_sources, day),
            lambda profiles: model.recommend_batch(profiles, limit=None),
            metadata,
            seed=stage_seed(partition_seed(day, config.seed), "install_model"),
            max_clients=config.max_training_clients,
        )
        context.log.info(f"{day}: install model {fitted.metrics}")
        return fitted, {
            **{name: dg.MetadataValue.float(float(value)) for name, value in fitted.metrics.items()},
            "weights": dg.MetadataValue.json(fitted.weights()),
        }

    return for_each_day(context, compute)
