"""The demo clients_daily generator: layout, schema, determinism, dirt and planted structure."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from taar_assets.cli.demo_data import main as main_demo_data
from taar_assets.demo import generator as demo_data
from taar_assets.recommendation.addon_metadata import load_addon_metadata, producer_signals
from taar_assets.demo.generator import (
    DemoSpec,
    DemoSummary,
    write_demo_dataset,
)
from taar_assets.recommendation.ranker import ProducerQuality, ProducerQualityRule

END = dt.date(2024, 3, 31)
SPEC = DemoSpec(clients=2_000, days=30, end_date=END, seed=7)

# Written out independently of the module: the contract the files must keep.
EXPECTED_ADDON = pa.struct(
    [
        ("addon_id", pa.string()),
        ("blocklisted", pa.bool_()),
        ("name", pa.string()),
        ("user_disabled", pa.bool_()),
        ("app_disabled", pa.bool_()),
        ("version", pa.string()),
        ("scope", pa.int32()),
        ("type", pa.string()),
        ("foreign_install", pa.bool_()),
        ("has_binary_components", pa.bool_()),
        ("install_day", pa.int32()),
        ("update_day", pa.int32()),
        ("signed_state", pa.int32()),
        ("is_system", pa.bool_()),
        ("is_web_extension", pa.bool_()),
        ("multiprocess_compatible", pa.bool_()),
    ]
)
EXPECTED_TYPES = {
    "client_id": pa.string(),
    "channel": pa.string(),
    "app_name": pa.string(),
    "city": pa.string(),
    "locale": pa.string(),
    "os": pa.string(),
    "subsession_hours_sum": pa.float64(),
    "places_bookmarks_count_mean": pa.float64(),
    "scalar_parent_browser_engagement_tab_open_event_count_sum": pa.int64(),
    "scalar_parent_browser_engagement_total_uri_count_sum": pa.int64(),
    "scalar_parent_browser_engagement_unique_domains_count_mean": pa.float64(),
    "active_addons": pa.list_(EXPECTED_ADDON),
}
NUMERIC_COLUMNS = [
    name for name, kind in EXPECTED_TYPES.items() if pa.types.is_integer(kind) or pa.types.is_floating(kind)
]


def _day_files(root: Path) -> list[Path]:
    return sorted(root.glob("submission_date_s3=*/part-0.parquet"))


def _read_all(summary: DemoSummary) -> pa.Table:
    """Every day file, with the folder's date as a `day` column."""
    tables = []
    for path in _day_files(summary.clients_daily):
        table = pq.read_table(path)
        day = dt.datetime.strptime(path.parent.name.split("=")[1], "%Y%m%d").date()
        tables.append(table.append_column("day", pa.array([day] * table.num_rows, pa.date32())))
    return pa.concat_tables(tables)


def _is_valid(addon: dict, whitelist: set[str]) -> bool:
    """docs/behaviour.md §3.2 validity, written plainly."""
    return (
        not addon["is_system"]
        and not addon["app_disabled"]
        and addon["type"] == "extension"
        and not addon["user_disabled"]
        and not addon["foreign_install"]
        and addon["addon_id"] in whitelist
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[DemoSummary, pa.Table]:
    summary = write_demo_dataset(tmp_path_factory.mktemp("demo"), SPEC)
    return summary, _read_all(summary)


@pytest.fixture(scope="module")
def whitelist(dataset) -> list[str]:
    return json.loads(dataset[0].whitelist.read_text())


@pytest.fixture(scope="module")
def addons(dataset) -> pa.Table:
    """One row per add-on struct, with the row's client and day."""
    _, table = dataset
    lists = table.column("active_addons").combine_chunks()
    parent = pc.list_parent_indices(lists)
    flat = pa.Table.from_struct_array(pc.list_flatten(lists))
    return flat.append_column("client_id", table.column("client_id").take(parent)).append_column(
        "day", table.column("day").take(parent)
    )


def test_layout_one_folder_per_day_ending_on_end_date(dataset):
    summary, table = dataset
    expected_days = [END - dt.timedelta(days=i) for i in range(SPEC.days - 1, -1, -1)]
    assert summary.days == expected_days
    folders = sorted(p.name for p in summary.clients_daily.iterdir())
    assert folders == [f"submission_date_s3={day:%Y%m%d}" for day in expected_days]
    for folder in summary.clients_daily.iterdir():
        assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "part-0.parquet"]  # no temporary files left
    assert summary.rows == table.num_rows
    assert summary.whitelist.name == "whitelist.json" and summary.groups.name == "groups.parquet"


