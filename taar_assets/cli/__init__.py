"""`taar-assets`: generate demo data and build the model for the latest day from the shell."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from taar_assets.resources import DEMO_ROOT, Settings


def ensure_demo_data(settings: Settings, clients: int) -> None:
    """Generate the embedded demo dataset when the configuration points at it and it is absent."""
    from taar_assets.demo.generator import DemoSpec, write_demo_dataset

    demo = Settings.from_env({})
    uses_demo = settings.clients_daily == demo.clients_daily and settings.whitelist == demo.whitelist
    if uses_demo and not (Path(settings.clients_daily).is_dir() and Path(settings.whitelist).is_file()):
        print(f"generating demo data for {clients} clients in {DEMO_ROOT} ...", flush=True)
        write_demo_dataset(DEMO_ROOT, DemoSpec(clients=clients))


def run_latest(args: argparse.Namespace) -> int:
    import dagster as dg

    from taar_assets.definitions import defs
    from taar_assets.similarity.input_contract import latest_day

    settings = Settings.from_env()
    ensure_demo_data(settings, args.demo_clients)
    if args.partition:
        day = dt.date.fromisoformat(args.partition)
    else:
        day = latest_day(settings.clients_daily, settings.storage_options_for(settings.clients_daily))
    print(f"building the similarity model for {day} from {settings.clients_daily}", flush=True)
    # With DAGSTER_HOME set the run is recorded there and shows in the UI afterwards.
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("similarity_job")
    result = job.execute_in_process(instance=instance, partition_key=f"{day}", raise_on_error=False)
    if not result.success:
        print(f"run {result.run_id} failed; see the logs above or the Dagster UI", file=sys.stderr)
        return 1
    print(f"run {result.run_id} succeeded; published files:")
    publish_root = settings.publish.rstrip("/")
    for name in ("donors.json", "lr_curves.json", "manifest.json", f"donors{day:%Y%m%d}.json"):
        print(f"  {publish_root}/{name}")
    return 0


def main_run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="taar-assets run", description="build and publish the model for the latest day of the input"
    )
    parser.add_argument("--partition", help="day to build (YYYY-MM-DD); default: the input's latest day")
    parser.add_argument("--demo-clients", type=int, default=20_000, help="clients in generated demo data")
    return run_latest(parser.parse_args(argv))


def _demo_data(argv: list[str]) -> int:
    from taar_assets.cli.demo_data import main

    return main(argv)


def _recommend(argv: list[str]) -> int:
    from taar_assets.cli.recommend import main_recommend

    return main_recommend(argv)


COMMANDS = {
    "run": (main_run, "build and publish the model for the latest day of the input"),
    "demo-data": (_demo_data, "write a demo clients_daily dataset"),
    "recommend": (_recommend, "recommend add-ons for a JSON-lines file of client profiles"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: taar-assets {" + ",".join(COMMANDS) + "} [options]   (add --help after a command)")
        for name, (_, summary) in COMMANDS.items():
            print(f"  {name:<10} {summary}")
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    command, _ = COMMANDS[argv[0]]
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
