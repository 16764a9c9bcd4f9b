"""The pipeline runs itself: `dg dev` (webserver + daemon) on 127.0.0.1 with a temporary DAGSTER_HOME.

A new day folder of clients_daily appears while the daemon runs: the arrival sensor starts the
day's partition, which publishes the model; the automation sensor then runs the recommendation
group and the drift asset; the freshness policy (shortened to 72 s here) passes after the
publish and fails once the model is older than that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil

import dagster as dg
import pytest

from taar_assets.demo.generator import DemoSpec, write_demo_dataset
from taar_assets.similarity.input_contract import day_folder
from taar_assets_tests.conftest import run_similarity
from taar_assets_tests.support.ui_server import INSTANCE_FILE, PROJECT, dagster_dev, wait_for

FRESHNESS_SECONDS = 72
AUTOMATION_TIMEOUT = 420  # sensor ticks every 30 s, then two runs of ~10-40 s each on a shared 2-core machine


@pytest.fixture
def recent_dataset(tmp_path_factory):
    """Demo data ending yesterday (UTC), so that its days are the latest partitions."""
    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    return write_demo_dataset(
        tmp_path_factory.mktemp("recent"), DemoSpec(clients=3000, days=92, end_date=yesterday, seed=7)
    )


def materialised(instance: dg.DagsterInstance, asset: str) -> set[str]:
    return instance.get_materialized_partitions(dg.AssetKey(asset))


def freshness_changes(instance: dg.DagsterInstance) -> list:
    records = instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.FRESHNESS_STATE_CHANGE))
    changes = [record.event_log_entry.dagster_event.event_specific_data for record in records]
    return sorted((c for c in changes if c.key == dg.AssetKey("similarity_model")), key=lambda c: c.state_change_timestamp)


@pytest.mark.timeout(900)
@pytest.mark.filterwarnings("ignore:Function `EventMethods.get_event_records` is deprecated:DeprecationWarning")
def test_a_new_day_runs_publishes_and_is_followed_by_recommendation_and_drift(
    recent_dataset, settings, tmp_path, monkeypatch
):
    settings = dataclasses.replace(
        settings, clients_daily=str(recent_dataset.clients_daily), whitelist=str(recent_dataset.whitelist)
    )
    new_day, previous_day = recent_dataset.days[-1], recent_dataset.days[-2]
    incoming = tmp_path / "incoming"
    os.rename(recent_dataset.clients_daily / day_folder(new_day), incoming)  # not landed yet

    # The day before is already built, as it would be on a running deployment.
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_FILE, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # this process reads the daemon's instance
    with dg.DagsterInstance.get() as instance:
        assert run_similarity(settings, instance=instance, partition_key=f"{previous_day}").success

    overrides = {
        "TAAR_MODEL_MAX_AGE_HOURS": str(FRESHNESS_SECONDS / 3600),
        "FRESHNESS_DAEMON_INTERVAL_SECONDS": "5",
        "TAAR_INPUT_QUIET_MINUTES": "",  # the marker only: the other days are freshly written too
    }
    log = PROJECT / "test-artifacts" / "daemon" / "dg-dev.log"
    with dagster_dev(settings, home, log, environment=overrides) as server, dg.DagsterInstance.get() as instance:
        # The folder lands whole (with its _SUCCESS marker), as an exporter's final rename does.
        os.rename(incoming, recent_dataset.clients_daily / day_folder(new_day))
        day = f"{new_day}"
        for asset in ("similarity_model", "recommendation_evaluation", "model_drift"):
            wait_for(lambda asset=asset: day in materialised(instance, asset), AUTOMATION_TIMEOUT,
                     f"{asset} {day} (daemon log: {server.log_tail(2000)})", interval=3)

        model_event = instance.get_latest_materialization_event(dg.AssetKey("similarity_model"))
        model_run = instance.get_run_by_id(model_event.run_id)
        assert model_run.tags.get("dagster/sensor_name") == "clients_daily_arrival"
        assert model_run.tags.get("dagster/partition") == day
        for asset in ("recommendation_evaluation", "model_drift"):
            run = instance.get_run_by_id(instance.get_latest_materialization_event(dg.AssetKey(asset)).run_id)
            assert run.tags.get("dagster/sensor_name") == "model_followers_automation", run.tags
        assert f"{previous_day}" not in materialised(instance, "recommendation_evaluation")  # only the new day

        manifest = (os.path.join(settings.publish, "manifest.json"))
        assert f'"date": "{day}"' in open(manifest).read()
        assert os.path.isfile(os.path.join(settings.publish, f"donors{new_day:%Y%m%d}.json"))
        drift = instance.get_latest_materialization_event(dg.AssetKey("model_drift")).asset_materialization
        assert drift.partition == day and drift.metadata["previous_day"].value == f"{previous_day}"

        # Freshness: fresh after the publish, failing once the model is older than its window.
        published_at = model_event.timestamp
        stale = wait_for(
            lambda: [c for c in freshness_changes(instance) if c.new_state.value == "FAIL"
                     and c.state_change_timestamp > published_at],
            FRESHNESS_SECONDS + 120, "the published model to fail its freshness policy", interval=3,
        )
        assert stale[0].previous_state.value == "PASS"
        assert stale[0].state_change_timestamp >= published_at + FRESHNESS_SECONDS
