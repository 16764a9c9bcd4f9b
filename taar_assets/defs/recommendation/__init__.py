"""The recommendation group: what its assets share (the stored values they read, as Dagster inputs)."""

import dagster as dg

from taar_assets.io_managers import ArrowTable, document_type, table_type
from taar_assets.recommendation.install_model import InstallModel
from taar_assets.recommendation.sources import CandidateSources
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.features import FEATURE_NAMES
from taar_assets.similarity.lr_curves import LrCurves

# The day's model (as published) and the clients it was built from.
MODEL_INPUTS = {
    "samples": dg.AssetIn(dagster_type=ArrowTable, metadata={"columns": ["client_id", *FEATURE_NAMES]}),
    "addons_per_client": dg.AssetIn(dagster_type=ArrowTable),
    "donor_pool": dg.AssetIn(dagster_type=table_type(DonorPool)),
    "lr_curves": dg.AssetIn(dagster_type=table_type(LrCurves)),
    "addon_metadata": dg.AssetIn(dagster_type=ArrowTable),
}
CANDIDATE_SOURCES_INPUT = dg.AssetIn(
    "candidate_sources", dagster_type=document_type(CandidateSources), input_manager_key="document_io_manager"
)
INSTALL_MODEL_INPUT = dg.AssetIn(
    "install_model", dagster_type=document_type(InstallModel), input_manager_key="document_io_manager"
)
