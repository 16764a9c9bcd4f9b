"""End-to-end benchmark: one partition from raw clients_daily to published files.

For each size, generates a demo dataset (cached under data/bench/), then runs
`taar-assets run` in a fresh process and prints wall time, input rows per second and the
run's peak RSS. With several sizes it also prints the cost ratio against the smallest.
(`population.py` does the same per engine, up to 10M clients.)

    python benchmarks/end_to_end.py --clients 100000 1000000
"""

from __future__ import annotations

import argparse

from harness import dataset, run_pipeline, window_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    results = []
    for clients in sorted(args.clients):
        folder = dataset(clients)
        rows = window_rows(folder / "clients_daily")
        run = run_pipeline(folder)
        results.append((clients, rows, run.seconds))
        print(
            f"clients={clients:,} rows_in_window={rows:,} wall={run.seconds:.1f}s "
            f"rows_per_s={rows / run.seconds:,.0f} peak_rss={run.peak_mib / 1024:.2f}GiB",
            flush=True,
        )
    base_clients, base_rows, base_seconds = results[0]
    for clients, rows, seconds in results[1:]:
        print(f"{clients:,} vs {base_clients:,} clients: rows x{rows / base_rows:.1f}, time x{seconds / base_seconds:.1f}")


if __name__ == "__main__":
    main()
