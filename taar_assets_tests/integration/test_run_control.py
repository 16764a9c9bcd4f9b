"""Stopping a run and running one partition twice at once, with real processes: `taar-assets run`
as a subprocess, its publishing held at an exact request by the fault-injecting proxy."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from taar_assets_tests.conftest import first_failure, run_similarity
from taar_assets_tests.support.fault_proxy import Fault, fault_proxy
from taar_assets_tests.support.s3_server import REGION

PROJECT = Path(__file__).resolve().parents[2]
TAAR_ASSETS = Path(sys.executable).parent / "taar-assets"
DAY = "2026-11-20"
LATEST_PUT = r"^PUT .*/similarity/(donors|lr_curves|manifest)\.json$"


@pytest.fixture
def proxy(s3):
    with fault_proxy(s3.endpoint_url) as proxy:
        yield proxy


def start_run(settings, dagster_home: Path, **environment) -> subprocess.Popen:
    dagster_home.mkdir(exist_ok=True)
    (dagster_home / "dagster.yaml").write_text((PROJECT / "deploy" / "dagster.yaml").read_text())
    env = {
        **os.environ,
        "TAAR_CLIENTS_DAILY": settings.clients_daily,
        "TAAR_WHITELIST": settings.whitelist,
        "TAAR_STORAGE": settings.storage,
        "TAAR_PUBLISH": settings.publish,
        "DAGSTER_HOME": str(dagster_home),
        **environment,
    }
    return subprocess.Popen(
        [TAAR_ASSETS, "run", "--partition", DAY], cwd=PROJECT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def recorded_run(dagster_home: Path):
    """(run, its event types) of the one run recorded in `dagster_home`."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs()
        events = [entry.dagster_event.event_type for entry in instance.all_logs(run.run_id) if entry.dagster_event]
        return run, events


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_publishing_stops_the_run_for_good(settings, s3, proxy, tmp_path, signum):
    bucket = s3.create_bucket()
    # The first latest object is held unanswered, so the signal comes while the day is being published.
    proxy.inject(Fault.STALL, r"^PUT .*/similarity/donors\.json$", times=1)
    process = start_run(
        settings, tmp_path / "home",
        TAAR_PUBLISH=f"s3://{bucket}/similarity", TAAR_S3_ENDPOINT_URL=proxy.url, TAAR_S3_REGION=REGION,
    )
    try:
        proxy.wait_for(r"^PUT .*/similarity/donors\.json$", timeout=240)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()

    assert process.returncode == 130, output[-3000:]
    assert "was stopped" in output
    # No retry: the stalled write is the only write of a latest object.
    assert len(proxy.requests(LATEST_PUT)) == 1
    run, events = recorded_run(tmp_path / "home")
    assert run.status in (dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE)
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in events
    assert dg.DagsterEventType.RUN_SUCCESS not in events


def test_a_second_run_of_a_partition_being_built_fails_and_cannot_mix_the_models(settings, s3, proxy, tmp_path):
    bucket = s3.create_bucket()
    # Run A (20 clusters, its own process) is held while it stores its LR curves...
    hold = proxy.inject(Fault.STALL, r"^PUT .*/storage/lr_curves/2026-11-20\.parquet$")
    first = start_run(
        settings, tmp_path / "home",
        TAAR_STORAGE=f"s3://{bucket}/storage", TAAR_PUBLISH=f"s3://{bucket}/similarity",
        TAAR_S3_ENDPOINT_URL=proxy.url, TAAR_S3_REGION=REGION, TAAR_S3_READ_TIMEOUT="120",
    )
    try:
        proxy.wait_for(r"^PUT .*/storage/lr_curves/2026-11-20\.parquet$", timeout=240)
        # ... when run B (10 clusters, this process, same storage) starts the same partition.
        second_settings = dataclasses.replace(
            settings, storage=f"s3://{bucket}/storage", publish=f"s3://{bucket}/similarity",
            s3_endpoint_url=s3.endpoint_url, s3_region=REGION,
        )
        second = run_similarity(
            second_settings, partition_key=DAY, raise_on_error=False,
            run_config={"ops": {"clusters": {"config": {"num_clusters": 10}}}},
        )
        proxy.remove(hold)
        proxy.release()
        output, _ = first.communicate(timeout=240)
    finally:
        first.kill()

    assert not second.success
    message = first_failure(second)
    assert f"partition {DAY} of s3://{bucket}/storage is held by run " in message
    assert first.returncode == 0, output[-3000:]
    fs = s3.filesystem()
    manifest = json.loads(fs.cat_file(f"{bucket}/similarity/manifest.json"))
    assert manifest["parameters"]["num_clusters"] == 20
    assert manifest["counts"]["clusters"] > 10  # the donors of run A's 20 clusters, not run B's 10
    assert not any(event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION for event in second.all_events)
