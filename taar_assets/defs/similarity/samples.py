"""Stage 1: each client's latest qualifying row in the window ending on the partition day, kept
as a per-client state that each day advances by one day of input.

S(D), the latest qualifying row per client over D-(w-1) .. D, is S(D-1) without the rows dated
D-w, overridden by day D's qualifying rows (a later day wins): exact, because whether a row
qualifies is decided row by row. So a day reads one day of clients_daily plus yesterday's
state. When yesterday's state is missing or was built with other parameters, the day is built
from the whole window (a bootstrap) and the metadata says why.
"""

import datetime as dt
import time
from typing import Any

import dagster as dg
from pydantic import Field

from taar_assets.engines import Engine
from taar_assets.io_managers import ArrowTable, OptionalStoredTableInput
from taar_assets.partitions import WINDOW_DAYS, daily_partitions, for_each_day, on_day, single_run
from taar_assets.resources import ClientsDailyResource
from taar_assets.similarity.input_contract import InputContractError, Window
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import StoredTable, with_provenance


class SamplesConfig(dg.Config):
    window_days: int = Field(WINDOW_DAYS, ge=1, description="Days of clients_daily read, ending on the partition day.")
    min_addons_exclusive: int = Field(2, ge=0, description="Keep rows with more active add-ons than this.")
    max_addons_exclusive: int = Field(100, ge=1, description="Keep rows with fewer active add-ons than this.")
    require_partition_day: bool = Field(
        True, description="Fail when the partition day itself has no clients_daily data."
    )
    incremental: bool = Field(
        True, description="Advance the previous day's state by one day of input when it can; false: read the window."
    )

    def state_key(self, day: str) -> dict[str, Any]:
        """What a state must have been built with for the next day to advance it."""
        return {
            "day": day,
            "window_days": self.window_days,
            "min_addons_exclusive": self.min_addons_exclusive,
            "max_addons_exclusive": self.max_addons_exclusive,
        }


def _why_not_incremental(config: SamplesConfig, previous: StoredTable | None, day: dt.date) -> tuple[str, dict]:
    """(reason to read the whole window or "", the previous state's record)."""
    if not config.incremental:
        return "incremental is off", {}
    if previous is None:
        return f"no stored samples for {day - dt.timedelta(days=1)}", {}
    record = previous.provenance()
    expected = config.state_key(f"{day - dt.timedelta(days=1)}")
    if record.get("state") != expected:
        return f"the stored samples of {expected['day']} were built with {record.get('state')}, not {expected}", {}
    return "", record


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        "previous": dg.AssetIn(
            key="samples",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
            ),
            dagster_type=OptionalStoredTableInput,
        )
    },
    deps=[
        dg.AssetDep(
            "clients_daily",
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=1 - WINDOW_DAYS, end_offset=0),
        )
    ],
    dagster_type=ArrowTable,
    backfill_policy=single_run,
    kinds={"parquet"},
)
def samples(
    context: dg.AssetExecutionContext,
    config: SamplesConfig,
    clients_daily: ClientsDailyResource,
    engine: Engine,
    previous,
):
    """Latest release-Firefox row per client over the window, with 2 < add-ons < 100, and its day."""
    rule = SampleRule(config.min_addons_exclusive, config.max_addons_exclusive)

    def compute(day: str):
        started = time.perf_counter()
        window = Window(end=dt.date.fromisoformat(day), days=config.window_days)
        yesterday = f"{window.end - dt.timedelta(days=1)}"
        reason, record = _why_not_incremental(config, on_day(previous, yesterday, missing=None), window.end)
        if reason:
            files = clients_daily.window_files(window, require_end_day=config.require_partition_day)
            result = engine.samples(files, rule)
            absorbed = files.fingerprints
        else:
            files = clients_daily.window_files(window, config.require_partition_day, read_days=[window.end])
            result = engine.advance_samples(on_day(previous, yesterday), files, rule, window.start)
            absorbed = {d: fp for d, fp in record["absorbed"].items() if d >= f"{window.start}"} | files.fingerprints
        if reason and not result.stats["funnel"]["qualifying"]:
            raise InputContractError(no_client_qualifies(window, rule, result.stats["funnel"]))
        missing_days = [d for d in window.dates() if f"{d}" not in absorbed]
        _warn_about_input(context, day, missing_days, result.stats["implausible_values"])
        mode = f"bootstrap ({reason})" if reason else "incremental"
        seconds = time.perf_counter() - started
        context.log.info(f"{day}: samples {mode}: read {len(files.files)} file(s) in {seconds:.1f}s")
        provenance = {
            "input_window": {"start": f"{window.start}", "end": f"{window.end}", "days": window.days},
            "state": config.state_key(day),
            "absorbed": dict(sorted(absorbed.items())),
        }
        return with_provenance(result.value, provenance), {
            "mode": "incremental" if not reason else "bootstrap",
            "bootstrap_reason": reason or "-",
            "files_read": len(files.files),
            "days_read": len(files.days),
            "window": f"{window.start} .. {window.end}",
            "missing_days": len(missing_days),
            "row_rule": dg.MetadataValue.json(result.stats["funnel"]),
            "implausible_values": dg.MetadataValue.json(result.stats["implausible_values"]),
            "seconds": round(seconds, 2),
        }

    return for_each_day(context, compute)


def no_client_qualifies(window: Window, rule: SampleRule, funnel: dict[str, int]) -> str:
    return (
        f"no client qualifies in the clients_daily window {window.start} .. {window.end}: of {funnel['rows']} rows, "
        f"{funnel['with_client_id']} have a client_id, {funnel['release']} of those are on the release channel, "
        f"{funnel['firefox']} of those are Firefox, and {funnel['qualifying']} of those have "
        f"{rule.min_addons_exclusive + 1} to {rule.max_addons_exclusive - 1} active add-ons"
    )


def _warn_about_input(context, day: str, missing_days: list, implausible: list[dict]) -> None:
    if missing_days:
        context.log.warning(f"{day}: {len(missing_days)} day(s) of the window have no clients_daily data")
    for report in implausible:
        counts = ", ".join(f"{column} {count}" for column, count in report.items() if column != "file")
        context.log.warning(f"{day}: {report['file']}: values read as missing (NaN, infinite, negative or "
                            f"implausibly large): {counts}")
