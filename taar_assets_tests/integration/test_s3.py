"""Everything on S3: the real S3 protocol against moto's server on 127.0.0.1 (see s3_server.py)."""

import dataclasses
import io
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taar_assets.io_managers import ArrowTable, PandasFrame, ParquetIOManagerFactory
from taar_assets.partitions import daily_partitions
from s3fs import S3FileSystem

from taar_assets.resources import Settings
from taar_assets.similarity import model_files
from taar_assets_tests.conftest import run_similarity
from taar_assets_tests.support.fault_proxy import Fault, fault_proxy

DAY = "2026-11-20"
STAGES = ["amo_whitelist", "samples", "addons_per_client", "clusters", "donor_pool", "lr_curves"]
MISSING_BUCKET = "taar-no-such-bucket"


@pytest.fixture(scope="module")
def s3_run(s3, demo_dataset):
    """The demo dataset uploaded to a bucket and one partition built there, every location on S3.

    Returns (settings, instance, result); later tests re-run similarity_model alone on its stored
    upstream values.
    """
    bucket = s3.create_bucket()
    fs = s3.filesystem()
    fs.put(f"{demo_dataset.clients_daily}/", f"{bucket}/clients_daily/", recursive=True)
    fs.put_file(str(demo_dataset.whitelist), f"{bucket}/whitelist.json")
    settings = Settings(
        clients_daily=f"s3://{bucket}/clients_daily",
        whitelist=f"s3://{bucket}/whitelist.json",
        storage=f"s3://{bucket}/storage",
        publish=f"s3://{bucket}/published",
        duckdb_memory_limit="1GB",
        s3_endpoint_url=s3.endpoint_url,
        s3_region=s3.region,
    )
    instance = dg.DagsterInstance.ephemeral()
    return settings, instance, run_similarity(settings, instance=instance, partition_key=DAY)


def publish_model_only(settings: Settings, instance, publish: str, **options):
    """Run only similarity_model for DAY, reading its stored inputs, publishing to `publish`."""
    return run_similarity(
        dataclasses.replace(settings, publish=publish),
        instance=instance,
        partition_key=DAY,
        asset_selection=[dg.AssetKey("similarity_model")],
        **options,
    )


