"""Population benchmark: one partition per population size and engine, in a fresh process.

For each size (datasets generated once, cached under data/bench/) and each engine, runs
`taar-assets run` (the model; with --whole-graph the recommendation group too) and prints the wall time, the run process's own peak RSS (read from /proc, so
a Spark driver's JVM is not counted) and the JVM's separately, then the ratios between sizes.
With --baseline PATH (a checkout of an earlier version) the embedded engine's run at each size
is also timed on that code, side by side.

    python benchmarks/population.py --clients 100000 1000000 10000000 --engines local spark
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import dataset, run_pipeline, window_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--engines", nargs="+", default=["local", "spark"], choices=["local", "spark"])
    parser.add_argument("--baseline", type=Path, help="an earlier checkout to time the embedded engine against")
    parser.add_argument(
        "--whole-graph", action="store_true", help="build the recommendation group too (default: the model only)"
    )
    args = parser.parse_args()
    results: dict[tuple[str, int], object] = {}
    for clients in sorted(args.clients):
        folder = dataset(clients)
        rows = window_rows(folder / "clients_daily")
        for engine in args.engines:
            run = run_pipeline(folder, engine=engine, whole_graph=args.whole_graph)
            results[(engine, clients)] = run
            print(
                f"engine={engine} clients={clients:,} rows_in_window={rows:,} wall={run.seconds:.1f}s "
                f"run_process_peak={run.peak_mib:,.0f}MiB jvm_peak={run.jvm_peak_mib:,.0f}MiB",
                flush=True,
            )
        if args.baseline:
            before = run_pipeline(folder, code=args.baseline.resolve())
            now = results[("local", clients)]
            print(
                f"baseline clients={clients:,} wall={before.seconds:.1f}s peak={before.peak_mib:,.0f}MiB; "
                f"now/baseline time x{now.seconds / before.seconds:.2f} peak x{now.peak_mib / before.peak_mib:.2f}",
                flush=True,
            )
    sizes = sorted(args.clients)
    for engine in args.engines:
        smallest = results[(engine, sizes[0])]
        for bigger, previous in zip(sizes[1:], sizes):
            run, before = results[(engine, bigger)], results[(engine, previous)]
            print(
                f"{engine}: {bigger:,} vs {previous:,} clients: time x{run.seconds / before.seconds:.2f}; "
                f"run process peak vs {sizes[0]:,}: x{run.peak_mib / smallest.peak_mib:.2f}"
            )


if __name__ == "__main__":
    main()
