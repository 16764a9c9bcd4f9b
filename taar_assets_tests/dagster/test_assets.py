"""The asset graph materialised with Dagster on generated data, into temporary folders."""

import datetime as dt
import json
import math
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from taar_assets.definitions import build_definitions
from taar_assets.defs.similarity.checks import CHECKS
from taar_assets.resources import build_resources
from taar_assets_tests.conftest import run_similarity
from taar_assets_tests.support.factories import row, write_day, write_whitelist

DAY = "2026-11-20"
STAGES = ["amo_whitelist", "samples", "addons_per_client", "clusters", "donor_pool", "lr_curves"]


def published(settings, name):
    return json.loads((Path(settings.publish) / name).read_text())


def test_one_partition_from_raw_data_to_published_files(settings):
    result = run_similarity(settings, partition_key=DAY)
    assert result.success

    for stage in STAGES:
        assert (Path(settings.storage) / stage / f"{DAY}.parquet").is_file(), stage
    names = {p.name for p in Path(settings.publish).iterdir()}
    assert {"donors.json", "donors20261120.json", "lr_curves.json", "lr_curves20261120.json", "manifest.json"} <= names

    donors = published(settings, "donors.json")
    assert len(donors) == 1000
    assert all(set(d) == {"geo_city", "subsession_length", "locale", "os", "bookmark_count", "tab_open_count",
                          "total_uri", "unique_tlds", "active_addons"} for d in donors)
    whitelist = set(json.loads(Path(settings.whitelist).read_text()))
    assert all(len(d["active_addons"]) > 2 and set(d["active_addons"]) <= whitelist for d in donors)
    assert published(settings, "donors20261120.json") == donors

    curves = published(settings, "lr_curves.json")
    assert len(curves) == 1000
    xs = [x for x, _ in curves]
    assert xs == sorted(xs) and len(set(xs)) == 1000
    assert all(math.isfinite(v) and v >= 0 for _, pair in curves for v in pair)

    clusters = pq.read_table(Path(settings.storage) / "clusters" / f"{DAY}.parquet").to_pandas()
    pool = pq.read_table(Path(settings.storage) / "donor_pool" / f"{DAY}.parquet").to_pandas()
    assert set(pool["cluster"]) == set(clusters["cluster"]), "every cluster is represented"
    assert "client_id" not in pool.columns

    manifest = published(settings, "manifest.json")
    assert manifest["date"] == DAY and manifest["layout"] == "service"
    assert manifest["input_window"] == {"start": "2026-08-23", "end": DAY, "days": 90}
    assert manifest["parameters"]["num_clusters"] == 20 and manifest["counts"]["donors"] == 1000


def test_stage_metadata_is_reported(settings):
    result = run_similarity(settings, partition_key=DAY)
    metadata = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert metadata["samples"]["dagster/row_count"].value > 0
    assert metadata["samples"]["mode"].value == "bootstrap"  # no previous day stored
    assert metadata["samples"]["window"].value == "2026-08-23 .. 2026-11-20"
    assert metadata["clusters"]["non_empty_clusters"].value == 20
    assert sum(metadata["donor_pool"]["donors_per_cluster"].value.values()) == 1000
    assert metadata["lr_curves"]["points"].value == 1000
    assert metadata["donor_pool"]["dagster/row_count"].value == 1000
    assert metadata["lr_curves"]["plot"].value.startswith("![LR curves](data:image/png;base64,")
    assert metadata["clusters"]["cluster_size_histogram"].value.startswith("![clients per cluster](data:image/png")


def test_a_partition_is_reproducible_and_seeded_by_its_day(settings, tmp_path):
    run_similarity(settings, partition_key=DAY)
    again = settings.__class__(**{**settings.__dict__, "storage": str(tmp_path / "s2"), "publish": str(tmp_path / "p2")})
    run_similarity(again, partition_key=DAY)
    assert published(settings, "donors.json") == published(again, "donors.json")
    assert published(settings, "lr_curves.json") == published(again, "lr_curves.json")

    seeded = settings.__class__(**{**settings.__dict__, "storage": str(tmp_path / "s3"), "publish": str(tmp_path / "p3")})
    config = {"ops": {"donor_pool": {"config": {"seed": 12345}}}}
    run_similarity(seeded, partition_key=DAY, run_config=config)
    assert published(seeded, "donors.json") != published(settings, "donors.json")


def test_run_config_parameters_are_applied(settings):
    config = {
        "ops": {
            "clusters": {"config": {"num_clusters": 5}},
            "donor_pool": {"config": {"num_donors": 150}},
            "lr_curves": {"config": {"num_pdf_points": 64, "kernel_bandwidth": 0.2}},
        }
    }
    run_similarity(settings, partition_key=DAY, run_config=config)
    assert len(published(settings, "donors.json")) == 150
    assert len(published(settings, "lr_curves.json")) == 64
    manifest = published(settings, "manifest.json")
    assert manifest["parameters"]["num_clusters"] == 5 and manifest["parameters"]["kernel_bandwidth"] == 0.2


