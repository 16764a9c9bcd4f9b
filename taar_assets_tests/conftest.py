import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pytest

from taar_assets.definitions import build_definitions
from taar_assets.demo.generator import DemoSpec, write_demo_dataset
from taar_assets.resources import Settings, build_resources

DEMO_END = dt.date(2026, 11, 20)

# gcsfs picks its filesystem class when first imported, by whichever test imports it first; its
# experimental zonal-bucket class asks GCS over gRPC, which the emulator does not serve (a 60 s
# timeout per call). Settings.storage_options_for turns it off the same way for an emulator.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory):
    """A small generated clients_daily (3,000 clients over 100 days ending 2026-11-20)."""
    return write_demo_dataset(
        tmp_path_factory.mktemp("demo"), DemoSpec(clients=3000, days=100, end_date=DEMO_END, seed=7)
    )


@pytest.fixture
def settings(tmp_path: Path, demo_dataset) -> Settings:
    return Settings(
        clients_daily=str(demo_dataset.clients_daily),
        whitelist=str(demo_dataset.whitelist),
        storage=str(tmp_path / "storage"),
        publish=str(tmp_path / "published"),
        duckdb_memory_limit="1GB",
    )


def run_similarity(settings: Settings, instance=None, raise_on_error=True, run_config=None, **partition):
    """Materialise the similarity group for one partition (partition_key=) or a range (tags=)."""
    defs = build_definitions(build_resources(settings))
    job = defs.resolve_job_def("similarity_job")
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
        run_config=run_config,
        **partition,
    )


def first_failure(result) -> str:
    """The first failure of a run (a step's or the run's own), as text with its causes."""
    failure = next(event for event in result.all_events if event.is_failure)
    return str(failure.event_specific_data.error)


@pytest.fixture(scope="session")
def s3():
    """moto's S3 server on 127.0.0.1 for the session, with test credentials in the environment."""
    from taar_assets_tests.support.s3_server import (
        TEST_ENVIRONMENT,
        UNSET_ENVIRONMENT,
        local_s3_server,
    )

    with pytest.MonkeyPatch.context() as environment, local_s3_server() as server:
        for name, value in TEST_ENVIRONMENT.items():
            environment.setenv(name, value)
        for name in UNSET_ENVIRONMENT:
            environment.delenv(name, raising=False)
        yield server


@pytest.fixture
def bucket(s3) -> str:
    """A fresh, empty bucket on the local S3 server."""
    return s3.create_bucket()


@pytest.fixture(scope="session")
def gcs(tmp_path_factory):
    """gcp-storage-emulator on 127.0.0.1 for the session, found through STORAGE_EMULATOR_HOST alone."""
    from taar_assets_tests.support.gcs_server import local_gcs_emulator

    log = tmp_path_factory.mktemp("gcs") / "emulator.log"
    with pytest.MonkeyPatch.context() as environment, local_gcs_emulator(log) as emulator:
        environment.setenv("STORAGE_EMULATOR_HOST", emulator.host)
        yield emulator


@pytest.fixture
def gcs_bucket(gcs) -> str:
    """A fresh, empty bucket on the GCS emulator."""
    return gcs.create_bucket()


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session for all Spark tests; the Spark engine uses it instead of starting its own."""
    _skip_without_spark()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("taar_assets_tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _skip_without_spark() -> None:
    import os
    import shutil

    pytest.importorskip("pyspark", reason="the Spark engine's tests need pyspark (the 'spark' extra)")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("the Spark engine's tests need Java 17+")


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory):
    """The sc:// URL of a Spark Connect server on 127.0.0.1 (its own JVM) for the session."""
    _skip_without_spark()
    from taar_assets_tests.support.spark_connect_server import local_spark_connect_server

    with local_spark_connect_server(tmp_path_factory.mktemp("spark_connect") / "server.log") as url:
        yield url


# Markers, so a subset runs alone: `make test-fast` runs the unit tests that are none of these.
_MARKED_FIXTURES = {
    "spark": "spark", "spark_connect": "spark",
    "s3": "s3", "bucket": "s3",
    "gcs": "gcs", "gcs_bucket": "gcs",
    "settings": "slow", "demo_dataset": "slow",
}


def pytest_collection_modifyitems(items):
    for item in items:
        path = item.path.as_posix()
        if "/dagster/" in path or "/integration/" in path:
            item.add_marker(pytest.mark.slow)
        if path.endswith("/test_ui.py"):
            item.add_marker(pytest.mark.ui)
        if path.endswith("/test_daemon.py"):
            item.add_marker(pytest.mark.daemon)
        if path.endswith("/test_taar_services.py"):
            item.add_marker(pytest.mark.contract)
        for fixture in set(item.fixturenames) & set(_MARKED_FIXTURES):
            item.add_marker(getattr(pytest.mark, _MARKED_FIXTURES[fixture]))
