"""End-to-end benchmark: one partition from raw clients_daily to published files.

For each size, generates a demo dataset (cached under data/bench/), then runs
`taar-assets run` in a fresh process and prints wall time, input rows per second and the
child's peak RSS. With several sizes it also prints the cost ratio against the smallest.

    python benchmarks/end_to_end.py --clients 100000 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds

from taar_assets.similarity.input_contract import Window
from taar_assets.demo.generator import DemoSpec, write_demo_dataset

END = dt.date(2026, 11, 20)
ROOT = Path("data/bench")


def dataset(clients: int) -> Path:
    folder = ROOT / f"clients-{clients}"
    if not (folder / "whitelist.json").is_file():
        started = time.perf_counter()
        write_demo_dataset(folder, DemoSpec(clients=clients, days=120, end_date=END, seed=1))
        print(f"generated {clients:,} clients in {time.perf_counter() - started:.0f}s", flush=True)
    return folder


def window_rows(clients_daily: Path) -> tuple[int, int]:
    """(rows in the whole dataset, rows in the partition's 90-day window)."""
    window = {f"submission_date_s3={day:%Y%m%d}" for day in Window(END).dates()}
    total = in_window = 0
    for day_folder in clients_daily.iterdir():
        rows = ds.dataset(day_folder, format="parquet").count_rows()
        total += rows
        in_window += rows if day_folder.name in window else 0
    return total, in_window


def run_once(folder: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one `taar-assets run` in a child process."""
    with tempfile.TemporaryDirectory() as work:
        env = {
            **os.environ,
            "TAAR_CLIENTS_DAILY": str(folder / "clients_daily"),
            "TAAR_WHITELIST": str(folder / "whitelist.json"),
            "TAAR_STORAGE": f"{work}/storage",
            "TAAR_PUBLISH": f"{work}/published",
        }
        env.pop("DAGSTER_HOME", None)
        started = time.perf_counter()
        log = Path(work) / "run.log"
        with log.open("w") as output:
            child = subprocess.Popen(
                [sys.executable, "-m", "taar_assets.cli", "run", "--partition", f"{END}"],
                env=env, stdout=output, stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"the pipeline failed on {folder}:\n{log.read_text()[-5000:]}")
    return seconds, usage.ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    results = []
    for clients in sorted(args.clients):
        folder = dataset(clients)
        total, in_window = window_rows(folder / "clients_daily")
        seconds, peak = run_once(folder)
        results.append((clients, in_window, seconds))
        print(
            f"clients={clients:,} rows_total={total:,} rows_in_window={in_window:,} "
            f"wall={seconds:.1f}s rows_per_s={in_window / seconds:,.0f} peak_rss={peak:.2f}GiB",
            flush=True,
        )
    if len(results) > 1:
        base_clients, base_rows, base_seconds = results[0]
        for clients, rows, seconds in results[1:]:
            print(
                f"{clients:,} vs {base_clients:,} clients: rows x{rows / base_rows:.1f}, "
                f"time x{seconds / base_seconds:.1f}"
            )


if __name__ == "__main__":
    main()
