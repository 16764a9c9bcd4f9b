"""Running one engine stage in a test: the engine computes, the parquet IO manager stores the
result in a folder, and the test reads it back as Arrow (as the next stage would)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from upath import UPath

from taar_assets.engines import Engine
from taar_assets.engines.local import LocalEngine
from taar_assets.io_managers import ParquetIOManager
from taar_assets.similarity.input_contract import WindowFiles
from taar_assets.similarity.rules import SampleRule
from taar_assets.storage import StoredTable


def store(value, folder: Path, name: str) -> StoredTable:
    """Write an engine's table at `folder/name.parquet` the way the IO manager does."""
    path = UPath(folder) / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    ParquetIOManager(base_path=UPath(folder))._write(value, path)
    return StoredTable(path)


def samples(files: WindowFiles, folder: Path, engine: Engine | None = None, rule: SampleRule = SampleRule()) -> StoredTable:
    return store((engine or LocalEngine()).samples(files, rule).value, folder, "samples")


def valid_addons(
    stored_samples: StoredTable, whitelist, folder: Path, engine: Engine | None = None, min_valid_exclusive: int = 2
) -> StoredTable:
    result = (engine or LocalEngine()).valid_addons(stored_samples, frozenset(whitelist), min_valid_exclusive)
    return store(result.value, folder, "addons_per_client")


def table_of(stored: StoredTable) -> pa.Table:
    return stored.read()


def incremental_and_full(
    engine: Engine,
    root: Path,
    days: list,
    window_days: int,
    folder: Path,
    rule: SampleRule = SampleRule(),
    full_engine: Engine | None = None,
):
    """For each of `days` (consecutive): (samples advanced from the previous day's by `engine`,
    samples read from the whole window by `full_engine`, default the same), as stored tables;
    the first day is read from the whole window by `engine`."""
    import datetime as dt

    from taar_assets.similarity.input_contract import Window, find_window_files

    pairs, previous, previous_day = [], None, None
    for day in days:
        window = Window(day, window_days)
        files = find_window_files(str(root), window, require_end_day=False)
        full = store((full_engine or engine).samples(files, rule).value, folder / "full", f"{day}")
        if previous is None:
            advanced = store(engine.samples(files, rule).value, folder / "advanced", f"{day}")
        else:
            assert previous_day == day - dt.timedelta(days=1)
            files = find_window_files(str(root), window, require_end_day=False, read_days=[day])
            advanced = store(engine.advance_samples(previous, files, rule, window.start).value,
                             folder / "advanced", f"{day}")
        pairs.append((advanced, full))
        previous, previous_day = advanced, day
    return pairs