def test_a_range_runs_in_one_run_one_day_at_a_time(settings):
    result = run_similarity(
        settings,
        tags={
            "dagster/asset_partition_range_start": "2026-11-18",
            "dagster/asset_partition_range_end": DAY,
        },
    )
    assert result.success
    for day in ["2026-11-18", "2026-11-19", DAY]:
        for stage in STAGES:
            assert (Path(settings.storage) / stage / f"{day}.parquet").is_file(), (stage, day)
        assert (Path(settings.publish) / f"donors{day.replace('-', '')}.json").is_file()
    # The latest files are the last day's, and each day's archive differs (its own window and seed).
    assert published(settings, "manifest.json")["date"] == DAY
    assert published(settings, "donors20261118.json") != published(settings, "donors20261120.json")


def test_too_few_clients_for_the_clusters_fails_with_a_clear_error(settings):
    result = run_similarity(
        settings,
        partition_key=DAY,
        raise_on_error=False,
        run_config={"ops": {"clusters": {"config": {"num_clusters": 100_000}}}},
    )
    assert not result.success
    failure = result.failure_data_for_node("clusters")
    assert "num_clusters=100000" in failure.error.cause.message
    assert not Path(settings.publish).exists()


def test_bad_input_keeps_what_was_published(settings, tmp_path):
    run_similarity(settings, partition_key="2026-11-19")
    before = {p.name: p.read_bytes() for p in Path(settings.publish).iterdir() if p.is_file()}

    broken = settings.__class__(**{**settings.__dict__, "whitelist": str(write_whitelist(tmp_path / "w.json", []))})
    result = run_similarity(broken, partition_key=DAY, raise_on_error=False)
    assert not result.success
    assert "is empty" in result.failure_data_for_node("amo_whitelist").error.cause.message
    assert {p.name: p.read_bytes() for p in Path(settings.publish).iterdir() if p.is_file()} == before


def test_missing_partition_day_names_the_partition(settings):
    result = run_similarity(settings, partition_key="2026-11-22", raise_on_error=False)
    assert not result.success
    message = result.failure_data_for_node("samples").error.cause.message
    assert "no data for partition 2026-11-22" in message and "submission_date_s3=20261122" in message


def test_identical_profiles_give_a_clear_degenerate_scores_error(settings, tmp_path):
    # Every client shares city, locale and os: every distance is 0, the curves cannot separate.
    root = tmp_path / "same"
    guids = [f"g{i}@x" for i in range(30)]
    rows = [row(f"c{i}", [guids[(i + j) % 30] for j in range(4)]) for i in range(300)]
    write_day(root, dt.date(2026, 11, 20), rows)
    same = settings.__class__(
        **{**settings.__dict__, "clients_daily": str(root), "whitelist": str(write_whitelist(tmp_path / "w.json", guids))}
    )
    result = run_similarity(same, partition_key=DAY, raise_on_error=False, run_config={
        "ops": {"clusters": {"config": {"num_clusters": 3}}, "donor_pool": {"config": {"k_anonymity": 1}}}
    })
    assert not result.success
    assert "equal" in result.failure_data_for_node("lr_curves").error.cause.message
    assert not (Path(same.publish) / "donors.json").exists()


def test_graph_shape_snapshot():
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    parents = {
        key.to_user_string(): sorted(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    }
    assert parents == {
        "clients_daily": [],
        "amo_whitelist": [],
        "samples": ["clients_daily", "samples"],  # the previous day's state
        "addons_per_client": ["amo_whitelist", "samples"],
        "clusters": ["addons_per_client"],
        "donor_pool": ["addons_per_client", "clusters", "samples"],
        "lr_curves": ["donor_pool"],
        "similarity_model": ["amo_whitelist", "donor_pool", "lr_curves"],
        "addon_metadata": ["similarity_model"],
        "candidate_sources": ["addons_per_client", "amo_whitelist", "samples", "similarity_model"],
        "install_model": ["addon_metadata", "addons_per_client", "candidate_sources", "donor_pool", "lr_curves", "samples"],
        "recommendation_evaluation": [
            "addon_metadata", "addons_per_client", "amo_whitelist", "candidate_sources", "clusters", "donor_pool",
            "install_model", "lr_curves", "samples",
        ],
        "model_drift": ["donor_pool", "lr_curves", "similarity_model"],
    }
    similarity = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "similarity"}
    assert similarity == set(STAGES) | {"similarity_model"}
    assert all(graph.get(key).partitions_def is not None for key in graph.get_all_asset_keys())


