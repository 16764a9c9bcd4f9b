"""The Spark engine against the embedded one: same samples, same valid add-ons, agreeing clusters,
and a whole partition on Spark that passes every check. One local[2] session serves every test."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest.mock import ANY

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score
from upath import UPath

from taar_assets.defs.similarity.checks import CHECKS
from taar_assets.engines.local import LocalEngine
from taar_assets.engines.spark import SparkEngine, SparkTable
from taar_assets.io_managers import ParquetIOManager
from taar_assets.similarity.input_contract import Window, find_window_files
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import PROVENANCE_SIDECAR, provenance, with_provenance
from taar_assets.similarity.clustering import (
    NUM_HASH_FEATURES,
    JavaRandom,
    cluster_clients,
    hashed_bucket,
    scala_map_order,
)
from taar_assets.resources import Settings, build_engine
from taar_assets_tests.conftest import DEMO_END, run_similarity
from taar_assets_tests.support import engine_runs
from taar_assets_tests.support.factories import addon, row, write_day
from taar_assets_tests.unit.similarity.test_clustering import planted_clients

DAY = dt.date(2026, 11, 20)
GUIDS = ["a@x", "b@x", "c@x", "d@x", "e@x"]


def by_client(table: pa.Table) -> list[dict]:
    return table.take(pc.sort_indices(table.column("client_id"))).to_pylist()


def both_engines(spark, root: Path, whitelist: list[str], end: dt.date = DAY, folder: Path | None = None):
    """(samples, valid add-ons) from the embedded engine and from Spark, through each engine's
    methods and the IO manager, as sorted row lists."""
    files = find_window_files(str(root), Window(end))
    folder = folder or root.parent / "engines"
    runs = {}
    for name, engine in (("local", LocalEngine()), ("spark", SparkEngine())):
        samples = engine_runs.samples(files, folder / name, engine)
        runs[name] = (samples.read(), engine_runs.valid_addons(samples, whitelist, folder / name, engine).read())
    (local, local_addons), (on_spark, spark_addons) = runs["local"], runs["spark"]
    return (by_client(local), by_client(on_spark)), (by_client(local_addons), by_client(spark_addons))


def rows_the_rule_drops() -> list[dict]:
    """One row for each way a row fails the row rule: no client id, beta, not Firefox, no add-on
    list, too few add-ons, too many."""
    return [
        row(None, GUIDS),
        row("beta", GUIDS, channel="beta"),
        row("fennec", GUIDS, app_name="Fennec"),
        row("null_addons", active_addons=None),
        row("two_addons", GUIDS[:2]),
        row("hundred", [f"g{i}" for i in range(100)]),
    ]


@pytest.mark.parametrize("latest_rows_by", ["broadcast", "shuffle"])
def test_hand_made_rows_give_the_same_samples_and_addons(spark, tmp_path, monkeypatch, latest_rows_by):
    if latest_rows_by == "shuffle":  # as for a window of more clients than is broadcast
        monkeypatch.setattr("taar_assets.engines.spark.stages.MAX_BROADCAST_POSITIONS", 0)
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")  # nor may Spark decide to
    root = tmp_path / "clients daily %41"  # Spark names files by escaped URI
    old = DAY - dt.timedelta(days=5)
    write_day(root, old, [row("moved", GUIDS, city="Old"), row("kept", GUIDS[:3], os="Linux")])
    write_day(root, DAY, [row("moved", GUIDS[:4], city="New"), row("twice", GUIDS[:3], city="first")])
    # Same day, two files: the later file wins; in one file, the later row wins.
    write_day(root, DAY, [row("twice", GUIDS, city="second"), row("twice", GUIDS, city="third")], name="part-1")
    write_day(
        root,
        DAY - dt.timedelta(days=1),
        [
            *rows_the_rule_drops(),
            row("nulls", GUIDS, city=None, locale=None, subsession_hours_sum=None),
            row(
                "dirty",
                active_addons=[
                    addon("a@x"),
                    None,
                    addon("b@x", is_system=True),
                    addon("c@x", app_disabled=True),
                    addon("d@x", type="theme"),
                    addon("e@x", user_disabled=None, foreign_install=None),
                    addon("not-listed@x"),
                    addon("b@x"),
                    addon("c@x", type=None),
                    addon("d@x"),
                ],
            ),
        ],
    )
    try:
        (local, on_spark), (local_addons, spark_addons) = both_engines(spark, root, GUIDS)
    finally:
        spark.conf.unset("spark.sql.autoBroadcastJoinThreshold")
    assert on_spark == local
    assert {r["client_id"]: r["city"] for r in on_spark}["twice"] == "third"
    assert spark_addons == local_addons
    assert {r["client_id"]: r["addon_ids"] for r in spark_addons}["dirty"] == ["a@x", "e@x", "b@x", "d@x"]


def test_both_engines_report_the_same_row_rule_counts_and_implausible_values(spark, tmp_path):
    root = tmp_path / "clients_daily"
    earlier = [
        *rows_the_rule_drops(),
        row("infinite", GUIDS, subsession_hours_sum=float("inf")),
        row("negative", GUIDS, subsession_hours_sum=-1.0),
    ]
    write_day(root, DAY - dt.timedelta(days=1), earlier)
    write_day(root, DAY, [row("plain", GUIDS), row("huge", GUIDS, subsession_hours_sum=1e308, city=None)])
    files = find_window_files(str(root), Window(DAY))
    local, on_spark = (engine.samples(files, SampleRule()).stats for engine in (LocalEngine(), SparkEngine()))
    assert local == on_spark
    assert local["funnel"] == {"rows": 10, "with_client_id": 9, "release": 8, "firefox": 7, "qualifying": 4}
    by_file = {Path(report["file"]).parent.name: report for report in local["implausible_values"]}
    assert by_file == {
        f"submission_date_s3={DAY - dt.timedelta(days=1):%Y%m%d}": {"file": ANY, "subsession_hours_sum": 2},
        f"submission_date_s3={DAY:%Y%m%d}": {"file": ANY, "subsession_hours_sum": 1},
    }


def test_demo_data_gives_the_same_samples_and_addons(spark, demo_dataset):
    whitelist = json.loads(Path(demo_dataset.whitelist).read_text())
    (local, on_spark), (local_addons, spark_addons) = both_engines(
        spark, demo_dataset.clients_daily, whitelist, DEMO_END
    )
    assert len(local) > 1000 and on_spark == local
    assert len(local_addons) > 1000 and spark_addons == local_addons


def test_hashed_bucket_is_the_column_spark_hashing_tf_uses(spark):
    from pyspark.ml.feature import HashingTF

    guids = ["a", "ab", "abc", "abcd", "{e2f0bc1a-4b4e-4d6c-a3b1-0c0d0e0f0a0b}", "uBlock0@raymondhill.net", "é@ü"]
    frame = spark.createDataFrame([([guid],) for guid in guids], "addon_ids array<string>")
    hashed = HashingTF(inputCol="addon_ids", outputCol="tf", numFeatures=NUM_HASH_FEATURES).transform(frame)
    assert [int(r["tf"].indices[0]) for r in hashed.collect()] == [hashed_bucket(guid) for guid in guids]


def spark_labels(spark, client_ids, addon_lists, num_clusters, seed):
    from taar_assets.engines.spark.stages import spark_clusters

    frame = spark.createDataFrame(pa.table({"client_id": client_ids, "addon_ids": pa.array(addon_lists, pa.list_(pa.string()))}))
    clusters, sizes = spark_clusters(frame, num_clusters, seed)
    label_of = {r["client_id"]: r["cluster"] for r in clusters.collect()}
    labels = np.array([label_of[client] for client in client_ids])
    assert sizes == np.bincount(labels, minlength=num_clusters).tolist()
    assert sizes == sorted(sizes, reverse=True), "cluster 0 is the biggest"
    return labels


def test_both_engines_recover_well_separated_planted_groups(spark):
    addon_lists, groups = planted_clients(np.random.default_rng(2), [200] * 5)
    client_ids = [f"c{i:04d}" for i in range(len(addon_lists))]
    on_spark = spark_labels(spark, client_ids, addon_lists, 5, seed=3)
    local = cluster_clients(addon_lists, 5, seed=3)
    assert adjusted_rand_score(local, on_spark) >= 0.9
    assert adjusted_rand_score(groups, on_spark) >= 0.9


def demo_addons(demo_dataset) -> pa.Table:
    whitelist = frozenset(json.loads(Path(demo_dataset.whitelist).read_text()))
    folder = Path(demo_dataset.clients_daily).parent / "local_engine"
    samples = engine_runs.samples(find_window_files(str(demo_dataset.clients_daily), Window(DEMO_END)), folder)
    return engine_runs.valid_addons(samples, whitelist, folder).read()


@pytest.mark.parametrize(("num_clusters", "seed"), [(20, 11), (7, 0), (45, 3)])
def test_on_demo_data_both_engines_make_the_same_clusters(spark, demo_dataset, num_clusters, seed):
    addons = demo_addons(demo_dataset)
    client_ids = addons.column("client_id").to_pylist()
    planted = pq.read_table(demo_dataset.groups).to_pandas().set_index("client_id")["group"].loc[client_ids]

    local = cluster_clients(addons.column("addon_ids"), num_clusters, seed=seed)
    on_spark = spark_labels(spark, client_ids, addons.column("addon_ids").to_pylist(), num_clusters, seed=seed)

    assert adjusted_rand_score(local, on_spark) >= 0.99  # measured: identical labels
    assert adjusted_rand_score(planted, local) > 0.3  # they find the planted groups, as far as k allows


def test_spark_clusters_do_not_depend_on_how_the_input_is_partitioned(spark, demo_dataset):
    from taar_assets.engines.spark.stages import spark_clusters

    frame = spark.createDataFrame(demo_addons(demo_dataset))
    labelings = []
    for partitions in (1, 3):
        clusters, _ = spark_clusters(frame.repartition(partitions), 12, 5)
        table = clusters.toArrow()
        labelings.append(dict(zip(table.column("client_id").to_pylist(), table.column("cluster").to_pylist())))
    assert labelings[0] == labelings[1]


def test_too_few_default_partitions_are_refused():
    from taar_assets.engines.spark.stages import _check_shuffle_partitions

    _check_shuffle_partitions(None)
    _check_shuffle_partitions("4")
    _check_shuffle_partitions("8")
    with pytest.raises(ValueError, match="spark.default.parallelism=3"):
        _check_shuffle_partitions("3")


def test_the_reproduction_uses_the_jvms_own_random_numbers_and_map_order(spark):
    jvm = spark.sparkContext._jvm
    java_random = jvm.java.util.Random(987654321)
    assert JavaRandom(987654321).next_doubles(50).tolist() == [java_random.nextDouble() for _ in range(50)]

    empty_map = jvm.java.lang.Class.forName("scala.collection.immutable.HashMap$").getField("MODULE$").get(None).empty()
    for keys in (range(8, 16), range(32, 64), [5, 9, 17, 33, 65, 129, 257, 513, 1025, 4097, 2**31 + 7, 2**40 + 3]):
        scala_map = empty_map
        for key in keys:
            scala_map = scala_map.updated(jvm.java.lang.Long.valueOf(key), 0)
        iterator, order = scala_map.keysIterator(), []
        while iterator.hasNext():
            order.append(int(iterator.next()))
        assert scala_map_order(keys) == order


def test_a_partition_on_spark_passes_every_check_and_keeps_the_provenance(spark, settings):
    on_spark = Settings(**{**settings.__dict__, "engine": "spark"})
    result = run_similarity(on_spark, partition_key=f"{DEMO_END}")
    assert result.success
    failed = [(e.check_name, e.metadata) for e in result.get_asset_check_evaluations() if not e.passed]
    assert len(result.get_asset_check_evaluations()) == len(CHECKS) + 1 and not failed  # + input_unchanged

    storage = Path(on_spark.storage)
    for stage in ["samples", "addons_per_client", "clusters"]:
        written = storage / stage / f"{DEMO_END}.parquet"
        assert written.is_dir() and (written / PROVENANCE_SIDECAR).is_file(), stage
    assert (storage / "donor_pool" / f"{DEMO_END}.parquet").is_file()
    manifest = json.loads((Path(on_spark.publish) / "manifest.json").read_text())
    assert manifest["input_window"] == {"start": "2026-08-23", "end": f"{DEMO_END}", "days": 90}
    assert manifest["parameters"]["num_clusters"] == 20 and manifest["counts"]["donors"] == 1000

    files = find_window_files(on_spark.clients_daily, Window(DEMO_END))
    stored_samples = pq.read_table(storage / "samples" / f"{DEMO_END}.parquet")
    assert by_client(stored_samples) == by_client(engine_runs.samples(files, storage.parent / "local").read())
    assert spark.range(3).count() == 3, "the engine leaves a session it did not start running"


def test_a_partition_through_spark_connect_makes_the_embedded_engines_model(spark_connect, settings, tmp_path):
    # As a user runs it: the CLI in its own process (pyspark allows no Connect session in a process
    # running a classic one, as this one does), configured by the environment.
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("TAAR_", "DAGSTER_HOME"))}
    environment.update(
        TAAR_CLIENTS_DAILY=settings.clients_daily,
        TAAR_WHITELIST=settings.whitelist,
        TAAR_STORAGE=str(tmp_path / "connect"),
        TAAR_PUBLISH=str(tmp_path / "connect_published"),
        TAAR_ENGINE="spark",
        TAAR_SPARK_REMOTE=spark_connect,
    )
    command = [str(Path(sys.executable).with_name("taar-assets")), "run", "--partition", f"{DEMO_END}"]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    assert run_similarity(settings, partition_key=f"{DEMO_END}").success  # the embedded engine
    for stage in ["samples", "addons_per_client", "clusters"]:
        on_spark = pq.read_table(tmp_path / "connect" / stage / f"{DEMO_END}.parquet")
        local = pq.read_table(Path(settings.storage) / stage / f"{DEMO_END}.parquet")
        assert by_client(on_spark.select(local.column_names)) == by_client(local), stage
    for name in ("donors.json", "lr_curves.json"):
        assert (tmp_path / "connect_published" / name).read_bytes() == (Path(settings.publish) / name).read_bytes()


def test_spark_output_loads_with_its_provenance_and_engines_can_take_turns(spark, tmp_path):
    manager = ParquetIOManager(base_path=UPath(tmp_path))
    path = UPath(tmp_path) / "samples" / "2026-11-20.parquet"
    path.parent.mkdir(parents=True)
    record = {"input_window": {"start": "2026-08-23", "end": "2026-11-20", "days": 90}}
    load = dg.build_input_context(
        asset_key="samples",
        dagster_type=dg.DagsterType(lambda _, value: True, name="AnyTable", typing_type=pa.Table),
        definition_metadata={"columns": ["client_id"]},
    )

    def store(value):
        manager.dump_to_path(dg.build_output_context(asset_key="samples"), value, path)
        return manager.load_from_path(load, path)

    frame = spark.createDataFrame([("c1", 1.0), ("c2", 2.0)], "client_id string, value double")
    loaded = store(with_provenance(SparkTable(frame), record))
    assert path.is_dir() and (path / PROVENANCE_SIDECAR).is_file()
    assert loaded.column_names == ["client_id"] and sorted(loaded.column("client_id").to_pylist()) == ["c1", "c2"]
    assert provenance(loaded) == record

    # The engines can take turns on the same day: a file replaces a folder and back.
    assert store(with_provenance(pa.table({"client_id": ["c3"]}), record)).column("client_id").to_pylist() == ["c3"]
    assert path.is_file()
    assert store(SparkTable(frame)).num_rows == 2 and path.is_dir()
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary left behind"


def test_engine_configuration_from_the_environment(tmp_path):
    base = {"TAAR_STORAGE": str(tmp_path)}
    local = build_engine(Settings.from_env(base))
    assert isinstance(local, LocalEngine) and local.temp_directory.endswith("taar_assets-duckdb")
    spill = build_engine(Settings.from_env({**base, "TAAR_DUCKDB_TEMP_DIRECTORY": str(tmp_path / "spill")}))
    assert spill.temp_directory == str(tmp_path / "spill")
    engine = build_engine(Settings.from_env({
        **base,
        "TAAR_ENGINE": "spark",
        "TAAR_SPARK_MASTER": "spark://head:7077",
        "TAAR_SPARK_CONF": '{"spark.executor.memory": "8g", "spark.sql.shuffle.partitions": 64, "spark.speculation": true}',
    }))
    assert isinstance(engine, SparkEngine) and engine.master == "spark://head:7077" and engine.remote is None
    assert engine.conf == {"spark.executor.memory": "8g", "spark.sql.shuffle.partitions": "64", "spark.speculation": "true"}
    remote = build_engine(Settings.from_env({**base, "TAAR_ENGINE": "spark", "TAAR_SPARK_REMOTE": "sc://head:15002"}))
    assert remote.remote == "sc://head:15002" and remote.master == "local[2]"

    with pytest.raises(ValueError, match="TAAR_ENGINE must be 'local' or 'spark', got 'flink'"):
        build_engine(Settings.from_env({**base, "TAAR_ENGINE": "flink"}))
    with pytest.raises(ValueError, match="TAAR_SPARK_CONF is not JSON"):
        Settings.from_env({**base, "TAAR_SPARK_CONF": "spark.executor.memory=8g"})
    with pytest.raises(ValueError, match="must be a JSON object"):
        Settings.from_env({**base, "TAAR_SPARK_CONF": '["spark.executor.memory"]'})


def test_the_state_advances_on_spark_as_on_the_embedded_engine(spark, tmp_path):
    from taar_assets_tests.unit.engines.test_incremental_state import rows_of, test_the_edge_cases_of_a_client_history

    test_the_edge_cases_of_a_client_history(tmp_path / "local")  # writes the hand-made history
    root = tmp_path / "local" / "clients_daily"
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(3, 8)]
    on_spark = engine_runs.incremental_and_full(SparkEngine(), root, days, 3, tmp_path / "spark")
    on_local = engine_runs.incremental_and_full(LocalEngine(), root, days, 3, tmp_path / "again")
    for (advanced, full), (local_advanced, _) in zip(on_spark, on_local):
        assert rows_of(advanced) == rows_of(full) == rows_of(local_advanced)


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists instead of arrays, one integer type: what both engines must agree on, value for value."""
    frame = frame.assign(addon_ids=frame["addon_ids"].map(list))
    return frame.astype({"cluster": "int64"}) if "cluster" in frame else frame


