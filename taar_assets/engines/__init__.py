"""Where every stage whose cost grows with the number of clients runs: the `engine` resource.

Assets call the methods of `Engine` and never ask which engine they have. The methods take
the stage's inputs as stored tables (`StoredTable`: read where the engine runs, never loaded
whole into the run's process) and return either a `StageResult` (a table the IO manager
stores: a `DeferredTable` the engine writes itself) or something small: a few numbers, the
donors, counts over the catalogue, a bounded sample of clients.

- `engines.local.LocalEngine` (the default): DuckDB (out of core), Arrow and NumPy in the run's
  process.
- `engines.spark.SparkEngine`: Spark (a local master, a cluster master such as `yarn`, or a
  Spark Connect server); pyspark is imported only when a session is first needed.

Both give the same results row for row (the tests prove it), so a model built on either is
published byte for byte the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

import dagster as dg
import pandas as pd

from taar_assets.recommendation.counts import AddonCounts, ClientSplit, Group
from taar_assets.similarity.features import FEATURES
from taar_assets.similarity.input_contract import WindowFiles
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import StoredTable


FUNNEL = ("rows", "with_client_id", "release", "firefox", "qualifying")
CONTINUOUS_SOURCES = tuple(feature.source for feature in FEATURES if feature.kind == "continuous")


def input_report(per_file: list[dict[str, Any]]) -> dict[str, Any]:
    """The samples stage's figures from per-file counts (file, the FUNNEL steps, implausible
    values per continuous column): `funnel`, rows left after each step of the row rule, and
    `implausible_values`, the files that had any, with their counts."""
    return {
        "funnel": {step: sum(int(row[step]) for row in per_file) for step in FUNNEL},
        "implausible_values": [
            {"file": row["file"], **{name: int(row[name]) for name in CONTINUOUS_SOURCES if row[name]}}
            for row in per_file
            if any(row[name] for name in CONTINUOUS_SOURCES)
        ],
    }


class StageResult(NamedTuple):
    value: Any  # what the IO manager stores: a DeferredTable (or a pyarrow.Table)
    stats: dict[str, Any]  # figures known before the table is written, for logs and metadata


class Engine(dg.ConfigurableResource):
    """The interface every engine implements (docs/behaviour.md §3)."""

    def samples(self, files: WindowFiles, rule: SampleRule) -> StageResult:
        """Each client's latest qualifying row in `files` (SAMPLE_COLUMNS, sorted by client_id),
        implausible continuous values read as missing. Stats: `input_report` of the files."""
        raise NotImplementedError

    def advance_samples(
        self, previous: StoredTable, day: WindowFiles, rule: SampleRule, oldest: dt.date
    ) -> StageResult:
        """The next day's samples from the previous day's: its rows dated `oldest` or later,
        overridden by the latest qualifying rows of `day`'s files (which must be the day after).
        Equal to `samples` over the new window. Stats as `samples`."""
        raise NotImplementedError

    def valid_addons(self, samples: StoredTable, whitelist: frozenset[str], min_valid_exclusive: int) -> StageResult:
        """(client_id, addon_ids) of the clients with more than `min_valid_exclusive` valid add-ons."""
        raise NotImplementedError

    def clusters(self, addons: StoredTable, num_clusters: int, seed: int) -> StageResult:
        """(client_id, cluster) by hashed TF, IDF and Spark's bisecting k-means, cluster 0 the
        biggest. Stats: `sizes`, the clients of each cluster 0 .. num_clusters - 1."""
        raise NotImplementedError

    def cluster_sizes(self, clusters: StoredTable) -> dict[int, int]:
        """Clients per cluster (non-empty clusters)."""
        raise NotImplementedError

    def select_donors(
        self,
        clusters: StoredTable,
        samples: StoredTable,
        addons: StoredTable,
        quotas: Mapping[int, int],
        seed: str,
    ) -> pd.DataFrame:
        """Within each cluster c, the `quotas[c]` clients first in the order of md5(seed:client_id)
        (then client_id): (client_id, cluster, the features, addon_ids), by cluster then client_id."""
        raise NotImplementedError

    def client_ids_among(self, clusters: StoredTable, values: Collection[str]) -> set[str]:
        """Which of `values` are client ids of the clustered clients."""
        raise NotImplementedError

    def addon_counts(self, addons: StoredTable, samples: StoredTable, split: ClientSplit, group: Group) -> AddonCounts:
        """The group's add-on, locale and co-installation counts (`AddonCounts`)."""
        raise NotImplementedError

    def client_sample(
        self, addons: StoredTable, samples: StoredTable, split: ClientSplit, group: Group, limit: int, seed: str
    ) -> pd.DataFrame:
        """At most `limit` clients of the group, the first in the order of md5(seed:client_id):
        (client_id, addon_ids, the features), by client_id."""
        raise NotImplementedError
