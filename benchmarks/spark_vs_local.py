"""The heavy stages (samples, addons_per_client, clusters) on both engines and in the original job.

On one generated dataset (the other benchmarks', cached under data/bench/), each run is a
fresh process on this machine, and the clock starts once its Spark session is up (JVM start-up is
printed apart), so the figures compare the work:

* embedded: the asset graph's amo_whitelist + samples + addons_per_client + clusters for one
  partition with TAAR_ENGINE=local (DuckDB, Arrow, NumPy);
* spark: the same assets with TAAR_ENGINE=spark on local[2];
* original: benchmarks/original_job.py (the seed's job) through stage 3, its clusters written to
  parquet as the assets write theirs; with --original-full also the whole original job.

    python benchmarks/spark_vs_local.py --clients 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import END, dataset

from taar_assets.similarity.input_contract import Window

STAGES = ["amo_whitelist", "samples", "addons_per_client", "clusters"]
SPARK_CONF = {"spark.driver.memory": "4g", "spark.ui.showConsoleProgress": "false"}


def run_stages(engine: str, folder: Path) -> dict:
    """In this process: materialise the heavy stages for END on `engine`; wall and per-step seconds."""
    import dagster as dg

    from taar_assets.definitions import build_definitions
    from taar_assets.resources import Settings, build_resources

    with tempfile.TemporaryDirectory() as work:
        settings = Settings(
            clients_daily=str(folder / "clients_daily"),
            whitelist=str(folder / "whitelist.json"),
            storage=f"{work}/storage",
            publish=f"{work}/published",
            duckdb_memory_limit="3GB",
            engine=engine,
            spark_conf=SPARK_CONF,
        )
        startup = 0.0
        if engine == "spark":
            started = time.perf_counter()
            build_resources(settings)["engine"].session()  # the JVM starts here, outside the clock
            startup = time.perf_counter() - started
        definitions = build_definitions()
        instance = dg.DagsterInstance.ephemeral()
        started = time.perf_counter()
        result = dg.materialize(
            definitions.assets, selection=STAGES, partition_key=f"{END}",
            resources=build_resources(settings), instance=instance,
        )
        seconds = time.perf_counter() - started
        assert result.success
    return {"seconds": seconds, "startup": startup, "steps": step_seconds(instance, result.run_id)}


def step_seconds(instance, run_id: str) -> dict[str, float]:
    started, finished = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event is not None and event.event_type_value == "STEP_SUCCESS":
            finished[event.step_key] = entry.timestamp
    return {step: round(finished[step] - started[step], 1) for step in finished}


def child(*args: str) -> dict:
    """Run one measurement in a fresh process; its last output line is the JSON result."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def original(folder: Path, full: bool) -> dict:
    with tempfile.TemporaryDirectory() as out:
        return child(
            str(Path(__file__).with_name("original_job.py")),
            "--date", f"{END:%Y%m%d}",
            "--clients_sample_date_from", f"{Window(END).start:%Y%m%d}",  # the same 90 days
            "--clients-daily", str(folder / "clients_daily"),
            "--whitelist", str(folder / "whitelist.json"),
            "--out", out,
            *([] if full else ["--through-clusters"]),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--original-full", action="store_true", help="also time the whole original job")
    parser.add_argument("--engine", choices=["local", "spark"], help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args()
    folder = dataset(args.clients)
    if args.engine:
        print(json.dumps(run_stages(args.engine, folder)))
        return

    me = str(Path(__file__).resolve())
    results = {
        "embedded": child(me, "--clients", str(args.clients), "--engine", "local"),
        "spark": child(me, "--clients", str(args.clients), "--engine", "spark"),
        "original": original(folder, full=False),
    }
    for name, result in results.items():
        steps = " ".join(f"{step}={s}s" for step, s in result.get("steps", {}).items())
        startup = f" (+ {result['startup']:.1f}s JVM start)" if result.get("startup") else ""
        print(f"{name:>9}: samples+addons+clusters {result['seconds']:6.1f}s{startup}  {steps}", flush=True)
    spark, embedded, baseline = (results[k]["seconds"] for k in ("spark", "embedded", "original"))
    print(f"spark vs original: {baseline / spark:.1f}x faster (target >= 5x)")
    print(f"spark vs embedded: {spark / embedded:.1f}x the embedded engine's time")
    if args.original_full:
        print(f"original, whole job (donors, LR curves, JSON too): {original(folder, full=True)['seconds']:.1f}s")


if __name__ == "__main__":
    main()