def test_every_check_passes_on_a_good_model(settings):
    result = run_similarity(settings, partition_key=DAY)
    evaluations = result.get_asset_check_evaluations()
    assert sorted(e.check_name for e in evaluations) == sorted([*(check.name for check in CHECKS), "input_unchanged"])
    assert all(e.passed for e in evaluations), [(e.check_name, e.metadata) for e in evaluations if not e.passed]


def test_a_failing_check_stops_the_publish(settings):
    instance = dg.DagsterInstance.ephemeral()
    run_similarity(settings, instance=instance, partition_key=DAY)
    published_before = {p.name: p.read_bytes() for p in Path(settings.publish).iterdir() if p.is_file()}

    # Tamper with the stored donors: one add-on that is not in the whitelist.
    path = Path(settings.storage) / "donor_pool" / f"{DAY}.parquet"
    table = pq.read_table(path)
    donors = table.to_pandas()
    donors.at[0, "active_addons"] = [*donors.at[0, "active_addons"], "not-whitelisted@evil"]
    pq.write_table(with_schema_metadata_of(donors, table), path)

    defs = build_definitions(build_resources(settings))
    job = dg.define_asset_job(
        "republish",
        selection=dg.AssetSelection.checks_for_assets("donor_pool") | dg.AssetSelection.assets("similarity_model"),
    )
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("republish").execute_in_process(
        instance=instance, partition_key=DAY, raise_on_error=False
    )
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["addons_whitelisted"]
    assert failed[0].metadata["not_whitelisted"].value == ["not-whitelisted@evil"]
    assert "similarity_model" not in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert f"{DAY}: failed checks: addons_whitelisted" in failure.message
    assert {p.name: p.read_bytes() for p in Path(settings.publish).iterdir() if p.is_file()} == published_before


def with_schema_metadata_of(frame, original: pa.Table) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(original.schema.metadata)


def test_backfilling_an_older_day_keeps_the_latest_files(settings):
    run_similarity(settings, partition_key=DAY)
    latest = published(settings, "donors.json")
    run_similarity(settings, partition_key="2026-11-19")
    assert published(settings, "manifest.json")["date"] == DAY
    assert published(settings, "donors.json") == latest
    assert (Path(settings.publish) / "donors20261119.json").is_file()


def test_original_layout_and_bz2_are_configuration(settings):
    from taar_assets.resources import Settings

    configured = Settings.from_env({
        "TAAR_CLIENTS_DAILY": settings.clients_daily,
        "TAAR_WHITELIST": settings.whitelist,
        "TAAR_STORAGE": settings.storage,
        "TAAR_PUBLISH": settings.publish,
        "TAAR_PUBLISH_LAYOUT": "original",
        "TAAR_PUBLISH_BZ2": "1",
    })
    run_similarity(configured, partition_key=DAY)
    donors = published(configured, "donors.json")
    assert "city" in donors[0] and "subsession_hours_sum" in donors[0] and "geo_city" not in donors[0]
    manifest = published(configured, "manifest.json")
    assert manifest["layout"] == "original" and manifest["subsession_unit"] == "hours"
    assert (Path(configured.publish) / "donors.json.2026-11-20.bz2").is_file()


def test_when_no_client_qualifies_the_error_says_which_rule_dropped_them(settings, tmp_path):
    root = tmp_path / "clients_daily"
    write_day(root, dt.date.fromisoformat(DAY), [row("c1", ["a", "b", "c"], channel="beta"), row("c2", ["a"])])
    bare = settings.__class__(**{**settings.__dict__, "clients_daily": str(root)})
    result = run_similarity(bare, partition_key=DAY, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert "no client qualifies" in str(failure.message) and "of 2 rows, 2 have a client_id, 1 of those are on the release" in str(failure.message)


def test_a_bad_day_of_a_range_fails_alone_and_the_good_days_publish(settings, tmp_path, demo_dataset):
    import shutil

    root = tmp_path / "clients_daily"
    shutil.copytree(demo_dataset.clients_daily, root)
    shutil.rmtree(root / "submission_date_s3=20261119")  # the middle day never arrived
    broken = settings.__class__(**{**settings.__dict__, "clients_daily": str(root)})
    result = run_similarity(
        broken, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": "2026-11-18", "dagster/asset_partition_range_end": DAY},
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "similarity_model"
    assert "not published: 2026-11-19: its model was not built" in failure.step_failure_data.error.message
    names = {p.name for p in Path(broken.publish).iterdir()}
    assert {"donors20261118.json", "donors20261120.json"} <= names and "donors20261119.json" not in names
    assert published(broken, "manifest.json")["date"] == DAY  # the newest good day