def test_donors_counts_and_samples_agree_between_engines(spark, demo_dataset, tmp_path):
    from taar_assets.recommendation.counts import ClientSplit
    from taar_assets.similarity.donors import allocate_donors

    whitelist = json.loads(Path(demo_dataset.whitelist).read_text())
    files = find_window_files(str(demo_dataset.clients_daily), Window(DEMO_END))
    results = {}
    for name, engine in (("local", LocalEngine()), ("spark", SparkEngine())):
        folder = tmp_path / name
        samples = engine_runs.samples(files, folder, engine)
        addons = engine_runs.valid_addons(samples, whitelist, folder, engine)
        clusters = engine_runs.store(engine.clusters(addons, 12, 5).value, folder, "clusters")
        sizes = engine.cluster_sizes(clusters)
        donors = engine.select_donors(clusters, samples, addons, allocate_donors(sizes, 300), "9:donor_pool")
        counts = engine.addon_counts(addons, samples, ClientSplit(), "training")
        sample = engine.client_sample(addons, samples, ClientSplit(), "evaluation", 200, "9:evaluation")
        found = engine.client_ids_among(clusters, [donors["client_id"].iloc[0], "not-a-client"])
        results[name] = (sizes, donors, counts, sample, found)
    (sizes, donors, counts, sample, found), (s_sizes, s_donors, s_counts, s_sample, s_found) = results.values()
    assert sizes == s_sizes and len(donors) == 300 and found == s_found == {donors["client_id"].iloc[0]}
    for local, other in ((donors, s_donors), (sample, s_sample)):
        pd.testing.assert_frame_equal(comparable(local), comparable(other))
    assert counts.clients == s_counts.clients
    for table in ("holders", "locale_clients", "locale_holders", "pairs"):
        keys = [column for column in getattr(counts, table).columns if column != "clients"]
        mine = getattr(counts, table).sort_values(keys, ignore_index=True)
        theirs = getattr(s_counts, table).sort_values(keys, ignore_index=True)[mine.columns]
        assert mine.astype({"clients": "int64"}).equals(theirs.astype({"clients": "int64"})), table


def test_a_month_of_demo_data_advances_on_spark_as_each_window_reads(spark, demo_dataset, tmp_path):
    from taar_assets_tests.unit.engines.test_incremental_state import rows_of

    # Spark advances the state day by day; each day's whole window is read by the embedded engine
    # (whose full-window samples are Spark's: test_demo_data_gives_the_same_samples_and_addons).
    days = [DEMO_END - dt.timedelta(days=30 - n) for n in range(31)]
    pairs = engine_runs.incremental_and_full(
        SparkEngine(), Path(demo_dataset.clients_daily), days, 90, tmp_path, full_engine=LocalEngine()
    )
    for advanced, full in pairs:
        assert rows_of(advanced) == rows_of(full), advanced.path.name