def retries(result) -> list:
    return [event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def objects(fs, prefix: str) -> dict[str, bytes]:
    """The objects under `prefix` by name, leases aside (they say who published, and when)."""
    return {path.rsplit("/", 1)[-1]: fs.cat_file(path) for path in fs.find(prefix) if "/_leases/" not in path}


def test_settings_give_every_s3_location_the_endpoint_region_and_time_outs(s3):
    environment = {
        "TAAR_S3_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ENDPOINT_URL": "http://elsewhere",
        "AWS_REGION": s3.region,
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    defaults = {"connect_timeout": 5.0, "read_timeout": 20.0, "retries": {"total_max_attempts": 3, "mode": "standard"}}
    assert Settings.from_env(environment).storage_options_for("s3://b/k") == {**s3.storage_options, "config_kwargs": defaults}
    assert Settings.from_env({"AWS_ENDPOINT_URL": "http://a", "AWS_DEFAULT_REGION": "eu-west-1"}).storage_options_for("s3://b/k") == {
        "client_kwargs": {"endpoint_url": "http://a", "region_name": "eu-west-1"},
        "config_kwargs": defaults,
    }
    configured = Settings.from_env(
        {"TAAR_S3_CONNECT_TIMEOUT": "2", "TAAR_S3_READ_TIMEOUT": "7.5", "TAAR_S3_MAX_ATTEMPTS": "6"}
    )
    assert configured.storage_options_for("s3://b/k") == {
        "config_kwargs": {"connect_timeout": 2.0, "read_timeout": 7.5, "retries": {"total_max_attempts": 6, "mode": "standard"}}
    }
    with pytest.raises(ValueError, match="TAAR_S3_READ_TIMEOUT must be a number of seconds above 0, got '0'"):
        Settings.from_env({"TAAR_S3_READ_TIMEOUT": "0"})
    with pytest.raises(ValueError, match="TAAR_S3_MAX_ATTEMPTS must be a whole number above 0, got '2.5'"):
        Settings.from_env({"TAAR_S3_MAX_ATTEMPTS": "2.5"})
    assert Settings.from_env(environment).storage_options_for("data/published") == {}


def test_a_partition_on_s3_publishes_what_a_local_run_publishes(s3, s3_run, settings):
    s3_settings, _, result = s3_run
    assert result.success
    fs = s3.filesystem()
    bucket = s3_settings.storage.removeprefix("s3://").split("/")[0]
    for stage in STAGES:
        assert fs.isfile(f"{bucket}/storage/{stage}/{DAY}.parquet"), stage

    assert run_similarity(settings, partition_key=DAY).success
    local = {path.name: path.read_bytes() for path in Path(settings.publish).iterdir() if path.is_file()}
    assert objects(fs, f"{bucket}/published") == local
    assert {"donors.json", "donors20261120.json", "lr_curves.json", "manifest.json"} <= set(local)


def test_a_transient_publish_error_retries_the_step(s3, s3_run):
    s3_settings, instance, _ = s3_run
    bucket = s3.create_bucket()
    with fault_proxy(s3.endpoint_url) as proxy:
        # S3 throttles the first archive object for longer than the client's own retries (s3fs's
        # five tries, one botocore attempt each): the step fails once, then its retry publishes.
        proxy.inject(Fault.SLOW_DOWN, r"^PUT .*/donors20261120\.json$", times=S3FileSystem.retries)
        through_proxy = dataclasses.replace(s3_settings, s3_endpoint_url=proxy.url, s3_max_attempts=1)
        result = publish_model_only(through_proxy, instance, f"s3://{bucket}/published")

    assert result.success
    assert len(retries(result)) == 1
    assert "manifest.json" in objects(s3.filesystem(), f"{bucket}/published")


def test_a_transient_read_of_the_input_retries_the_step(s3, s3_run):
    s3_settings, instance, _ = s3_run
    with fault_proxy(s3.endpoint_url) as proxy:
        # S3 throttles the first input file for longer than the client's own retries (as above).
        proxy.inject(Fault.SLOW_DOWN, r"^GET .*/clients_daily/submission_date_s3=20260823/", times=S3FileSystem.retries)
        through_proxy = dataclasses.replace(s3_settings, s3_endpoint_url=proxy.url, s3_max_attempts=1)
        result = run_similarity(
            through_proxy, instance=instance, partition_key=DAY, asset_selection=[dg.AssetKey("samples")]
        )

    assert result.success
    assert len(retries(result)) == 1
    retry = retries(result)[0].event_specific_data.error
    assert "could not read s3://" in str(retry) and "submission_date_s3=20260823" in str(retry)


def test_a_deterministic_publish_error_is_not_retried(s3_run, monkeypatch):
    s3_settings, instance, _ = s3_run

    def overflow(*args, **kwargs):
        raise OverflowError("(34, 'Numerical result out of range')")

    monkeypatch.setattr(model_files, "model_documents", overflow)
    result = publish_model_only(s3_settings, instance, f"{s3_settings.publish}-overflow", raise_on_error=False)

    assert not result.success and not retries(result)
    assert "Numerical result out of range" in str(result.failure_data_for_node("similarity_model").error)


def test_a_missing_bucket_fails_at_once_naming_bucket_and_key(s3_run):
    s3_settings, instance, _ = s3_run
    result = publish_model_only(s3_settings, instance, f"s3://{MISSING_BUCKET}/similarity", raise_on_error=False)

    assert not result.success and not retries(result)
    message = result.failure_data_for_node("similarity_model").error.message
    assert f"could not take the lease s3://{MISSING_BUCKET}/similarity/_leases/publish" in message
    assert "bucket does not exist" in message


# A tiny two-asset graph: an Arrow table stored by one asset, read back as pandas by the next.
@dg.asset(partitions_def=daily_partitions, dagster_type=ArrowTable)
def events(context: dg.AssetExecutionContext) -> pa.Table:
    return pa.table({"day": [context.partition_key] * 3, "value": [1.5, 2.5, 3.5]})


@dg.asset(
    partitions_def=daily_partitions,
    ins={"events": dg.AssetIn(dagster_type=PandasFrame)},
    dagster_type=PandasFrame,
)
def doubled(events: pd.DataFrame) -> pd.DataFrame:
    return events.assign(value=events["value"] * 2)


def test_the_parquet_io_manager_round_trips_on_s3(s3, bucket):
    io_manager = ParquetIOManagerFactory(base_url=f"s3://{bucket}/storage", storage_options=s3.storage_options)
    resources = {"io_manager": io_manager}
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([events, doubled], partition_key=DAY, resources=resources, instance=instance).success

    fs = s3.filesystem()
    assert sorted(fs.find(f"{bucket}/storage")) == [
        f"{bucket}/storage/doubled/{DAY}.parquet",
        f"{bucket}/storage/events/{DAY}.parquet",
    ]
    stored = pq.read_table(io.BytesIO(fs.cat_file(f"{bucket}/storage/doubled/{DAY}.parquet")))
    assert stored.to_pydict() == {"day": [DAY] * 3, "value": [3.0, 5.0, 7.0]}

    # `doubled` for a day whose `events` were never stored: the error names the missing object.
    missing = dg.materialize(
        [events, doubled], selection=[doubled], partition_key="2026-11-19",
        resources=resources, instance=instance, raise_on_error=False,
    )
    assert not missing.success
    message = missing.failure_data_for_node("doubled").error.cause.message
    assert f"events has no stored data at s3://{bucket}/storage/events/2026-11-19.parquet" in message
    assert "materialise that partition first" in message


def test_the_parquet_io_manager_names_the_object_it_could_not_write(s3):
    io_manager = ParquetIOManagerFactory(base_url=f"s3://{MISSING_BUCKET}/storage", storage_options=s3.storage_options)
    result = dg.materialize([events], partition_key=DAY, resources={"io_manager": io_manager}, raise_on_error=False)
    assert not result.success
    message = result.failure_data_for_node("events").error.cause.message
    assert f"could not write s3://{MISSING_BUCKET}/storage/events/{DAY}.parquet" in message
    assert "bucket does not exist" in message