def test_schema_is_the_input_contract_plus_ignorable_columns(dataset):
    summary, _ = dataset
    for path in _day_files(summary.clients_daily):
        schema = pq.read_schema(path)
        types = {field.name: field.type for field in schema}
        for name, kind in EXPECTED_TYPES.items():
            assert types[name] == kind, name
        extra = set(types) - set(EXPECTED_TYPES)
        assert 2 <= len(extra) <= 3
        assert "submission_date_s3" not in types


def test_same_spec_gives_same_data_and_another_seed_does_not(dataset, tmp_path):
    summary, table = dataset
    again = write_demo_dataset(tmp_path / "again", SPEC)
    assert json.loads(again.whitelist.read_text()) == json.loads(summary.whitelist.read_text())
    assert pq.read_table(again.groups).equals(pq.read_table(summary.groups))
    for first, second in zip(_day_files(summary.clients_daily), _day_files(again.clients_daily), strict=True):
        assert pq.read_table(first).equals(pq.read_table(second))

    other = write_demo_dataset(tmp_path / "other", DemoSpec(clients=2_000, days=30, end_date=END, seed=8))
    assert json.loads(other.whitelist.read_text()) != json.loads(summary.whitelist.read_text())
    assert not _read_all(other).equals(table)


def test_clients_come_back_on_several_days_with_changing_addons(dataset):
    _, table = dataset
    rows = table.filter(pc.is_valid(table.column("client_id"))).select(["client_id", "day", "active_addons"])
    records = rows.to_pylist()
    days_of = Counter((r["client_id"], r["day"]) for r in records)
    assert max(days_of.values()) == 1  # at most one row per client and day

    sets_of: dict[str, set[frozenset]] = {}
    for record in records:
        if record["active_addons"] is not None:
            ids = frozenset(a["addon_id"] for a in record["active_addons"])
            sets_of.setdefault(record["client_id"], set()).add(ids)
    per_client = Counter(r["client_id"] for r in records)
    repeat = [client for client, count in per_client.items() if count >= 3]
    assert len(repeat) > 0.2 * len(per_client)
    changed = sum(len(sets_of.get(client, ())) > 1 for client in repeat)
    assert changed > 0.3 * len(repeat)


def test_activity_over_a_long_window(tmp_path):
    summary = write_demo_dataset(tmp_path, DemoSpec(clients=1_500, days=120, end_date=END, seed=3))
    table = _read_all(summary).select(["client_id", "day"])
    table = table.filter(pc.is_valid(table.column("client_id")))
    counts = Counter(table.column("client_id").to_pylist())
    rows_per_client = np.array(list(counts.values()))
    assert 6 <= rows_per_client.mean() <= 11
    assert 0.1 < (rows_per_client == 1).mean() < 0.4  # some clients once ...
    assert (rows_per_client >= 60).any()  # ... some nearly daily
    last_seen = table.group_by("client_id").aggregate([("day", "max")]).column("day_max").to_pylist()
    stale = np.mean([(END - day).days > 90 for day in last_seen])
    assert 0.03 < stale < 0.4


def test_rows_carry_the_dirt_the_pipeline_must_remove(dataset):
    _, table = dataset
    n = table.num_rows
    assert 0 < table.column("client_id").null_count < 0.02 * n
    channels = Counter(table.column("channel").to_pylist())
    assert set(channels) == {"release", "beta", "nightly", "esr"}
    assert 0.85 < channels["release"] / n < 0.95
    apps = Counter(table.column("app_name").to_pylist())
    assert set(apps) == {"Firefox", "Fennec", "Thunderbird"}
    assert apps["Firefox"] / n > 0.93
    for name in ("city", "locale", "os"):
        assert 0 < table.column(name).null_count < 0.05 * n, name
    for name in NUMERIC_COLUMNS:
        assert 0 < table.column(name).null_count < 0.03 * n, name
    assert "??" in set(table.column("city").to_pylist())

    lists = table.column("active_addons")
    assert 0 < lists.null_count < 0.03 * n
    lengths = pc.list_value_length(lists).drop_null().to_numpy()
    assert (lengths <= 2).any() and (lengths >= 100).any()
    assert ((lengths > 2) & (lengths < 100)).mean() > 0.9


