"""What the benchmarks share: cached demo datasets, and one pipeline run in a fresh process with
its wall time and peak memory.

Peak memory is read from /proc while the run goes (VmHWM, the resident high-water mark): the
run's own process (the Dagster run, Spark's driver) apart from its JVM, when it starts one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds

from taar_assets.demo import DemoSpec, write_demo_dataset
from taar_assets.similarity.input_contract import Window

END = dt.date(2026, 11, 20)
ROOT = Path(__file__).resolve().parent.parent / "data" / "bench"  # wherever it is run from
MIB = 2**20
SPARK_DRIVER_MEMORY = "6g"


def dataset(clients: int, daily_activity: float | None = None, days: int = 120) -> Path:
    """The demo dataset of `clients` clients (generated once, cached under data/bench/)."""
    name = f"clients-{clients}" + (f"-activity-{daily_activity}" if daily_activity else "")
    folder = ROOT / name
    if not (folder / "whitelist.json").is_file():
        started = time.perf_counter()
        spec = DemoSpec(clients=clients, days=days, end_date=END, seed=1, daily_activity=daily_activity)
        write_demo_dataset(folder, spec)
        print(f"generated {name} in {time.perf_counter() - started:.0f}s", flush=True)
    return folder


def window_rows(clients_daily: Path, end: dt.date = END) -> int:
    """Rows in the partition's 90-day window."""
    window = {f"submission_date_s3={day:%Y%m%d}" for day in Window(end).dates()}
    return sum(
        ds.dataset(folder, format="parquet").count_rows() for folder in clients_daily.iterdir() if folder.name in window
    )


def _peak_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def _jvm_children(pid: int) -> list[int]:
    """The java processes among `pid`'s descendants."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)
                names[int(entry)] = fields[0].split("(", 1)[1]
                parents[int(entry)] = int(fields[1].split()[1])
            except (OSError, IndexError):
                continue

    def descends(child: int) -> bool:
        while child in parents and child > 1:
            if parents[child] == pid:
                return True
            child = parents[child]
        return False

    return [child for child, name in names.items() if name == "java" and descends(child)]


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float  # the run process's own peak RSS
    jvm_peak_mib: float  # its JVM's (0 on the embedded engine)
    log: str


def run_pipeline(
    folder: Path,
    *,
    engine: str = "local",
    partition: dt.date = END,
    storage: Path | None = None,
    extra_env: dict[str, str] | None = None,
    code: Path | None = None,
    args: tuple[str, ...] = (),
    whole_graph: bool = False,
) -> Run:
    """One `taar-assets run --partition <day>` in a fresh process on the dataset in `folder`.

    `storage`: keep the intermediate tables there (default: a temporary folder); `code`: run the
    package found in that folder instead (e.g. a checkout of an earlier version); `whole_graph`:
    build the recommendation group too (by default the model only, as an earlier version does).
    """
    folder = folder.resolve()
    with tempfile.TemporaryDirectory() as work:
        env = {
            **os.environ,
            "TAAR_CLIENTS_DAILY": str(folder / "clients_daily"),
            "TAAR_WHITELIST": str(folder / "whitelist.json"),
            "TAAR_STORAGE": str(storage or Path(work) / "storage"),
            "TAAR_PUBLISH": str(Path(work) / "published"),
            "TAAR_ENGINE": engine,
            "TAAR_SPARK_MASTER": "local[2]",
            # local[2] runs every task in the driver's JVM: its default 1 GiB heap is a cluster
            # driver's, too small for the tasks of 10M clients.
            "TAAR_SPARK_CONF": json.dumps({"spark.driver.memory": SPARK_DRIVER_MEMORY}),
            **(extra_env or {}),
        }
        env.pop("DAGSTER_HOME", None)
        if code is not None:  # an earlier checkout builds the model only and has no such flag
            env["PYTHONPATH"] = str(code)
        elif not whole_graph:
            args = ("--skip-recommendation", *args)
        log_path = Path(work) / "run.log"
        command = [sys.executable, "-m", "taar_assets.cli", "run", "--partition", f"{partition}", *args]
        started = time.perf_counter()
        with log_path.open("w") as output:
            # `python -m` puts the working folder first on sys.path: run an earlier checkout from inside it.
            child = subprocess.Popen(command, env=env, cwd=code, stdout=output, stderr=subprocess.STDOUT)
            peak = jvm_peak = 0
            while child.poll() is None:
                peak = max(peak, _peak_kib(child.pid))
                jvm_peak = max([jvm_peak, *(_peak_kib(jvm) for jvm in _jvm_children(child.pid))])
                time.sleep(0.2)
        seconds = time.perf_counter() - started
        log = log_path.read_text()
        if child.returncode != 0:
            raise SystemExit(f"the pipeline failed on {folder} ({engine}):\n{log[-5000:]}")
    return Run(seconds, peak / 1024, jvm_peak / 1024, log)
