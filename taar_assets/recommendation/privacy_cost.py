"""What privacy costs in recommendation quality: the day's model rebuilt for several k and
significant digits, each scored through both TAAR services' formulas.

The day's donors (the clients `donor_pool` drew) are profiled as `donor_pool` does for every
(k, significant digits), the curves learnt as `lr_curves` does, and the evaluation clients
served two ways:

- ``concatenated`` (the 2017 service, `SimilarityModel.concatenated_batch`): the donors with a
  likelihood ratio above 1 by ratio, their add-ons concatenated, repeats and installed kept;
- ``voting`` (the newest service, `SimilarityModel.recommend_batch`): donors with a positive log
  ratio vote with it, installed add-ons removed.

Precision@k is measured on the held-out add-ons, as the rest of the evaluation.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from taar_assets.recommendation.evaluation import HeldOutClients, recommendation_scores
from taar_assets.similarity.donor_profiles import donor_profiles
from taar_assets.similarity.lr_curves import LrCurves, score_pairs
from taar_assets.similarity.model_files import donor_records
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets.similarity.seeds import stage_rng

FORMULAS = ("concatenated", "voting")


@dataclass(frozen=True)
class CurveRecipe:
    """How the day's curves were learnt."""

    kernel_bandwidth: float
    num_pdf_points: int
    root_seed: int  # the day's: lr_curves draws its pairs from its stream of it


def privacy_cost_table(
    chosen: pd.DataFrame,
    features: pd.DataFrame,
    addons: pd.DataFrame,
    clients: HeldOutClients,
    popularity_precision: float,
    recipe: CurveRecipe,
    *,
    k_values: Sequence[int] = (1, 2, 5, 10),
    digits_values: Sequence[int] = (2, 3),
    limit: int = 10,
) -> pd.DataFrame:
    """One row per (k_anonymity, significant_digits): the values generalised and precision@limit
    of both formulas, also as a multiple of locale popularity's (`popularity_precision`).

    `chosen` (client_id, cluster), `features` and `addons` are what `donor_profiles` takes.
    """
    rows = []
    for k in k_values:
        for digits in digits_values:
            donors, replaced = donor_profiles(chosen, features, addons, k=k, significant_digits=digits)
            scores = score_pairs(donors, stage_rng(recipe.root_seed, "lr_curves"))
            curves = LrCurves.learn(scores, recipe.kernel_bandwidth, recipe.num_pdf_points)
            model = SimilarityModel.from_records(donor_records(donors, "service"), curves.as_json())
            served = {
                "concatenated": model.concatenated_batch(clients.profiles, limit),
                "voting": [[guid for guid, _ in top] for top in model.recommend_batch(clients.profiles, limit)],
            }
            row = {"k_anonymity": k, "significant_digits": digits, "generalised_values": sum(replaced.values())}
            for formula in FORMULAS:
                precision = recommendation_scores(served[formula], clients.held_out, limit, 1).precision
                row[f"precision_{formula}"] = precision
                row[f"{formula}_vs_popularity"] = precision / popularity_precision if popularity_precision else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def privacy_cost_chart_png(table: pd.DataFrame, popularity_precision: float, limit: int = 10) -> bytes:
    """Precision@limit against k, one line per formula and number of significant digits."""
    figure = Figure(figsize=(6, 3.2))
    axis = figure.subplots()
    for formula in FORMULAS:
        for digits, rows in table.groupby("significant_digits"):
            axis.plot(rows["k_anonymity"], rows[f"precision_{formula}"], marker="o", label=f"{formula}, {digits} digits")
    axis.axhline(popularity_precision, color="grey", linestyle="--", label="locale popularity")
    axis.set_xscale("log")
    axis.set_xticks(sorted(table["k_anonymity"].unique()), [str(k) for k in sorted(table["k_anonymity"].unique())])
    axis.set_xlabel("k (k-anonymity of city, locale, os)")
    axis.set_ylabel(f"precision@{limit}")
    axis.set_ylim(0, None)
    axis.set_title("Privacy vs quality through the services' formulas")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()
