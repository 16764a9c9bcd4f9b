"""The per-client state advanced one day at a time equals the state read from the whole window:
S(D) = S(D-1) without rows dated D-w, overridden by day D's qualifying rows."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taar_assets.engines.local import LocalEngine
from taar_assets.similarity.rules import SampleRule
from taar_assets_tests.support.engine_runs import incremental_and_full
from taar_assets_tests.support.factories import row, write_day

START = dt.date(2026, 11, 1)
GUIDS = ["a@x", "b@x", "c@x", "d@x", "e@x"]


def rows_of(stored):
    """Every value of every row, in client order (the parquet encoding aside)."""
    table = stored.read()
    return table.take(pc.sort_indices(table.column("client_id"))).to_pylist()


def test_the_edge_cases_of_a_client_history(tmp_path):
    root = tmp_path / "clients_daily"
    day = lambda n: START + dt.timedelta(days=n)  # noqa: E731
    histories = {
        0: [row("ages-out", GUIDS[:3], city="d0"), row("comes-back", GUIDS[:3], city="first")],
        1: [row("changes", GUIDS[:3], city="old"), row("same-day", GUIDS[:3], city="early")],
        2: [row("changes", GUIDS[:4], city="new"), row("disqualified-later", GUIDS[:3], city="kept"),
            row("same-day", GUIDS[:4], city="late")],
        3: [row("disqualified-later", GUIDS[:1], city="ignored"), row("beta", GUIDS, channel="beta")],
        # day 4 has no data at all
        5: [row("comes-back", GUIDS[:4], city="again"), row("new", GUIDS[:3])],
        6: [row(None, GUIDS), row("no-addons", None)],
    }
    for offset, rows in histories.items():
        write_day(root, day(offset), rows)
    # two files on one day: the second (by name) wins
    write_day(root, day(2), [row("same-day", GUIDS[:3], city="in part-1")], name="part-1")
    pairs = incremental_and_full(LocalEngine(), root, [day(n) for n in range(3, 8)], 3, tmp_path / "store")
    for advanced, full in pairs:
        assert rows_of(advanced) == rows_of(full), advanced.path.name
    last = {r["client_id"]: r for r in rows_of(pairs[-1][1])}  # window day 5 .. day 7
    assert set(last) == {"comes-back", "new"}
    states = [{r["client_id"]: r["city"] for r in rows_of(full)} for _, full in pairs]
    assert states[0]["same-day"] == "in part-1" and states[0]["changes"] == "new"  # day 3: days 1 .. 3
    assert "ages-out" not in states[0] and states[0]["disqualified-later"] == "kept"


CLIENTS = [f"c{i}" for i in range(8)]


@st.composite
def histories(draw):
    days = draw(st.integers(3, 9))
    window = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 10_000))
    return days, window, seed


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories())
def test_random_histories_advance_exactly(tmp_path_factory, history):
    days, window, seed = history
    rng = random.Random(seed)
    root = tmp_path_factory.mktemp("history") / "clients_daily"
    for offset in range(days):
        rows = [
            row(rng.choice(CLIENTS), GUIDS[: rng.randint(1, 5)], city=f"day{offset}-{i}",
                channel=rng.choice(["release", "release", "beta"]),
                subsession_hours_sum=rng.choice([1.0, 2.5, None]))
            for i in range(rng.randint(0, 6))
        ]
        if rows or rng.random() < 0.5:
            write_day(root, START + dt.timedelta(days=offset), rows)
    if not any(root.iterdir()) if root.exists() else True:
        return
    rule = SampleRule(min_addons_exclusive=1, max_addons_exclusive=5)
    check_days = [START + dt.timedelta(days=n) for n in range(days)]
    try:
        pairs = incremental_and_full(LocalEngine(), root, check_days, window, root.parent / "store", rule)
    except Exception as error:  # a window with no rows at all cannot be read either way
        assert "has no rows" in str(error)
        return
    for advanced, full in pairs:
        assert rows_of(advanced) == rows_of(full)
