"""What `taar-assets run` prints while a job runs: one line per stage, from the run's own events.

The console logger is set to WARNING by run config (the Dagster log of every step stays in the
instance and the UI); each stage that succeeds prints the rows it read (its largest upstream
table built by this command) and wrote, and its seconds; a failing check prints at once, and
each run ends with a count of its checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import dagster as dg

QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class StageProgress:
    """An event listener (`instance.add_event_listener`) that prints a line per finished stage."""

    def __init__(self, parents: Mapping[str, set[str]]):
        self.parents = parents  # asset -> the assets it reads
        self.rows: dict[str, int] = {}
        self.metadata: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, bool] = {}  # "asset:check" -> passed

    def __call__(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            asset = materialization.asset_key.to_user_string()
            values = {key: value.value for key, value in materialization.metadata.items()}
            self.metadata[asset] = values
            if isinstance(values.get("dagster/row_count"), int):
                self.rows[asset] = values["dagster/row_count"]
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            name = f"{check.asset_key.to_user_string()}:{check.check_name}"
            self.checks[name] = check.passed
            if not check.passed:
                values = {key: value.value for key, value in check.metadata.items()}
                print(f"  check {name} FAILED: {values}", flush=True)
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS and event.step_key in self.parents:
            self._print_stage(event.step_key, event.event_specific_data.duration_ms / 1000)
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            print(f"  {event.step_key:<26} FAILED: {event.event_specific_data.error.message.strip()}", flush=True)

    def checks_line(self) -> str:
        passed = sorted(name for name, ok in self.checks.items() if ok)
        failed = sorted(name for name, ok in self.checks.items() if not ok)
        return f"  checks: {len(passed)} passed" + (f", {len(failed)} failed: {', '.join(failed)}" if failed else "")

    def _print_stage(self, asset: str, seconds: float) -> None:
        upstream = [self.rows[parent] for parent in self.parents.get(asset, ()) if parent in self.rows]
        files = self.metadata.get(asset, {}).get("files_read")
        rows_in = f"{max(upstream):>9,} rows" if upstream else (f"{files:>9,} files" if files else "")
        rows_out = f"{self.rows[asset]:>9,} rows" if asset in self.rows else ""
        mode = self.metadata.get(asset, {}).get("mode")  # how samples were built: incremental or bootstrap
        print(f"  {asset:<26}{rows_in:>15} ->{rows_out:>15}  {seconds:6.1f} s" + (f"  {mode}" if mode else ""), flush=True)


def stage_progress(defs: dg.Definitions) -> StageProgress:
    graph = defs.resolve_asset_graph()
    return StageProgress(
        {
            # Its own previous day (the samples state) is not what a stage reads in.
            key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys if p != key}
            for key in graph.get_all_asset_keys()
        }
    )


def execute_with_progress(
    defs: dg.Definitions,
    job_name: str,
    day: str,
    instance: dg.DagsterInstance,
    progress: StageProgress,
    run_config: Mapping[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run `job_name` for `day`, printing through `progress` (shared by the runs of one command, so
    a stage's rows in can come from the run before)."""
    progress.checks.clear()
    run_id = str(uuid.uuid4())  # known before the run starts, so the listener is in place
    instance.add_event_listener(run_id, progress)
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=instance, partition_key=day, run_id=run_id, run_config={**(run_config or {}), **QUIET_CONSOLE},
        raise_on_error=False,
    )
    print(progress.checks_line(), flush=True)
    return result
