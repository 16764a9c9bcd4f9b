"""`taar-assets`: generate demo data and build the model for the latest day from the shell."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from taar_assets.resources import DEMO_ROOT, Settings


def ensure_demo_data(settings: Settings, clients: int) -> None:
    """Generate the embedded demo dataset when the configuration points at it and it is absent."""
    from taar_assets.demo.generator import PROFILES_FILE, DemoSpec, write_demo_dataset

    demo = Settings.from_env({})
    uses_demo = settings.clients_daily == demo.clients_daily and settings.whitelist == demo.whitelist
    wanted = (Path(settings.clients_daily), Path(settings.whitelist), Path(DEMO_ROOT) / PROFILES_FILE)
    if uses_demo and not all(path.exists() for path in wanted):
        print(f"generating demo data for {clients} clients in {DEMO_ROOT} ...", flush=True)
        write_demo_dataset(DEMO_ROOT, DemoSpec(clients=clients))


def run_latest(args: argparse.Namespace) -> int:
    import warnings

    import dagster as dg

    # Dagster's notes about its own beta and preview APIs say nothing about this run.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from taar_assets.cli.progress import execute_with_progress, stage_progress
    from taar_assets.definitions import defs
    from taar_assets.similarity.input_contract import latest_day

    settings = Settings.from_env()
    ensure_demo_data(settings, args.demo_clients)
    if args.partition:
        day = dt.date.fromisoformat(args.partition)
    else:
        day = latest_day(settings.clients_daily, settings.storage_options_for(settings.clients_daily))
    # With DAGSTER_HOME set the runs are recorded there and show in the UI afterwards.
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    progress = stage_progress(defs)
    with instance:
        print(f"building the similarity model for {day} from {settings.clients_daily}", flush=True)
        manifest_before = _archived_manifest(settings, day)
        run_config = json.loads(args.config_json) if args.config_json else None
        result = execute_with_progress(defs, "similarity_job", f"{day}", instance, progress, run_config)
        if was_interrupted(result):
            print(f"run {result.run_id} was stopped (Ctrl-C or SIGTERM); nothing is retried", file=sys.stderr)
            return 130
        if not result.success:
            return _failed(result)
        published = progress.metadata.get("similarity_model", {})
        print(f"published for {day}:")
        for url in [*published.get("latest", []), *published.get("archive", [])]:
            print(f"  {url}")
        if not published.get("latest"):
            print("  (the latest files hold a later day: only the dated copies were written)")
        if args.skip_recommendation:
            return 0
        built = instance.get_materialized_partitions(dg.AssetKey("recommendation_evaluation"))
        if f"{day}" in built and manifest_before is not None and manifest_before == _archived_manifest(settings, day):
            # Same input, same model: the recommendation group would write the same files again.
            print(f"recommendation group for {day}: up to date (the model did not change); to rebuild it:")
            print(f"  .venv/bin/dg launch --assets 'group:recommendation' --partition {day}")
            return 0
        print(f"building the recommendation group for {day}", flush=True)
        result = execute_with_progress(defs, "recommendation_job", f"{day}", instance, progress)
        if was_interrupted(result):
            print(f"run {result.run_id} was stopped (Ctrl-C or SIGTERM); nothing is retried", file=sys.stderr)
            return 130
        if not result.success:
            return _failed(result)
        print(f"stored for {day}:")
        for asset in ("candidate_sources", "install_model"):
            print(f"  {progress.metadata.get(asset, {}).get('path')}")
    return 0


def _archived_manifest(settings: Settings, day: dt.date) -> bytes | None:
    """The published manifest of `day` (its dated copy), None when there is none yet."""
    import fsspec

    try:
        with fsspec.open(f"{settings.publish.rstrip('/')}/manifest{day:%Y%m%d}.json", "rb", **settings.storage_options_for(settings.publish)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _failed(result) -> int:
    print(f"run {result.run_id} failed; the step's error is above, its whole log in the Dagster UI", file=sys.stderr)
    return 1


def was_interrupted(result) -> bool:
    """Whether a step of the run was stopped by Ctrl-C / SIGTERM (Dagster maps SIGTERM to SIGINT)."""
    return any(
        event.is_step_failure
        and event.step_failure_data.error is not None
        and event.step_failure_data.error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt")
        for event in result.all_events
    )


def main_run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="taar-assets run", description="build and publish the model for the latest day of the input, then its recommendation group"
    )
    parser.add_argument("--partition", help="day to build (YYYY-MM-DD); default: the input's latest day")
    parser.add_argument(
        "--demo-clients", type=int, default=20_000, help="clients in generated demo data (default: %(default)s)"
    )
    parser.add_argument(
        "--skip-recommendation", action="store_true", help="build only the model, not the recommendation group"
    )
    parser.add_argument(
        "--config-json", help="run config of the similarity job as JSON, as `dg launch` takes it, e.g. "
        '\'{"ops": {"clusters": {"config": {"num_clusters": 10}}}}\''
    )
    return run_latest(parser.parse_args(argv))


def _demo_data(argv: list[str]) -> int:
    from taar_assets.cli.demo_data import main

    return main(argv)


def _recommend(argv: list[str]) -> int:
    from taar_assets.cli.recommend import main_recommend

    return main_recommend(argv)


COMMANDS = {
    "run": (main_run, "build and publish the model for the latest day of the input, then the recommendation group"),
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
