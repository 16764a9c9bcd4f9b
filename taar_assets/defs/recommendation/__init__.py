"""The recommendation group: what its assets share (the stored values they read, as Dagster inputs)."""

import dagster as dg

from taar_assets.io_managers import ArrowTable, StoredTableInput, document_type, table_type
from taar_assets.recommendation.install_model import InstallModel
from taar_assets.recommendation.sources import CandidateSources
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves

# The clients, read where the engine runs.
CLIENT_TABLES = {name: dg.AssetIn(dagster_type=StoredTableInput) for name in ("samples", "addons_per_client")}
# The day's model (as published), the clients it was built from and the add-on metadata.
MODEL_INPUTS = {
    **CLIENT_TABLES,
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
