"""Offline evaluation: hold out add-ons, recommend three ways, measure hit-rate, precision, coverage."""

import base64
from typing import Any

import dagster as dg
from pydantic import Field

from taar_assets.defs.recommendation import CANDIDATE_SOURCES_INPUT, INSTALL_MODEL_INPUT, MODEL_INPUTS
from taar_assets.engines import Engine
from taar_assets.io_managers import ArrowTable, PandasFrame, StoredTableInput
from taar_assets.partitions import daily_partitions, for_each_day, on_day, single_run
from taar_assets.recommendation.addon_metadata import parse_addon_metadata
from taar_assets.recommendation.evaluation import (
    LOCALE_POPULARITY_METHOD,
    RANKER_METHOD,
    SIMILARITY_METHOD,
    evaluate,
    held_out_clients,
)
from taar_assets.recommendation.counts import ClientSplit
from taar_assets.recommendation.privacy_cost import CurveRecipe, privacy_cost_chart_png, privacy_cost_table
from taar_assets.recommendation.ranker import RankerConfig
from taar_assets.similarity.donors import allocate_donors
from taar_assets.similarity.features import FEATURE_NAMES
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets.similarity.seeds import partition_seed, stage_seed


class EvaluationConfig(dg.Config):
    k: int = Field(10, ge=1, description="Recommendations per client that are scored.")
    held_out_fraction: float = Field(0.3, gt=0, lt=1, description="Share of each client's add-ons held out.")
    max_evaluation_clients: int = Field(
        10_000, ge=10, description="Evaluation clients (a seeded sample, drawn by the engine) scored each day."
    )
    ranker: dict[str, Any] = Field(
        default_factory=dict,
        description="RankerConfig settings for method (c), validated by RankerConfig.from_dict (unknown keys "
        "and out-of-range values are errors). Default: heavy ranking, producer boosting on when metadata exists.",
    )
    seed: int | None = Field(None, description="Root seed; by default derived from the partition day.")
    privacy_k_values: list[int] = Field(
        default_factory=lambda: [1, 2, 5, 10],
        description="k-anonymity values the model is rebuilt with to measure what privacy costs ([] skips it).",
    )
    privacy_significant_digits: list[int] = Field(
        default_factory=lambda: [2, 3], description="Significant digits the model is rebuilt with, for each k."
    )


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        **MODEL_INPUTS,
        "amo_whitelist": dg.AssetIn(dagster_type=ArrowTable),
        "candidate_sources": CANDIDATE_SOURCES_INPUT,
        "install_model": INSTALL_MODEL_INPUT,
        "clusters": dg.AssetIn(dagster_type=StoredTableInput),
    },
    dagster_type=PandasFrame,
    backfill_policy=single_run,
    kinds={"scikitlearn", "parquet"},
)
def recommendation_evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    engine: Engine,
    samples,
    addons_per_client,
    amo_whitelist,
    candidate_sources,
    install_model,
    donor_pool,
    lr_curves,
    addon_metadata,
    clusters,
):
    """hit-rate@k, precision@k and coverage of (a) locale popularity, (b) similarity alone,
    (c) all sources through the ranker, on evaluation clients never used for fitting; and what
    privacy costs: precision@k of the model rebuilt for each k and number of significant digits,
    through both TAAR services' formulas (metadata `privacy_cost`, `privacy_cost_chart`)."""

    def compute(day: str):
        pool, curves = on_day(donor_pool, day), on_day(lr_curves, day)
        model = SimilarityModel.from_pool(pool, curves)
        metadata = parse_addon_metadata(on_day(addon_metadata, day).to_pylist()) or None
        ranker_config = RankerConfig.from_dict({"enable_producer_boosting": metadata is not None, **config.ranker})
        day_addons, day_samples, day_clusters = on_day(addons_per_client, day), on_day(samples, day), on_day(clusters, day)
        root_seed = partition_seed(day, config.seed)
        seed = stage_seed(root_seed, "evaluation")
        clients = engine.client_sample(
            day_addons, day_samples, ClientSplit(), "evaluation", config.max_evaluation_clients, f"{root_seed}:evaluation"
        )
        report = evaluate(
            clients,
            lambda profiles: model.recommend_batch(profiles, limit=None),
            on_day(candidate_sources, day),
            on_day(install_model, day),
            on_day(amo_whitelist, day).column("guid").to_pylist(),
            metadata,
            k=config.k,
            held_out_fraction=config.held_out_fraction,
            seed=seed,
            ranker_config=ranker_config,
        )
        popularity = report.methods[LOCALE_POPULARITY_METHOD].precision
        # The donors donor_pool drew (with its default seed), profiled again for every k and digits.
        donor_seed = partition_seed(day)
        chosen = engine.select_donors(
            day_clusters, day_samples, day_addons,
            allocate_donors(engine.cluster_sizes(day_clusters), pool.num_donors), f"{donor_seed}:donor_pool",
        )
        privacy = privacy_cost_table(
            chosen[["client_id", "cluster"]],
            chosen[["client_id", *FEATURE_NAMES]],
            chosen[["client_id", "addon_ids"]],
            held_out_clients(clients, config.held_out_fraction, seed),
            popularity,
            CurveRecipe(curves.kernel_bandwidth, curves.num_pdf_points, donor_seed),
            k_values=config.privacy_k_values,
            digits_values=config.privacy_significant_digits,
            limit=config.k,
        )
        privacy_metadata = {}
        if len(privacy):
            privacy_markdown = privacy.to_markdown(index=False, floatfmt=("g", "g", "g", ".4f", ".2f", ".4f", ".2f"))
            context.log.info(f"{day}: precision@{config.k} by k-anonymity and significant digits\n{privacy_markdown}")
            chart = base64.b64encode(privacy_cost_chart_png(privacy, popularity, config.k)).decode()
            privacy_metadata = {
                "privacy_cost": dg.MetadataValue.md(privacy_markdown),
                "privacy_cost_chart": dg.MetadataValue.md(f"![privacy cost](data:image/png;base64,{chart})"),
            }
        table = report.table().rename_axis("method").reset_index()
        hit = {name: scores.hit_rate for name, scores in report.methods.items()}
        context.log.info(f"{day}: hit-rate@{config.k} {hit}")
        chart = base64.b64encode(report.chart_png()).decode()
        return table, {
            "evaluation_clients": report.evaluation_clients,
            "scores": dg.MetadataValue.md(table.to_markdown(index=False, floatfmt=".3f")),
            "chart": dg.MetadataValue.md(f"![evaluation](data:image/png;base64,{chart})"),
            "similarity_vs_locale_popularity": round(hit[SIMILARITY_METHOD] / max(hit[LOCALE_POPULARITY_METHOD], 1e-9), 3),
            "ranker_vs_similarity": round(hit[RANKER_METHOD] / max(hit[SIMILARITY_METHOD], 1e-9), 3),
            "producer_boosting": "on" if metadata else "off: no add-on metadata",
            "ranker_metrics": dg.MetadataValue.json(report.ranker_metrics),
            "ranker_config": dg.MetadataValue.json(ranker_config.to_dict()),
            **privacy_metadata,
        }

    return for_each_day(context, compute)


@dg.asset_check(
    asset=recommendation_evaluation,
    description="Similarity alone beats locale popularity in hit-rate@k.",
    partitions_def=daily_partitions,
)
def similarity_beats_locale_popularity(context: dg.AssetCheckExecutionContext, recommendation_evaluation):
    days = {}
    for day in context.partition_keys:
        scores = on_day(recommendation_evaluation, day).to_pandas().set_index("method")["hit_rate"]
        days[day] = (float(scores[SIMILARITY_METHOD]), float(scores[LOCALE_POPULARITY_METHOD]))
    failed = sorted(day for day, (similarity, popularity) in days.items() if similarity <= popularity)
    similarity, popularity = days[failed[0] if failed else context.partition_keys[-1]]
    return dg.AssetCheckResult(
        passed=not failed,
        metadata={
            "similarity_hit_rate": similarity,
            "locale_popularity_hit_rate": popularity,
            "ratio": round(similarity / max(popularity, 1e-9), 3),
            "failed_days": failed,
        },
    )
