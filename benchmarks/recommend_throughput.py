"""Serving benchmark of the similarity recommender (taar_assets.similarity.recommender).

Times ``SimilarityModel.recommend`` one client at a time (median and p90 microseconds per
client against every donor) and ``recommend_batch`` (clients per second) on a published
model: the one at ``--model``, or one the pipeline builds from generated demo data in a
temporary folder. Profiles are synthetic: each field is drawn from a random donor, and the
installed add-ons are a random donor's.

    python benchmarks/recommend_throughput.py                       # build a demo model first
    python benchmarks/recommend_throughput.py --model data/published --batch 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from taar_assets.similarity.features import PROFILE_FIELDS
from taar_assets.similarity.model_input import CATEGORICAL_COUNT
from taar_assets.similarity.recommender import SimilarityModel

DEMO_END = dt.date(2026, 11, 20)


def build_demo_model(folder: Path, clients: int) -> str:
    """Generate a demo clients_daily, run the similarity job for its last day, return the published folder."""
    import dagster as dg

    from taar_assets.definitions import build_definitions
    from taar_assets.demo.generator import DemoSpec, write_demo_dataset
    from taar_assets.resources import Settings, build_resources

    demo = write_demo_dataset(folder / "demo", DemoSpec(clients=clients, days=100, end_date=DEMO_END, seed=1))
    settings = Settings(
        clients_daily=str(demo.clients_daily),
        whitelist=str(demo.whitelist),
        storage=str(folder / "storage"),
        publish=str(folder / "published"),
        duckdb_memory_limit="1GB",
    )
    job = build_definitions(build_resources(settings)).resolve_job_def("similarity_job")
    job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), partition_key=f"{DEMO_END}")
    return settings.publish


def synthetic_profiles(model: SimilarityModel, count: int, seed: int) -> list[dict]:
    """Profiles whose every field comes from a random donor, so they match donors partially."""
    rng = np.random.default_rng(seed)
    donors = model.donor_count
    picks = rng.integers(0, donors, size=(count, len(PROFILE_FIELDS) + 1))
    profiles = []
    for row in picks:
        fields = {
            name: (
                str(model.donor_categorical[donor, position])
                if position < CATEGORICAL_COUNT
                else float(model.donor_continuous[donor, position - CATEGORICAL_COUNT])
            )
            for position, (name, donor) in enumerate(zip(PROFILE_FIELDS, row))
        }
        profiles.append({**fields, "installed_addons": list(model.donor_addons[row[-1]])})
    return profiles


def time_single(model: SimilarityModel, profiles: list[dict]) -> list[float]:
    """Microseconds of each recommend call."""
    for profile in profiles[:50]:  # warm-up: caches, lazy imports
        model.recommend(profile)
    timings = []
    for profile in profiles:
        started = time.perf_counter_ns()
        model.recommend(profile)
        timings.append((time.perf_counter_ns() - started) / 1_000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="published model location; default: build one from demo data")
    parser.add_argument("--demo-clients", type=int, default=5_000, help="clients of the generated demo data")
    parser.add_argument("--single", type=int, default=1_000, help="profiles timed one at a time")
    parser.add_argument("--batch", type=int, default=10_000, help="profiles of the batch run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        if args.model:
            location = args.model
        else:
            print(f"building a demo model from {args.demo_clients:,} clients ...", flush=True)
            location = build_demo_model(Path(work), args.demo_clients)
        started = time.perf_counter()
        model = SimilarityModel.load(location)
        load_seconds = time.perf_counter() - started

    print(
        f"model: {model.donor_count:,} donors, {len(model.grid):,} grid points, layout {model.layout}; "
        f"loaded in {load_seconds * 1000:.0f} ms"
    )
    single = time_single(model, synthetic_profiles(model, args.single, args.seed))
    median = statistics.median(single)
    p90 = statistics.quantiles(single, n=10)[-1]
    print(
        f"recommend, one client:  median {median:,.0f} µs, p90 {p90:,.0f} µs "
        f"({1e6 / median:,.0f} clients/s) over {len(single):,} clients"
    )

    profiles = synthetic_profiles(model, args.batch, args.seed + 1)
    started, cpu_started = time.perf_counter(), time.process_time()
    model.recommend_batch(profiles)
    # CPU time too: on a shared machine it is the steadier figure.
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"recommend_batch:        {len(profiles) / seconds:,.0f} clients/s wall, "
        f"{len(profiles) / cpu_seconds:,.0f} clients/s CPU ({seconds:.2f} s for {len(profiles):,} clients)"
    )


if __name__ == "__main__":
    main()
