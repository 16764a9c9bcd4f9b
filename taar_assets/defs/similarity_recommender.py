"""The day's similarity model as the service would load it, for the recommendation assets."""

import pandas as pd

from taar_assets.lib.lr_curves import lr_curves_as_json
from taar_assets.lib.model_files import donor_records
from taar_assets.lib.recommender import SimilarityModel


def similarity_model_of(donor_pool: pd.DataFrame, lr_curves: pd.DataFrame) -> SimilarityModel:
    """Built from the same donors and curves that are published (service layout)."""
    return SimilarityModel.from_records(donor_records(donor_pool, "service"), lr_curves_as_json(lr_curves))
