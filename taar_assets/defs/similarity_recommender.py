"""What the recommendation assets share: their inputs and the day's similarity model."""

import dagster as dg
import pandas as pd

from taar_assets.io_managers import ArrowTable, PandasFrame
from taar_assets.lib.clients_daily import PROFILE_COLUMNS
from taar_assets.lib.lr_curves import lr_curves_as_json
from taar_assets.lib.model_files import donor_records
from taar_assets.lib.recommender import SimilarityModel


def similarity_model_of(donor_pool: pd.DataFrame, lr_curves: pd.DataFrame) -> SimilarityModel:
    """Built from the same donors and curves that are published (service layout)."""
    return SimilarityModel.from_records(donor_records(donor_pool, "service"), lr_curves_as_json(lr_curves))


# The upstream assets every model-using recommendation asset reads.
MODEL_INPUTS = {
    "samples": dg.AssetIn(dagster_type=ArrowTable, metadata={"columns": list(PROFILE_COLUMNS)}),
    "addons_per_client": dg.AssetIn(dagster_type=ArrowTable),
    "donor_pool": dg.AssetIn(dagster_type=PandasFrame),
    "lr_curves": dg.AssetIn(dagster_type=PandasFrame),
    "addon_metadata": dg.AssetIn(dagster_type=ArrowTable),
}
