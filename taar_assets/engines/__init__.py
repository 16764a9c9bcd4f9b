"""Where the heavy stages (samples, addons_per_client, clusters) run: the `engine` resource.

`LocalEngine` (the default) computes them in the run's process with DuckDB, Arrow and
NumPy. `SparkEngine` computes them on Spark (a local master, a cluster master such as
`yarn`, or a Spark Connect server) and has Spark write their parquet; the stages after them read
that parquet the same way for both engines. pyspark is imported only when a Spark session is
first needed, so the local engine runs without it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class Engine(dg.ConfigurableResource):
    """The base of the engines; assets take an `engine: Engine` and ask which one they have."""


class LocalEngine(Engine):
    """DuckDB, Arrow and NumPy inside the run's process."""


class SparkEngine(Engine):
    """Spark: one session per run, created when a stage first needs it and stopped when the run ends."""

    master: str = Field("local[2]", description="Spark master (local[N], yarn, spark://host:7077, k8s://...).")
    remote: str | None = Field(None, description="Spark Connect URL (sc://host:15002); when set, master is unused.")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark configuration, e.g. spark.executor.memory.")
    app_name: str = "taar_assets"

    _session: Any = PrivateAttr(default=None)
    _owns_session: bool = PrivateAttr(default=False)

    def session(self) -> SparkSession:
        if self._session is None:
            self._session, self._owns_session = self._open_session()
        return self._session

    def _open_session(self) -> tuple[SparkSession, bool]:
        from pyspark.sql import SparkSession

        if not self.remote:
            # A session that is already running (a notebook's, a test suite's) belongs to whoever
            # started it: use it and leave it running.
            active = SparkSession.getActiveSession()
            if active is not None:
                return active, False
        builder = SparkSession.builder.appName(self.app_name)
        if self.remote:
            builder = builder.remote(self.remote)
        elif "PYSPARK_GATEWAY_PORT" not in os.environ:
            # Under spark-submit (which starts the JVM and sets that variable) its --master applies.
            builder = builder.master(self.master)
        for key, value in self.conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate(), True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._session is not None and self._owns_session:
            self._session.stop()
        self._session = None