def test_cities_have_a_long_tail(dataset):
    _, table = dataset
    pairs = {(c, city) for c, city in zip(table.column("client_id").to_pylist(), table.column("city").to_pylist())}
    clients_per_city = Counter(city for client, city in pairs if client is not None and city is not None)
    assert min(clients_per_city.values()) == 1
    assert sum(count == 1 for count in clients_per_city.values()) >= 20
    assert max(clients_per_city.values()) > 50


def test_addon_lists_mix_valid_and_invalid_addons(addons, whitelist):
    listed = set(whitelist)
    records = addons.to_pylist()
    in_whitelist = [r for r in records if r["addon_id"] in listed]
    assert any(r["is_system"] for r in records)
    assert "screenshots@mozilla.org" in {r["addon_id"] for r in records if r["is_system"]}
    assert {"extension", "theme", "dictionary"} <= {r["type"] for r in records}
    # Whitelisted GUIDs that are nevertheless invalid, so the validity rule matters.
    for flag in ("user_disabled", "app_disabled", "foreign_install"):
        assert any(r[flag] for r in in_whitelist), flag
    outside = [r for r in records if r["type"] == "extension" and not r["is_system"] and r["addon_id"] not in listed]
    assert len(outside) > 0.05 * len(records)
    assert 0.3 < sum(_is_valid(r, listed) for r in records) / len(records) < 0.8
    assert all(r["update_day"] >= r["install_day"] for r in records)


def test_valid_addon_counts_straddle_the_more_than_two_rule(dataset, whitelist):
    _, table = dataset
    listed = set(whitelist)
    counts = [
        sum(_is_valid(a, listed) for a in addons)
        for addons in table.column("active_addons").to_pylist()
        if addons is not None and 2 < len(addons) < 100
    ]
    assert any(0 < c <= 2 for c in counts)
    assert np.mean(np.array(counts) > 2) > 0.7


def test_whitelist_is_a_list_of_unique_realistic_guids(whitelist):
    assert isinstance(whitelist, list) and len(whitelist) == SPEC.whitelist_size
    assert all(isinstance(guid, str) and guid for guid in whitelist)
    assert len(set(whitelist)) == len(whitelist)
    uuid_style = re.compile(r"\{[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}")
    assert sum(bool(uuid_style.fullmatch(guid)) for guid in whitelist) > 0.2 * len(whitelist)
    assert sum("@" in guid for guid in whitelist) > 0.2 * len(whitelist)
    assert not any(guid.endswith("@mozilla.org") for guid in whitelist)


def test_planted_groups_shape_addons_and_locales(dataset, whitelist):
    summary, table = dataset
    truth = pq.read_table(summary.groups)
    assert truth.num_rows == SPEC.clients
    assert set(truth.column("group").to_pylist()) == set(range(SPEC.groups))
    group_of = dict(zip(truth.column("client_id").to_pylist(), truth.column("group").to_pylist()))

    # Each client's latest valid whitelisted set, as a client x whitelist indicator matrix.
    column_of = {guid: i for i, guid in enumerate(whitelist)}
    latest: dict[str, tuple[dt.date, list]] = {}
    for record in table.select(["client_id", "day", "active_addons"]).to_pylist():
        client, addons = record["client_id"], record["active_addons"]
        if client is not None and addons is not None and (client not in latest or record["day"] > latest[client][0]):
            latest[client] = (record["day"], addons)
    clients = [c for c, (_, addons) in latest.items() if sum(_is_valid(a, column_of.keys()) for a in addons) > 2]
    matrix = np.zeros((len(clients), len(whitelist)))
    for row, client in enumerate(clients):
        for addon in latest[client][1]:
            if _is_valid(addon, column_of.keys()):
                matrix[row, column_of[addon["addon_id"]]] = 1
    shared = matrix @ matrix.T
    sizes = matrix.sum(axis=1)
    jaccard = shared / (sizes[:, None] + sizes[None, :] - shared)
    groups = np.array([group_of[c] for c in clients])
    same = groups[:, None] == groups[None, :]
    off_diagonal = ~np.eye(len(clients), dtype=bool)
    assert jaccard[same & off_diagonal].mean() > 4 * jaccard[~same].mean()

    # Each group leans on one or two home locales.
    locales = Counter()
    for client, locale in zip(table.column("client_id").to_pylist(), table.column("locale").to_pylist()):
        if client is not None and locale is not None:
            locales[(group_of[client], locale)] += 1
    for group in range(SPEC.groups):
        in_group = {loc: n for (g, loc), n in locales.items() if g == group}
        assert max(in_group.values()) / sum(in_group.values()) > 0.35, group


