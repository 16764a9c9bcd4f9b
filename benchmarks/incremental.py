"""Incremental benchmark: the samples state advanced by one day against reading the whole window.

1. One partition, side by side (default 1M demo clients): day D built from the whole window,
   and day D advanced from day D-1's state (built first, not timed). Prints the samples step's
   seconds (from the run's log) and the whole partition's wall time, and their ratios.
2. A range backfill at a realistic density (default 250k clients with at least 65% of their
   days active, over 30 rows per client in a window): `--range-days` days in one run advanced
   day by day, against one full-window run per day. Prints both times and checks that every
   day's published files are identical.

    python benchmarks/incremental.py --clients 1000000 --dense-clients 250000 --range-days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import END, dataset, run_pipeline, window_rows

# The samples line `taar-assets run` prints: files read, rows written, the step's seconds, the mode.
SAMPLES_LINE = re.compile(r"^ +samples +([\d,]+) files -> +[\d,]+ rows +([0-9.]+) s +(bootstrap|incremental)$", re.M)
FULL_WINDOW = ("--config-json", '{"ops": {"samples": {"config": {"incremental": false}}}}')


def samples_seconds(log: str) -> tuple[str, int, float]:
    files, seconds, mode = SAMPLES_LINE.findall(log)[-1]
    return mode, int(files.replace(",", "")), float(seconds)


def one_partition(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        full = run_pipeline(folder, storage=Path(work) / "full", args=FULL_WINDOW)
        run_pipeline(folder, partition=END - dt.timedelta(days=1), storage=Path(work) / "state")
        advanced = run_pipeline(folder, storage=Path(work) / "state")
    full_mode, full_files, full_samples = samples_seconds(full.log)
    mode, files, advanced_samples = samples_seconds(advanced.log)
    assert (full_mode, mode) == ("bootstrap", "incremental"), (full_mode, mode)
    print(f"samples step: whole window {full_samples:.1f}s ({full_files} files), advanced {advanced_samples:.1f}s "
          f"({files} files + the state): x{advanced_samples / full_samples:.2f}")
    print(f"whole partition: whole window {full.seconds:.1f}s, advanced {advanced.seconds:.1f}s: "
          f"x{advanced.seconds / full.seconds:.2f}", flush=True)


def dg_launch(folder: Path, work: Path, name: str, first: dt.date, last: dt.date, config: tuple = ()) -> float:
    env_args = {
        "TAAR_CLIENTS_DAILY": str(folder / "clients_daily"),
        "TAAR_WHITELIST": str(folder / "whitelist.json"),
        "TAAR_STORAGE": str(work / name / "storage"),
        "TAAR_PUBLISH": str(work / name / "published"),
    }
    env = {**os.environ, **env_args}
    env.pop("DAGSTER_HOME", None)
    dg = Path(sys.executable).with_name("dg")
    command = [str(dg), "launch", "--assets", "group:similarity", "--partition-range", f"{first}...{last}", *config]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-5000:])
    return time.perf_counter() - started


def range_backfill(folder: Path, days: int) -> None:
    first, last = END - dt.timedelta(days=days - 1), END
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        advanced = dg_launch(folder, work, "advanced", first, last)
        full = 0.0
        for offset in range(days):
            day = first + dt.timedelta(days=offset)
            full += dg_launch(folder, work, "full", day, day, FULL_WINDOW)
        differing = [
            name
            for name in sorted(p.name for p in (work / "full" / "published").iterdir() if p.name[-13:-5].isdigit())
            if (work / "full" / "published" / name).read_bytes() != (work / "advanced" / "published" / name).read_bytes()
        ]
    print(f"{days}-day range: advanced day by day in one run {advanced:.0f}s, one full-window run per day "
          f"{full:.0f}s: x{full / advanced:.1f} faster; published files differing: {differing or 'none'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1_000_000, help="0: skip the one-partition comparison")
    parser.add_argument("--dense-clients", type=int, default=250_000)
    parser.add_argument("--daily-activity", type=float, default=0.65)
    parser.add_argument("--range-days", type=int, default=30)
    args = parser.parse_args()
    if args.clients:
        folder = dataset(args.clients)
        print(f"{args.clients:,} clients, {window_rows(folder / 'clients_daily'):,} rows in the window", flush=True)
        one_partition(folder)
    dense = dataset(args.dense_clients, daily_activity=args.daily_activity)
    rows = window_rows(dense / "clients_daily")
    print(f"{args.dense_clients:,} clients, {rows:,} rows in the window ({rows / args.dense_clients:.0f} per client)",
          flush=True)
    range_backfill(dense, args.range_days)


if __name__ == "__main__":
    main()
