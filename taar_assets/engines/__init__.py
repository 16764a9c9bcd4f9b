"""Where every stage whose cost grows with the number of clients runs: the `engine` resource.

Assets call the methods of `Engine` and never ask which engine they have. Each method takes
the stage's inputs as stored tables (`StoredTable`: read in the run's process by the embedded
engine, by URL on Spark) and returns a `StageResult`: the value the IO manager stores (an
Arrow table, or an engine's own `DeferredTable` that writes itself where the engine runs)
and figures for the logs and the UI.

- `engines.local.LocalEngine` (the default): DuckDB, Arrow and NumPy in the run's process.
- `engines.spark.SparkEngine`: Spark (a local master, a cluster master such as `yarn`, or a
  Spark Connect server); pyspark is imported only when a session is first needed.

Both give the same results row for row (the tests prove it), so the stages after them read
either engine's tables the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import dagster as dg

from taar_assets.similarity.input_contract import WindowFiles
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import StoredTable


class StageResult(NamedTuple):
    value: Any  # what the IO manager stores: a pyarrow.Table or a DeferredTable
    stats: dict[str, Any]  # figures for the logs and the materialisation's metadata


class Engine(dg.ConfigurableResource):
    """The interface every engine implements (docs/behaviour.md §3.1-3.3)."""

    def samples(self, files: WindowFiles, rule: SampleRule) -> StageResult:
        """Each client's latest qualifying row in the window's `files` (docs/behaviour.md §3.1).

        The value has `taar_assets.similarity.features.SAMPLE_COLUMNS`; stats may hold `clients`.
        """
        raise NotImplementedError

    def valid_addons(self, samples: StoredTable, whitelist: frozenset[str], min_valid_exclusive: int) -> StageResult:
        """(client_id, addon_ids) of the clients with more than `min_valid_exclusive` valid add-ons
        (docs/behaviour.md §3.2). Stats: clients_in, clients_out, mean_valid_addons, distinct_addons."""
        raise NotImplementedError

    def clusters(self, addons: StoredTable, num_clusters: int, seed: int) -> StageResult:
        """(client_id, cluster) by hashed TF, IDF and Spark's bisecting k-means (docs/behaviour.md §3.3), cluster 0
        the biggest. Stats: sizes, the clients of each cluster 0 .. num_clusters - 1."""
        raise NotImplementedError