def test_end_date_defaults_to_yesterday_utc(tmp_path):
    before = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    summary = write_demo_dataset(tmp_path, DemoSpec(clients=50, days=2))
    after = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    assert summary.days[-1] in {before, after}
    assert len(summary.days) == 2


def test_rerun_with_a_later_window_removes_old_days(tmp_path):
    write_demo_dataset(tmp_path, DemoSpec(clients=100, days=3, end_date=END))
    summary = write_demo_dataset(tmp_path, DemoSpec(clients=100, days=3, end_date=END + dt.timedelta(days=2)))
    assert sorted(p.name for p in summary.clients_daily.iterdir()) == [
        f"submission_date_s3={day:%Y%m%d}" for day in summary.days
    ]


def test_interrupted_write_leaves_no_truncated_file(tmp_path, monkeypatch):
    spec = DemoSpec(clients=100, days=3, end_date=END)
    previous = write_demo_dataset(tmp_path, spec)
    original = pq.write_table

    def disk_full(table, where, **kwargs):
        if Path(where).name.startswith(".part-0.parquet.") and "20240330" in str(where):
            Path(where).write_bytes(b"PAR1 half a file")
            raise OSError("disk full")
        return original(table, where, **kwargs)

    monkeypatch.setattr(demo_data.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_demo_dataset(tmp_path, DemoSpec(clients=100, days=3, end_date=END, seed=1))
    monkeypatch.undo()
    for path in _day_files(previous.clients_daily):
        pq.read_table(path)  # every file is complete: the old one or the new one
    assert not [p for p in tmp_path.rglob(".*")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clients", 0),
        ("days", 0),
        ("groups", 0),
        ("whitelist_size", 10),
        ("seed", -1),
        ("end_date", "2024-01-01"),
        ("end_date", dt.datetime(2024, 1, 1, 12)),
    ],
)
def test_bad_spec_is_rejected_naming_the_field(tmp_path, field, value):
    with pytest.raises(ValueError, match=field):
        write_demo_dataset(tmp_path, DemoSpec(**{field: value}))


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main_demo_data(
        ["--clients", "200", "--days", "3", "--end-date", "2024-01-05", "--groups", "4", "--seed", "2"]
        + ["--out", str(out)]
    )
    assert code == 0
    assert sorted(p.name for p in (out / "clients_daily").iterdir()) == [
        "submission_date_s3=20240103",
        "submission_date_s3=20240104",
        "submission_date_s3=20240105",
    ]
    assert (out / "whitelist.json").is_file() and (out / "groups.parquet").is_file()
    printed = capsys.readouterr().out
    assert str(out / "clients_daily") in printed and str(out / "whitelist.json") in printed
    assert set(pq.read_table(out / "groups.parquet").column("group").to_pylist()) == {0, 1, 2, 3}


