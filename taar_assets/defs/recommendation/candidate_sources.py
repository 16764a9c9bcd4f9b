"""The fitted candidate sources: locale popularity, co-installation and curated order."""

import dagster as dg

from taar_assets.defs.recommendation import CLIENT_TABLES
from taar_assets.engines import Engine
from taar_assets.io_managers import ArrowTable, document_type
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.recommendation.counts import ClientSplit
from taar_assets.recommendation.sources import LOCALE_POPULARITY, CandidateSources, TrainingData


@dg.asset(
    partitions_def=daily_partitions,
    deps=["similarity_model"],  # fitted on the day's model once it is published
    ins={**CLIENT_TABLES, "amo_whitelist": dg.AssetIn(dagster_type=ArrowTable)},
    dagster_type=document_type(CandidateSources),
    io_manager_key="document_io_manager",
    backfill_policy=single_run,
    kinds={"scipy", "json"},
)
def candidate_sources(context: dg.AssetExecutionContext, engine: Engine, samples, addons_per_client, amo_whitelist):
    """Locale popularity and co-installation fitted on the training clients; curated = whitelist order.

    The evaluation clients (a fixed hash split) are left out so the daily evaluation is honest.
    The engine counts add-ons, locales and co-installations where the clients are.
    """

    def compute(day: str):
        counts = engine.addon_counts(on_day(addons_per_client, day), on_day(samples, day), ClientSplit(), "training")
        whitelist = on_day(amo_whitelist, day).column("guid").to_pylist()
        sources = CandidateSources.fit(TrainingData(counts, whitelist))
        popularity = sources.get(LOCALE_POPULARITY)
        locales = len(popularity.by_locale) if popularity else 0
        context.log.info(f"{day}: candidate sources fitted on {counts.clients} training clients")
        return sources, {"training_clients": counts.clients, "locales": locales, "curated": len(whitelist)}

    return for_each_day(context, compute)
