"""Stage 1 (samples) and stage 2 (valid add-ons) on hand-made data, and the input contract."""

import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taar_assets.similarity.input_contract import (
    InputContractError,
    Window,
    find_window_files,
)
from taar_assets.engines.local import LocalEngine
from taar_assets.engines.local.duckdb_table import DuckDBSettings
from taar_assets.similarity.rules import SampleRule
from taar_assets_tests.support import engine_runs
from taar_assets_tests.support.factories import SCHEMA, addon, row, write_day

DAY = dt.date(2026, 11, 20)
GUIDS = ["a@x", "b@x", "c@x", "d@x"]


def build_samples(files, folder):
    return engine_runs.samples(files, folder).read()


def valid_addons_per_client(samples, whitelist, folder, min_valid_exclusive=2):
    return engine_runs.valid_addons(samples, whitelist, folder, min_valid_exclusive=min_valid_exclusive).read()


def samples_for(root, end=DAY, days=90):
    files = find_window_files(str(root), Window(end, days))
    return build_samples(files, root.parent / f"store-{end}-{days}").to_pandas().set_index("client_id")


def test_latest_row_per_client_wins(tmp_path):
    write_day(tmp_path, DAY - dt.timedelta(days=3), [row("c1", GUIDS[:3], city="Old"), row("c2", GUIDS[:3])])
    write_day(tmp_path, DAY, [row("c1", GUIDS, city="New")])
    samples = samples_for(tmp_path)
    assert sorted(samples.index) == ["c1", "c2"]
    assert samples.loc["c1", "city"] == "New"
    assert len(samples.loc["c1", "active_addons"]) == 4


def test_rows_outside_the_window_are_ignored(tmp_path):
    write_day(tmp_path, DAY - dt.timedelta(days=90), [row("too_old", GUIDS)])
    write_day(tmp_path, DAY - dt.timedelta(days=89), [row("first_day", GUIDS)])
    write_day(tmp_path, DAY + dt.timedelta(days=1), [row("future", GUIDS)])
    write_day(tmp_path, DAY, [row("today", GUIDS)])
    assert sorted(samples_for(tmp_path).index) == ["first_day", "today"]


def test_filters_on_client_channel_app_and_addon_count(tmp_path):
    many = [f"g{i}" for i in range(100)]
    write_day(
        tmp_path,
        DAY,
        [
            row(None, GUIDS),
            row("beta", GUIDS, channel="beta"),
            row("fennec", GUIDS, app_name="Fennec"),
            row("null_addons", active_addons=None),
            row("two_addons", GUIDS[:2]),
            row("three_addons", GUIDS[:3]),
            row("ninety_nine", many[:99]),
            row("hundred", many),
        ],
    )
    assert sorted(samples_for(tmp_path).index) == ["ninety_nine", "three_addons"]


def test_a_newer_row_that_fails_the_filters_does_not_hide_an_older_one(tmp_path):
    write_day(tmp_path, DAY - dt.timedelta(days=1), [row("c1", GUIDS, city="Kept")])
    write_day(tmp_path, DAY, [row("c1", GUIDS[:1], city="Too few add-ons")])
    assert samples_for(tmp_path).loc["c1", "city"] == "Kept"


def test_sample_columns_and_types(tmp_path):
    write_day(tmp_path, DAY, [row("c1", GUIDS, city=None, subsession_hours_sum=None)])
    table = build_samples(find_window_files(str(tmp_path), Window(DAY)), tmp_path.parent / "store")
    assert table.column_names == [
        "client_id", "active_addons", "city", "subsession_hours_sum", "locale", "os",
        "bookmark_count", "tab_open_count", "total_uri", "unique_tlds", "submission_date",
    ]
    assert table.schema.field("submission_date").type == pa.date32()
    assert table.column("submission_date").to_pylist() == [DAY]
    for name in ["subsession_hours_sum", "bookmark_count", "tab_open_count", "total_uri", "unique_tlds"]:
        assert table.schema.field(name).type == pa.float64()
    assert table.column("city").to_pylist() == [None]


def test_long_and_double_columns_mix_across_files(tmp_path):
    as_long = SCHEMA.set(SCHEMA.get_field_index("places_bookmarks_count_mean"), pa.field("places_bookmarks_count_mean", pa.int64()))
    write_day(tmp_path, DAY - dt.timedelta(days=1), [row("c1", GUIDS, places_bookmarks_count_mean=7)], schema=as_long)
    write_day(tmp_path, DAY, [row("c2", GUIDS, places_bookmarks_count_mean=7.5)])
    samples = samples_for(tmp_path)
    assert samples.loc["c1", "bookmark_count"] == 7.0 and samples.loc["c2", "bookmark_count"] == 7.5


def test_missing_dataset_root_is_named(tmp_path):
    with pytest.raises(InputContractError, match="not found.*nowhere"):
        find_window_files(str(tmp_path / "nowhere"), Window(DAY))