def test_command_line_rejects_a_bad_argument(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main_demo_data(["--clients", "0", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "clients" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_command_line_help_names_the_command_and_shows_every_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main_demo_data(["--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: taar-assets demo-data ")
    text = " ".join(printed.split())  # independent of how argparse wraps the lines
    assert f"--clients CLIENTS number of clients (default: {DemoSpec().clients})" in text
    options = ["--clients", "--days", "--end-date", "--groups", "--whitelist-size", "--seed", "--daily-activity", "--out"]
    assert text.count("(default: ") == len(options)


def test_addon_metadata_describes_every_extension(dataset, addons, whitelist):
    summary, _ = dataset
    assert summary.addon_metadata == summary.whitelist.parent / "addon_metadata.json"
    metadata = load_addon_metadata(str(summary.addon_metadata))
    assert len(metadata) == SPEC.whitelist_size + demo_data.NON_WHITELISTED_EXTENSIONS
    assert set(whitelist) <= set(metadata)
    records = addons.to_pylist()
    extensions = {r["addon_id"] for r in records if r["type"] == "extension" and not r["is_system"]}
    assert extensions <= set(metadata)
    assert not {r["addon_id"] for r in records if r["is_system"] or r["type"] != "extension"} & set(metadata)
    names = {r["addon_id"]: r["name"] for r in records}
    assert all(metadata[guid].name == name for guid, name in names.items() if guid in metadata)


def test_addon_metadata_is_realistic(dataset, whitelist):
    metadata = load_addon_metadata(str(dataset[0].addon_metadata))
    users = np.array([info.weekly_users for info in metadata.values()])
    listed = np.array([guid in set(whitelist) for guid in metadata])
    # Skewed audiences; the curated add-ons are the popular ones.
    assert users.max() > 1000 * np.median(users)
    assert np.median(users[listed]) > 20 * np.median(users[~listed])
    # Producers publish one or several add-ons; a few are low quality, a few subscribed.
    per_producer = Counter(info.producer for info in metadata.values())
    assert 3 < max(per_producer.values()) < 60 and sum(n == 1 for n in per_producer.values()) > 0.5 * len(per_producer)
    signals = producer_signals(metadata)
    verdicts = Counter(ProducerQualityRule().classify(s) for s in signals.values())
    assert 0.01 < verdicts[ProducerQuality.LOW] / len(signals) < 0.2
    assert verdicts[ProducerQuality.HIGH] > 0 and verdicts[ProducerQuality.NEUTRAL] > 0
    subscribed = {info.producer for info in metadata.values() if info.subscribed}
    assert 0 < len(subscribed) < 0.1 * len(per_producer)
    assert any(metadata[guid].subscribed for guid in whitelist)
    flagged = [info for info in metadata.values() if info.policy_violation or info.abuse_flagged]
    assert 0 < len(flagged) < 0.1 * len(metadata)
    assert all(info.average_rating == 0 for info in metadata.values() if info.rating_count == 0)


def test_addon_metadata_is_deterministic(tmp_path):
    spec = DemoSpec(clients=100, days=3, end_date=END, seed=5)
    first = write_demo_dataset(tmp_path / "first", spec).addon_metadata.read_bytes()
    assert write_demo_dataset(tmp_path / "again", spec).addon_metadata.read_bytes() == first
    other = DemoSpec(clients=100, days=3, end_date=END, seed=6)
    assert write_demo_dataset(tmp_path / "other", other).addon_metadata.read_bytes() != first


def test_groups_are_personas_in_the_features_the_similarity_distance_reads(dataset):
    """OS, big city and engagement depend on the group, so city/locale/os and the five engagement
    numbers (docs/behaviour.md §4) carry taste information."""
    summary, table = dataset
    truth = pq.read_table(summary.groups)
    group_of = dict(zip(truth.column("client_id").to_pylist(), truth.column("group").to_pylist()))
    columns = ["client_id", "os", "city", "subsession_hours_sum", "places_bookmarks_count_mean",
               "scalar_parent_browser_engagement_total_uri_count_sum"]
    rows = table.select(columns).to_pandas().dropna()
    rows = rows.drop_duplicates("client_id").assign(group=lambda f: f["client_id"].map(group_of))
    dominant_os = rows.groupby("group")["os"].agg(lambda os: os.value_counts(normalize=True).iloc[0])
    assert dominant_os.mean() > 0.75, dominant_os.mean()

    engagement = np.log(rows[columns[3:]].to_numpy(dtype=float) + 1.0)
    groups = rows["group"].to_numpy()
    rng = np.random.default_rng(0)
    first, second = rng.integers(len(rows), size=(2, 20_000))
    gap = np.abs(engagement[first] - engagement[second]).sum(axis=1)
    same = (groups[first] == groups[second]) & (first != second)
    assert gap[same].mean() < 0.5 * gap[~same].mean(), (gap[same].mean(), gap[~same].mean())
