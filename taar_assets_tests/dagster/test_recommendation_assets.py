"""The recommendation group materialised with Dagster after the similarity model of the same day."""

import dataclasses
from pathlib import Path

import dagster as dg

from taar_assets.definitions import build_definitions
from taar_assets.resources import build_resources

DAY = "2026-11-20"


def run_both_jobs(settings):
    defs = build_definitions(build_resources(settings))
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("similarity_job").execute_in_process(instance=instance, partition_key=DAY).success
    return defs.resolve_job_def("recommendation_job").execute_in_process(instance=instance, partition_key=DAY)


def materialisations(result):
    return {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }


def test_evaluation_with_metadata_reports_every_method_and_passes_its_check(settings, demo_dataset):
    with_metadata = dataclasses.replace(settings, addon_metadata=str(demo_dataset.addon_metadata))
    result = run_both_jobs(with_metadata)
    metadata = materialisations(result)

    for asset, extension in [("candidate_sources", "json"), ("install_model", "json"), ("recommendation_evaluation", "parquet")]:
        assert (Path(settings.storage) / asset / f"{DAY}.{extension}").is_file()
    assert metadata["addon_metadata"]["producer_boosting"].value == "on"
    assert metadata["install_model"]["validation_auc"].value > 0.6
    evaluation = metadata["recommendation_evaluation"]
    assert evaluation["producer_boosting"].value == "on"
    assert "locale_popularity" in evaluation["scores"].value and "ranker" in evaluation["scores"].value
    assert evaluation["chart"].value.startswith("![evaluation](data:image/png;base64,")
    assert evaluation["ranker_metrics"].value["heavy_ranking"] > 0
    privacy_rows = [line for line in evaluation["privacy_cost"].value.splitlines() if line.startswith("|")][2:]
    assert [row.split("|")[1:3] for row in privacy_rows] == [
        [f"{k:>14} ", f"{digits:>21} "] for k in (1, 2, 5, 10) for digits in (2, 3)
    ]
    assert evaluation["privacy_cost_chart"].value.startswith("![privacy cost](data:image/png;base64,")
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "similarity_beats_locale_popularity" and check.passed
    assert check.metadata["ratio"].value > 1


def test_without_metadata_producer_boosting_is_off_and_says_so(settings):
    metadata = materialisations(run_both_jobs(settings))
    assert metadata["addon_metadata"]["producer_boosting"].value == "off: no add-on metadata"
    assert metadata["recommendation_evaluation"]["producer_boosting"].value == "off: no add-on metadata"


def test_the_ranker_configuration_is_run_config_and_validated(settings):
    defs = build_definitions(build_resources(settings))
    instance = dg.DagsterInstance.ephemeral()
    defs.resolve_job_def("similarity_job").execute_in_process(instance=instance, partition_key=DAY)
    job = defs.resolve_job_def("recommendation_job")
    ranker = {"enable_quality_upranking": True, "quality_transform": "linear", "linear_bar": 0.0}
    failed = job.execute_in_process(
        instance=instance, partition_key=DAY, raise_on_error=False,
        run_config={"ops": {"recommendation_evaluation": {"config": {"ranker": ranker}}}},
    )
    assert not failed.success
    assert "linear_bar" in failed.failure_data_for_node("recommendation_evaluation").error.cause.message

    ranker["linear_bar"] = 0.5
    result = job.execute_in_process(
        instance=instance, partition_key=DAY,
        run_config={"ops": {"recommendation_evaluation": {"config": {"ranker": ranker, "privacy_k_values": []}}}},
    )
    evaluation = materialisations(result)["recommendation_evaluation"]
    assert evaluation["ranker_config"].value["linear_bar"] == 0.5
    assert "privacy_cost" not in evaluation  # privacy_k_values [] skips the sweep
    assert evaluation["ranker_metrics"].value["quality_upranking"] > 0
