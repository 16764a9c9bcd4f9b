"""The day's drift asset and its check, the arrival sensor, the cron fallback and the failure alert,
on a real Dagster instance."""

import dataclasses
import datetime as dt

import dagster as dg
import pytest

from taar_assets.definitions import build_definitions
from taar_assets.resources import AlertWebhook, ClientsDailyResource, build_resources
from taar_assets_tests.conftest import run_similarity
from taar_assets_tests.support.webhook_server import webhook_receiver

DAY, PREVIOUS = "2026-11-20", "2026-11-19"
DRIFT_MEASURES = {"donors_per_cluster", "lr_curves", "top10_changed_share"}


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        yield instance


def materialise_drift(settings, instance, day, run_config=None):
    defs = build_definitions(build_resources(settings))
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("model_drift")},
        asset_check_selection={dg.AssetCheckKey(dg.AssetKey("model_drift"), "drift_within_thresholds")},
    )
    return job.execute_in_process(instance=instance, partition_key=day, run_config=run_config)


def test_model_drift_compares_the_day_with_the_previous_day_and_warns_past_its_thresholds(settings, instance):
    for day in (PREVIOUS, DAY):
        assert run_similarity(settings, instance=instance, partition_key=day).success
    # 3,000 clients churn more from day to day than the README's 20,000-client figures
    small_population = {"ops": {"model_drift": {"config": {"top10_changed_share_threshold": 0.6}}}}
    result = materialise_drift(settings, instance, DAY, small_population)
    [materialisation] = result.get_asset_materialization_events()
    metadata = materialisation.step_materialization_data.materialization.metadata
    assert metadata["previous_day"].value == PREVIOUS and metadata["panel_size"].value == 300
    assert 0 < metadata["donors_per_cluster"].value < 0.1 and 0 < metadata["lr_curves"].value < 0.2
    assert 0 <= metadata["top10_changed_share"].value < 0.6 and 0.4 < metadata["mean_top10_overlap"].value < 1
    for chart in ("donors_per_cluster_chart", "lr_curves_chart", "top10_overlap_chart"):
        assert metadata[chart].value.startswith("![")
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.severity == dg.AssetCheckSeverity.WARN

    tight = {"ops": {"model_drift": {"config": {"top10_changed_share_threshold": 0.6, "lr_curves_threshold": 0.001}}}}
    result = materialise_drift(settings, instance, DAY, tight)
    assert result.success  # non-blocking: the run goes on
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert list(check.metadata["exceeded"].value) == [f"{DAY} lr_curves"]


def test_the_first_day_has_nothing_to_compare_with(settings, instance):
    assert run_similarity(settings, instance=instance, partition_key=PREVIOUS).success
    result = materialise_drift(settings, instance, PREVIOUS)
    [materialisation] = result.get_asset_materialization_events()
    assert materialisation.step_materialization_data.materialization.metadata["previous_day"].value == (
        "2026-11-18: not built"
    )
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["days_compared"].value == []


def day_folder(root, day: dt.date, files):
    folder = root / f"submission_date_s3={day:%Y%m%d}"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"x")


def evaluate_arrival(defs, instance, root):
    sensor = defs.get_sensor_def("clients_daily_arrival")
    resource = ClientsDailyResource(root=str(root), whitelist="unused.json", quiet_minutes=None)
    with dg.build_sensor_context(instance=instance, resources={"clients_daily": resource}) as context:
        return sensor(context)


def test_the_arrival_sensor_requests_each_complete_day_not_yet_built(settings, instance, tmp_path):
    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    root = tmp_path / "clients_daily"
    day_folder(root, yesterday, ["part-0.parquet", "_SUCCESS"])
    day_folder(root, yesterday - dt.timedelta(days=1), ["part-0.parquet"])  # no marker yet
    day_folder(root, yesterday - dt.timedelta(days=30), ["part-0.parquet", "_SUCCESS"])  # too old to watch
    defs = build_definitions(build_resources(settings))

    result = evaluate_arrival(defs, instance, root)
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [(f"{yesterday}", f"clients_daily:{yesterday}")]
    [observation] = result.asset_events
    assert observation.partition == f"{yesterday}" and "_SUCCESS" in observation.metadata["complete"].text

    instance.report_runless_asset_event(dg.AssetMaterialization("similarity_model", partition=f"{yesterday}"))
    skipped = evaluate_arrival(defs, instance, root)
    assert isinstance(skipped, dg.SkipReason)
    assert f"{yesterday - dt.timedelta(days=1)}: waiting for the marker" in skipped.skip_message


def test_the_cron_fallback_skips_a_day_already_built(settings, instance):
    defs = build_definitions(build_resources(settings))
    schedule = defs.get_schedule_def("similarity_job_schedule")
    at = dt.datetime(2026, 11, 21, 4, tzinfo=dt.timezone.utc)

    def tick():
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
        )
        return schedule.evaluate_tick(context)

    assert schedule.cron_schedule == "0 4 * * *"
    assert [request.partition_key for request in tick().run_requests] == [DAY]
    instance.report_runless_asset_event(dg.AssetMaterialization("similarity_model", partition=DAY))
    assert not tick().run_requests and "already built" in tick().skip_message


def test_a_failed_run_is_announced_on_the_webhook(settings, instance, tmp_path):
    broken = dataclasses.replace(settings, whitelist=str(tmp_path / "no-whitelist.json"))
    failed = run_similarity(broken, instance=instance, raise_on_error=False, partition_key=DAY)
    assert not failed.success
    failure = next(event for event in failed.all_events if event.event_type == dg.DagsterEventType.RUN_FAILURE)
    sensor = build_definitions(build_resources(settings)).get_sensor_def("run_failure_alert")
    with webhook_receiver() as webhook:
        resource = AlertWebhook(url=webhook.url, ui_url="http://127.0.0.1:3000")
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert", dagster_instance=instance,
            dagster_run=instance.get_run_by_id(failed.run_id), dagster_event=failure,
            resources={"alert_webhook": resource},
        ).for_run_failure()
        sensor(context)
    [body] = webhook.bodies
    assert body["job"] == "similarity_job" and body["partition"] == DAY and body["run_id"] == failed.run_id
    assert "no-whitelist.json" in body["error"] and body["run_url"] == f"http://127.0.0.1:3000/runs/{failed.run_id}"
