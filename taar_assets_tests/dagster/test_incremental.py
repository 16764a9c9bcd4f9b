"""The samples state through Dagster: a month of days advanced one day at a time publishes what
reading each whole window publishes; changed input is flagged; a range repairs the chain."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from taar_assets.engines.local import LocalEngine
from taar_assets.similarity.input_contract import Window, find_window_files
from taar_assets_tests.conftest import DEMO_END, run_similarity
from taar_assets_tests.support import engine_runs

FIRST = DEMO_END - dt.timedelta(days=30)
DAYS = [FIRST + dt.timedelta(days=n) for n in range(31)]
FULL_WINDOW = {"ops": {"samples": {"config": {"incremental": False}}}}


def range_tags(first: dt.date, last: dt.date) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": f"{first}", "dagster/asset_partition_range_end": f"{last}"}


def samples_rows(settings, day):
    table = pq.read_table(Path(settings.storage) / "samples" / f"{day}.parquet")
    return table.take(pc.sort_indices(table.column("client_id"))).to_pylist()


INSTANCE = dg.DagsterInstance.ephemeral()


def messages(result: dg.ExecuteInProcessResult, text: str) -> list[str]:
    """The run's log lines holding `text` (context.log lines are in the instance's event log)."""
    logs = INSTANCE.all_logs(result.run_id)
    return [entry.user_message for entry in logs if text in (entry.user_message or "")]


def run(settings, **options):
    return run_similarity(settings, instance=INSTANCE, **options)


@pytest.fixture(scope="module")
def month(tmp_path_factory, demo_dataset):
    """31 days in one range run, advanced day by day, and the same days read window by window."""
    from taar_assets.resources import Settings

    root = tmp_path_factory.mktemp("month")

    def settings(name):
        return Settings(
            clients_daily=str(demo_dataset.clients_daily), whitelist=str(demo_dataset.whitelist),
            storage=str(root / name / "storage"), publish=str(root / name / "published"), duckdb_memory_limit="1GB",
        )

    incremental, full = settings("incremental"), settings("full")
    advanced = run(incremental, tags=range_tags(DAYS[0], DAYS[-1]))
    read_whole = run(full, run_config=FULL_WINDOW, tags=range_tags(DAYS[0], DAYS[-1]))
    assert advanced.success and read_whole.success
    return incremental, full, advanced


def test_a_month_advanced_day_by_day_publishes_what_each_window_publishes(month):
    incremental, full, result = month
    assert len(messages(result, "samples bootstrap")) == 1  # the first day: nothing stored before it
    assert len(messages(result, "samples incremental")) == 30
    for day in DAYS:
        assert samples_rows(incremental, day) == samples_rows(full, day), day
        for name in ("donors", "lr_curves", "manifest"):
            archive = f"{name}{day:%Y%m%d}.json"
            assert (Path(incremental.publish) / archive).read_bytes() == (Path(full.publish) / archive).read_bytes()
    # The engine's own full-window recompute agrees too (not only the asset run with incremental off).
    files = find_window_files(incremental.clients_daily, Window(DAYS[-1]))
    recomputed = engine_runs.samples(files, Path(incremental.storage).parent / "recomputed", LocalEngine()).read()
    assert recomputed.take(pc.sort_indices(recomputed.column("client_id"))).to_pylist() == samples_rows(incremental, DAYS[-1])


def test_a_restated_or_late_day_is_flagged_and_a_range_run_repairs_the_chain(month, tmp_path):
    incremental, _, _ = month
    local = dataclasses.replace(incremental, clients_daily=str(tmp_path / "clients_daily"))
    # A copy of the input, so that one of its days can be restated.
    shutil.copytree(incremental.clients_daily, local.clients_daily)
    restated = DAYS[-3]
    target = tmp_path / "clients_daily" / f"submission_date_s3={restated:%Y%m%d}" / "part-0.parquet"
    table = pq.read_table(target)
    pq.write_table(table.slice(0, table.num_rows // 2), target)  # the day restated with fewer rows

    check = run(local, partition_key=f"{DAYS[-1]}", raise_on_error=False)
    evaluation = next(e for e in check.get_asset_check_evaluations() if e.check_name == "input_unchanged")
    assert not evaluation.passed
    assert evaluation.metadata["changed_input_days"].value == {f"{DAYS[-1]}": {f"{restated}": "its files changed"}}
    assert f"from {restated} on" in evaluation.metadata["repair"].value

    repaired = run(local, tags=range_tags(restated, DAYS[-1]))
    assert repaired.success
    assert len(messages(repaired, "samples bootstrap")) == 0  # the day before the restated one is intact
    last = next(e for e in repaired.get_asset_check_evaluations()
                if e.check_name == "input_unchanged")
    assert last.passed
    files = find_window_files(local.clients_daily, Window(DAYS[-1]))
    expected = engine_runs.samples(files, tmp_path / "expected").read()
    assert expected.take(pc.sort_indices(expected.column("client_id"))).to_pylist() == samples_rows(local, DAYS[-1])


def test_a_range_over_a_broken_chain_bootstraps_once(month, tmp_path):
    incremental, _, _ = month
    copy = dataclasses.replace(incremental, storage=str(tmp_path / "storage"), publish=str(tmp_path / "published"))
    first = run(copy, tags=range_tags(DAYS[20], DAYS[22]))
    (Path(copy.storage) / "samples" / f"{DAYS[22]}.parquet").unlink()  # a gap in the chain
    result = run(copy, tags=range_tags(DAYS[23], DAYS[26]))
    assert first.success and result.success
    assert len(messages(result, "samples bootstrap")) == 1 and len(messages(result, "samples incremental")) == 3
    assert samples_rows(copy, DAYS[26]) == samples_rows(incremental, DAYS[26])


def test_other_parameters_bootstrap_and_say_why(month, tmp_path):
    incremental, _, _ = month
    copy = dataclasses.replace(incremental, storage=str(tmp_path / "storage"), publish=str(tmp_path / "published"))
    assert run(copy, partition_key=f"{DAYS[0]}").success
    other = {"ops": {"samples": {"config": {"window_days": 60}}}}
    result = run(copy, partition_key=f"{DAYS[1]}", run_config=other)
    reason = result.asset_materializations_for_node("samples")[0].metadata["bootstrap_reason"].value
    assert "window_days': 90" in reason and "window_days': 60" in reason
