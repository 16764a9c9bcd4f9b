"""Donor profiles as published: sample features + valid add-ons + cluster, made k-anonymous."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from taar_assets.similarity.features import ADDONS_COLUMN, CONTINUOUS_FEATURES, FEATURE_NAMES, FEATURES
from taar_assets.similarity.privacy import generalise_categories, round_significant
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
    generalised: dict[str, int] = field(default_factory=dict)  # values replaced per column
    input_window: dict[str, Any] = field(default_factory=dict)  # the clients_daily days it comes from
    client_ids_published: list[str] = field(default_factory=list)  # published values that are client ids

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
        }

    def to_table(self) -> pa.Table:
        facts = {
            **self.parameters,
            "cluster_sizes": {str(c): n for c, n in self.cluster_sizes.items()},
            "generalised": self.generalised,
            "input_window": self.input_window,
            "client_ids_published": self.client_ids_published,
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
            generalised=facts["generalised"],
            input_window=facts["input_window"],
            client_ids_published=facts["client_ids_published"],
        )