def test_missing_partition_day_is_named(tmp_path):
    write_day(tmp_path, DAY - dt.timedelta(days=1), [row("c1", GUIDS)])
    with pytest.raises(InputContractError, match="no data for partition 2026-11-20.*submission_date_s3=20261120"):
        find_window_files(str(tmp_path), Window(DAY))
    files = find_window_files(str(tmp_path), Window(DAY), require_end_day=False)
    assert DAY in files.missing_days and len(files.files) == 1


def test_missing_column_is_named_with_its_file(tmp_path):
    path = write_day(tmp_path, DAY, [row("c1", GUIDS)], schema=SCHEMA.remove(SCHEMA.get_field_index("os")))
    with pytest.raises(InputContractError, match=f"{path}.*column 'os' is missing"):
        find_window_files(str(tmp_path), Window(DAY))


def test_wrong_column_type_is_named(tmp_path):
    schema = SCHEMA.set(SCHEMA.get_field_index("subsession_hours_sum"), pa.field("subsession_hours_sum", pa.string()))
    write_day(tmp_path, DAY, [row("c1", GUIDS, subsession_hours_sum="lots")], schema=schema)
    with pytest.raises(InputContractError, match="'subsession_hours_sum' has type string, expected double or long"):
        find_window_files(str(tmp_path), Window(DAY))


def test_missing_addon_struct_field_is_named(tmp_path):
    struct = pa.struct([f for f in SCHEMA.field("active_addons").type.value_type if f.name != "foreign_install"])
    schema = SCHEMA.set(SCHEMA.get_field_index("active_addons"), pa.field("active_addons", pa.list_(struct)))
    rows = [row("c1", active_addons=[{k: v for k, v in addon(g).items() if k != "foreign_install"} for g in GUIDS])]
    write_day(tmp_path, DAY, rows, schema=schema)
    with pytest.raises(InputContractError, match="'active_addons.foreign_install' is missing"):
        find_window_files(str(tmp_path), Window(DAY))


def test_unreadable_file_is_named(tmp_path):
    folder = tmp_path / "submission_date_s3=20261120"
    folder.mkdir()
    (folder / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputContractError, match="broken.parquet is not readable parquet"):
        find_window_files(str(tmp_path), Window(DAY))


def test_valid_addons_follow_every_rule(tmp_path):
    whitelist = {"ok1", "ok2", "ok3", "system", "disabled", "theme", "foreign", "blocked_by_user", "null_flags"}
    addons = [
        addon("ok1"),
        addon("ok2"),
        addon("system", is_system=True),
        addon("disabled", app_disabled=True),
        addon("theme", type="theme"),
        addon("foreign", foreign_install=True),
        addon("blocked_by_user", user_disabled=True),
        addon("not_whitelisted"),
        addon("null_flags", is_system=None, app_disabled=None, user_disabled=None, foreign_install=None),
        addon("ok3"),
    ]
    write_day(tmp_path, DAY, [row("c1", active_addons=addons), row("c2", active_addons=[addon("ok1"), addon("ok2"), addon("theme", type="theme")])])
    samples = engine_runs.samples(find_window_files(str(tmp_path), Window(DAY)), tmp_path.parent / "store")
    valid = valid_addons_per_client(samples, whitelist, tmp_path.parent / "store").to_pylist()
    # c2 has only two valid add-ons and is dropped; order within a client is kept.
    assert valid == [{"client_id": "c1", "addon_ids": ["ok1", "ok2", "null_flags", "ok3"]}]
    assert valid_addons_per_client(samples, whitelist, tmp_path.parent / "store", min_valid_exclusive=1).num_rows == 2


def test_rows_of_the_same_day_resolve_by_file_then_position(tmp_path):
    write_day(tmp_path, DAY, [row("c1", GUIDS, city="a-first"), row("c1", GUIDS, city="a-second")], name="part-a")
    write_day(tmp_path, DAY, [row("c1", GUIDS, city="b-only")], name="part-b")
    assert samples_for(tmp_path).loc["c1", "city"] == "b-only"
    (tmp_path / "submission_date_s3=20261120" / "part-b.parquet").unlink()
    assert samples_for(tmp_path).loc["c1", "city"] == "a-second"


def test_latest_day_is_the_newest_day_folder(tmp_path):
    from taar_assets.similarity.input_contract import latest_day

    write_day(tmp_path, DAY - dt.timedelta(days=2), [row("c1", GUIDS)])
    write_day(tmp_path, DAY, [row("c1", GUIDS)])
    (tmp_path / "_SUCCESS").write_text("")
    assert latest_day(str(tmp_path)) == DAY
    with pytest.raises(InputContractError, match="no submission_date_s3=YYYYMMDD folders"):
        latest_day(str(tmp_path / "submission_date_s3=20261120"))


