"""The embedded engine: DuckDB, Arrow and NumPy inside the run's process (one machine, out of core)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from taar_assets.engines import Engine, StageResult
from taar_assets.engines.local.addons import valid_addons_per_client
from taar_assets.engines.local.samples import build_samples
from taar_assets.similarity.clustering import cluster_clients
from taar_assets.similarity.input_contract import WindowFiles
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import StoredTable


class LocalEngine(Engine):
    """DuckDB, Arrow and NumPy inside the run's process."""

    memory_limit: str = Field("3GB", description="DuckDB's memory cap; it spills to disk beyond it.")
    threads: int | None = Field(None, description="DuckDB's threads; by default one per core.")

    def samples(self, files: WindowFiles, rule: SampleRule) -> StageResult:
        table = build_samples(files, rule, memory_limit=self.memory_limit, threads=self.threads)
        return StageResult(table, {"clients": table.num_rows})

    def valid_addons(self, samples: StoredTable, whitelist: frozenset[str], min_valid_exclusive: int) -> StageResult:
        day_samples = samples.read(["client_id", "active_addons"])
        table = valid_addons_per_client(day_samples, whitelist, min_valid_exclusive)
        counts = pc.list_value_length(table.column("addon_ids"))
        return StageResult(
            table,
            {
                "clients_in": day_samples.num_rows,
                "clients_out": table.num_rows,
                "mean_valid_addons": round(pc.mean(counts).as_py() or 0.0, 2),
                "distinct_addons": len(pc.unique(pc.list_flatten(table.column("addon_ids")))),
            },
        )

    def clusters(self, addons: StoredTable, num_clusters: int, seed: int) -> StageResult:
        clients = addons.read()
        labels = cluster_clients(clients.column("addon_ids"), num_clusters, seed)
        table = pa.table({"client_id": clients.column("client_id"), "cluster": pa.array(labels, pa.int32())})
        return StageResult(table, {"sizes": np.bincount(labels, minlength=num_clusters).tolist()})
