"""Donor profiles as published: sample features + valid add-ons + cluster, made k-anonymous."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from taar_assets.similarity.donors import sample_donors
from taar_assets.similarity.features import (
    ADDONS_COLUMN,
    CONTINUOUS_FEATURES,
    FEATURE_NAMES,
    FEATURES,
    MISSING_CATEGORY,
)
from taar_assets.similarity.privacy import combinations_reaching_k, generalise_categories, round_significant
from taar_assets.storage import record_of, with_record

# Generalised in this order: the city identifies most, the locale least.
GENERALISATION_ORDER = ("city", "os", "locale")
DONOR_COLUMNS = (*FEATURE_NAMES, ADDONS_COLUMN, "cluster")


def donor_profiles(
    chosen: pd.DataFrame,
    features: pd.DataFrame,
    addons: pd.DataFrame,
    *,
    k: int,
    significant_digits: int,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Join the chosen (client_id, cluster) with their features and valid add-on lists.

    `features` has client_id and the sample columns; `addons` has client_id and addon_ids.
    Returns the donors without client_id, rows ordered by cluster then client id, with
    missing values written as the distance reads them ("" and 0: nothing published is null, and
    the curves are learnt on the published values), rare categorical values generalised
    (k-anonymity) and continuous values rounded; plus the number of values generalised per column.
    """
    donors = chosen.merge(features, on="client_id", how="left", validate="one_to_one").merge(
        addons.rename(columns={"addon_ids": "active_addons"}), on="client_id", how="left", validate="one_to_one"
    )
    missing = int(donors["active_addons"].isna().sum())
    if missing:
        raise ValueError(f"{missing} donors have no add-on list: clusters and addons_per_client disagree")
    donors = donors.sort_values(["cluster", "client_id"], kind="stable").reset_index(drop=True)
    donors = with_missing_filled(donors)
    donors, replaced = generalise_categories(donors, GENERALISATION_ORDER, k)
    for column in CONTINUOUS_FEATURES:
        donors[column] = round_significant(donors[column], significant_digits)
    donors["active_addons"] = donors["active_addons"].map(list)
    return donors[list(DONOR_COLUMNS)], replaced


def choose_donor_profiles(
    clustered: pd.DataFrame,
    samples: pa.Table,
    addons: pa.Table,
    *,
    num_donors: int,
    k: int,
    significant_digits: int,
    rng: np.random.Generator,
    prefer_common_categories: bool = False,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Choose the day's donors among the `clustered` clients (client_id, cluster) and profile them.

    With `prefer_common_categories`, each cluster's donors are drawn first among the clients
    whose (city, locale, os) is common enough for a uniform draw to give it k donors, so that
    fewer values need generalising; k-anonymity is then enforced on the chosen donors as ever.
    `samples` has client_id and the feature columns, `addons` client_id and addon_ids.
    """
    if prefer_common_categories and len(clustered):
        categories = samples.select(["client_id", *GENERALISATION_ORDER]).to_pandas(strings_to_categorical=True)
        categories = clustered[["client_id"]].merge(categories, on="client_id", how="left")
        for column in GENERALISATION_ORDER:
            categories[column] = categories[column].astype(object).where(categories[column].notna(), MISSING_CATEGORY)
        sampling_rate = min(1.0, num_donors / len(clustered))
        preferred = combinations_reaching_k(categories, GENERALISATION_ORDER, k, sampling_rate)
        clustered = clustered.assign(preferred=preferred)
    chosen = sample_donors(clustered, num_donors, rng)
    chosen_ids = pa.array(chosen["client_id"].tolist(), pa.string())
    samples = samples.select(["client_id", *FEATURE_NAMES])  # not the raw add-on lists

    def of_chosen(table: pa.Table) -> pd.DataFrame:
        return table.filter(pc.is_in(table.column("client_id"), value_set=chosen_ids)).to_pandas()

    return donor_profiles(chosen, of_chosen(samples), of_chosen(addons), k=k, significant_digits=significant_digits)


def with_missing_filled(frame: pd.DataFrame) -> pd.DataFrame:
    """Every missing feature value (None, NaN) replaced by the feature's `missing` value."""
    filled = {}
    for feature in FEATURES:
        values = frame[feature.name]
        if feature.kind == "categorical":
            filled[feature.name] = values.astype(object).where(values.notna(), feature.missing)
        else:
            filled[feature.name] = pd.to_numeric(values).astype(float).fillna(feature.missing)
    return frame.assign(**filled)


_FACTS_KEY = b"taar.donor_pool"


@dataclass(frozen=True)
class DonorPool:
    """The day's donors as published (plus their cluster) and the facts the checks and the
    manifest need: what was asked for, and what the clustering gave."""

    donors: pd.DataFrame  # DONOR_COLUMNS, ordered by cluster then client id
    num_donors: int  # requested (after the floor of MIN_DONORS)
    k_anonymity: int
    significant_digits: int
    num_clusters: int
    cluster_sizes: dict[int, int]  # clustered clients per cluster
    prefer_common_categories: bool = False  # how the donors were drawn (choose_donor_profiles)
    generalised: dict[str, int] = field(default_factory=dict)  # values replaced per column
    input_window: dict[str, Any] = field(default_factory=dict)  # the clients_daily days it comes from

    @property
    def clients(self) -> int:
        return sum(self.cluster_sizes.values())

    @property
    def parameters(self) -> dict[str, Any]:
        return {
            "num_clusters": self.num_clusters,
            "num_donors": self.num_donors,
            "k_anonymity": self.k_anonymity,
            "significant_digits": self.significant_digits,
            "prefer_common_categories": self.prefer_common_categories,
        }

    def to_table(self) -> pa.Table:
        facts = {
            **self.parameters,
            "cluster_sizes": {str(c): n for c, n in self.cluster_sizes.items()},
            "generalised": self.generalised,
            "input_window": self.input_window,
        }
        return with_record(pa.Table.from_pandas(self.donors, preserve_index=False), _FACTS_KEY, facts)

    @classmethod
    def from_table(cls, table: pa.Table) -> DonorPool:
        facts = record_of(table, _FACTS_KEY)
        return cls(
            donors=table.to_pandas(),
            num_donors=facts["num_donors"],
            k_anonymity=facts["k_anonymity"],
            significant_digits=facts["significant_digits"],
            num_clusters=facts["num_clusters"],
            cluster_sizes={int(c): n for c, n in facts["cluster_sizes"].items()},
            prefer_common_categories=facts.get("prefer_common_categories", False),
            generalised=facts["generalised"],
            input_window=facts["input_window"],
        )
