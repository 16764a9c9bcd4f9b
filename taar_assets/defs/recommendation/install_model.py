"""The heavy ranker's predicted install score: a model learnt from held-out add-ons."""

import dagster as dg
from pydantic import Field

from taar_assets.defs.recommendation import CANDIDATE_SOURCES_INPUT, MODEL_INPUTS
from taar_assets.engines import Engine
from taar_assets.io_managers import document_type
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.recommendation.addon_metadata import parse_addon_metadata
from taar_assets.recommendation.counts import ClientSplit
from taar_assets.recommendation.install_model import InstallModel, fit_install_model, training_examples
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets.similarity.seeds import partition_seed, stage_seed


class InstallModelConfig(dg.Config):
    max_training_clients: int = Field(
        5000, ge=10, description="Training clients (a seeded sample, drawn by the engine) the model learns from."
    )
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")


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
    engine: Engine,
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
        root_seed = partition_seed(day, config.seed)
        clients = engine.client_sample(
            on_day(addons_per_client, day), on_day(samples, day), ClientSplit(), "training",
            config.max_training_clients, f"{root_seed}:install_model",
        )
        examples = training_examples(
            clients,
            on_day(candidate_sources, day),
            lambda profiles: model.recommend_batch(profiles, limit=None),
            metadata,
            seed=stage_seed(root_seed, "install_model"),
        )
        fitted = fit_install_model(examples, seed=stage_seed(root_seed, "install_model"))
        context.log.info(f"{day}: install model {fitted.metrics}")
        return fitted, {
            **{name: dg.MetadataValue.float(float(value)) for name, value in fitted.metrics.items()},
            "weights": dg.MetadataValue.json(fitted.weights()),
        }

    return for_each_day(context, compute)
