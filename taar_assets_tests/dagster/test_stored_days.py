"""A run holds a lease on each of its days in the storage location: a second run of one day
fails at once naming the first, and the holder removes what killed writers of its days left."""

from pathlib import Path

import dagster as dg

from taar_assets.io_managers import run_days
from taar_assets.leases import Lease
from taar_assets_tests.conftest import first_failure, run_similarity

DAY = "2026-11-20"
STALE = "0123456789abcdef0123456789abcdef"


def test_a_run_of_a_day_another_run_holds_fails_naming_it_and_writes_nothing(settings):
    holder = Lease(settings.storage, DAY, owner="other-run", holder="run other-run").acquire()
    try:
        result = run_similarity(settings, partition_key=DAY, raise_on_error=False)
    finally:
        holder.release()

    assert not result.success
    message = first_failure(result)
    assert f"partition {DAY} of {settings.storage} is held by run other-run, pid " in message
    assert "this run stops, so that two runs never mix the stored values of one day" in message
    assert not (Path(settings.storage) / "samples").exists()
    assert not any(event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION for event in result.all_events)

    assert run_similarity(settings, partition_key=DAY).success  # once the holder has finished


def test_the_run_of_a_day_removes_the_temporary_files_killed_writers_left_for_it(settings):
    samples = Path(settings.storage) / "samples"
    samples.mkdir(parents=True)
    left_over = samples / f".{DAY}.parquet.{STALE}.tmp"
    other_day = samples / f".2026-11-19.parquet.{STALE}.tmp"  # a day this run does not hold: maybe being written
    left_over.write_bytes(b"half a parquet file")
    other_day.write_bytes(b"half a parquet file")

    assert run_similarity(settings, partition_key=DAY).success
    assert not left_over.exists() and other_day.exists()


def test_the_days_of_a_run_come_from_its_tags():
    assert run_days({"dagster/partition": DAY}) == [DAY]
    assert run_days(
        {"dagster/asset_partition_range_start": "2026-11-18", "dagster/asset_partition_range_end": DAY}
    ) == ["2026-11-18", "2026-11-19", DAY]
    assert run_days({}) == []
