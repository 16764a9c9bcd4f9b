"""Donor profiles as published: sample features + valid add-ons + cluster, made k-anonymous."""

from __future__ import annotations

import pandas as pd

from taar_assets.lib.distance import CONTINUOUS_FEATURES
from taar_assets.lib.model_files import DONOR_FIELDS
from taar_assets.lib.privacy import generalise_categories, round_significant

# Generalised in this order: the city identifies most, the locale least.
GENERALISATION_ORDER = ("city", "os", "locale")
DONOR_COLUMNS = (*DONOR_FIELDS, "cluster")


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
    Returns the donors without client_id, rows ordered by cluster then client id, with rare
    categorical values generalised (k-anonymity) and continuous values rounded; plus the
    number of values generalised per column.
    """
    donors = chosen.merge(features, on="client_id", how="left", validate="one_to_one").merge(
        addons.rename(columns={"addon_ids": "active_addons"}), on="client_id", how="left", validate="one_to_one"
    )
    missing = int(donors["active_addons"].isna().sum())
    if missing:
        raise ValueError(f"{missing} donors have no add-on list: clusters and addons_per_client disagree")
    donors = donors.sort_values(["cluster", "client_id"], kind="stable").reset_index(drop=True)
    donors, replaced = generalise_categories(donors, GENERALISATION_ORDER, k)
    for column in CONTINUOUS_FEATURES:
        donors[column] = round_significant(donors[column], significant_digits)
    donors["active_addons"] = donors["active_addons"].map(list)
    return donors[list(DONOR_COLUMNS)], replaced