def test_hidden_files_and_folders_are_not_data(tmp_path):
    write_day(tmp_path, DAY, [row("c1", GUIDS, city="real")])
    folder = tmp_path / "submission_date_s3=20261120"
    write_day(tmp_path, DAY, [row("c1", GUIDS, city="hidden copy")], name=".part-0.copy")
    (folder / "_temporary" / "0").mkdir(parents=True)
    (folder / "_temporary" / "0" / "part-9.parquet").write_bytes(b"PAR1 half a file")
    (folder / "_SUCCESS").write_text("")
    files = find_window_files(str(tmp_path), Window(DAY))
    assert [path.rsplit("/", 1)[-1] for path in files.files] == ["part-0.parquet"]
    assert samples_for(tmp_path).loc["c1", "city"] == "real"


def test_a_partition_day_of_empty_files_counts_as_missing(tmp_path):
    write_day(tmp_path, DAY - dt.timedelta(days=1), [row("c1", GUIDS)])
    write_day(tmp_path, DAY, [])
    with pytest.raises(InputContractError, match="no data for partition 2026-11-20.*no parquet file with rows"):
        find_window_files(str(tmp_path), Window(DAY))
    files = find_window_files(str(tmp_path), Window(DAY), require_end_day=False)
    assert DAY in files.missing_days and [day.day for day in files.days] == [DAY - dt.timedelta(days=1)]


def test_implausible_values_are_read_as_missing_and_counted_per_file(tmp_path):
    path = write_day(tmp_path, DAY, [
        row("c1", GUIDS, subsession_hours_sum=float("inf")),
        row("c2", GUIDS, subsession_hours_sum=1e308, places_bookmarks_count_mean=float("nan")),
        row("c3", GUIDS, scalar_parent_browser_engagement_total_uri_count_sum=-5),
        row("c4", GUIDS, subsession_hours_sum=3.5),
    ])
    result = LocalEngine().samples(find_window_files(str(tmp_path), Window(DAY)), SampleRule())
    assert result.stats["implausible_values"] == [{
        "file": str(path),
        "subsession_hours_sum": 2,
        "places_bookmarks_count_mean": 1,
        "scalar_parent_browser_engagement_total_uri_count_sum": 1,
    }]
    table = engine_runs.store(result.value, tmp_path.parent / "store", "samples").read().to_pandas().set_index("client_id")
    assert table["subsession_hours_sum"].isna().tolist() == [True, True, False, False]
    assert table.loc["c2", "bookmark_count"] != table.loc["c2", "bookmark_count"]  # NaN read as missing
    assert table.loc["c3", "total_uri"] != table.loc["c3", "total_uri"] and table.loc["c4", "subsession_hours_sum"] == 3.5


def test_the_row_rule_is_reported_step_by_step(tmp_path):
    write_day(tmp_path, DAY, [
        row(None, GUIDS), row("beta", GUIDS, channel="beta"), row("fennec", GUIDS, app_name="Fennec"),
        row("few", GUIDS[:2]), row("ok", GUIDS),
    ])
    result = LocalEngine().samples(find_window_files(str(tmp_path), Window(DAY)), SampleRule())
    assert result.stats["funnel"] == {"rows": 5, "with_client_id": 4, "release": 3, "firefox": 2, "qualifying": 1}


def test_duckdb_spills_into_its_own_folder_under_the_configured_root(tmp_path, monkeypatch):
    working, root = tmp_path / "working", tmp_path / "spill"
    working.mkdir()
    monkeypatch.chdir(working)
    con = DuckDBSettings(memory_limit="32MB", threads=1, temp_directory=str(root)).connect()
    sorted_rows = "SELECT count(*) FROM (SELECT md5(i::VARCHAR) AS h FROM range(3000000) t(i) ORDER BY h)"
    assert con.execute(sorted_rows).fetchone() == (3_000_000,)
    spilled = list(root.iterdir())
    assert len(spilled) == 1 and spilled[0].name.startswith(f"{os.getpid()}-")
    assert any(spilled[0].iterdir())
    con.close()
    assert list(root.iterdir()) == [] and list(working.iterdir()) == []


def test_a_file_whose_data_pages_are_damaged_is_named(tmp_path):
    write_day(tmp_path, DAY, [row(f"c{i}", GUIDS) for i in range(200)])
    path = next((tmp_path / f"submission_date_s3={DAY:%Y%m%d}").glob("*.parquet"))
    chunk = pq.read_metadata(path).row_group(0).column(0)  # client_id's pages; the footer stays whole
    damaged = bytearray(path.read_bytes())
    damaged[chunk.data_page_offset : chunk.data_page_offset + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(damaged))
    files = find_window_files(str(tmp_path), Window(DAY, 90))
    with pytest.raises(InputContractError, match=f"clients_daily file {path} is not readable parquet"):
        LocalEngine().samples(files, SampleRule())
