"""When a day of clients_daily counts as complete: its marker, or a quiet period without changes."""

import datetime as dt
import os

import pytest

from taar_assets.monitoring.arrival import CompletenessRule, day_statuses, present_days

DAY = dt.date(2026, 11, 20)
WRITTEN = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.timezone.utc)


def day_folder(root, day=DAY, files=("part-0.parquet",), written=WRITTEN):
    folder = root / f"submission_date_s3={day:%Y%m%d}"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"data")
        os.utime(folder / name, (written.timestamp(), written.timestamp()))
    return folder


def status(root, rule, minutes_after_write, day=DAY):
    [result] = day_statuses(str(root), [day], rule, WRITTEN + dt.timedelta(minutes=minutes_after_write))
    return result


def test_the_marker_completes_a_day_at_once(tmp_path):
    day_folder(tmp_path, files=("part-0.parquet", "_SUCCESS"))
    result = status(tmp_path, CompletenessRule(marker="_SUCCESS", quiet_minutes=None), 0)
    assert result.complete and "_SUCCESS" in result.reason and result.parquet_files == 1


def test_without_a_marker_the_day_waits_for_its_quiet_period(tmp_path):
    day_folder(tmp_path)
    rule = CompletenessRule(marker="_SUCCESS", quiet_minutes=60)
    waiting = status(tmp_path, rule, 59)
    assert not waiting.complete and "last change 59.0 min ago" in waiting.reason
    assert status(tmp_path, rule, 60).complete


def test_a_file_still_being_written_keeps_the_day_open(tmp_path):
    folder = day_folder(tmp_path)
    later = WRITTEN + dt.timedelta(minutes=50)
    (folder / ".part-1.parquet.tmp").write_bytes(b"half")
    os.utime(folder / ".part-1.parquet.tmp", (later.timestamp(), later.timestamp()))
    result = status(tmp_path, CompletenessRule(quiet_minutes=60), 70)
    assert not result.complete and result.parquet_files == 1


def test_marker_only_rule_ignores_quiet_folders_and_empty_folders_wait(tmp_path):
    day_folder(tmp_path)
    assert not status(tmp_path, CompletenessRule(marker="_SUCCESS", quiet_minutes=None), 10_000).complete
    day_folder(tmp_path, day=DAY + dt.timedelta(days=1), files=())
    empty = status(tmp_path, CompletenessRule(quiet_minutes=0), 10, day=DAY + dt.timedelta(days=1))
    assert not empty.complete and empty.reason == "no parquet file yet"


def test_present_days_lists_only_day_folders(tmp_path):
    day_folder(tmp_path)
    (tmp_path / "README").write_text("not a day")
    (tmp_path / "submission_date_s3=notaday").mkdir()
    assert present_days(str(tmp_path)) == {DAY}
    assert present_days(str(tmp_path / "absent")) == set()


def test_a_rule_that_can_never_complete_a_day_is_refused():
    with pytest.raises(ValueError, match="never be complete"):
        CompletenessRule(marker=None, quiet_minutes=None)
    with pytest.raises(ValueError, match="quiet_minutes"):
        CompletenessRule(quiet_minutes=-1)
