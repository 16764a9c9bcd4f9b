"""The commands a user types: `taar-assets run` and `dg launch` over a range, as real processes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taar_assets_tests.support.ui_server import INSTANCE_FILE

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def environment(settings, dagster_home: Path) -> dict[str, str]:
    dagster_home.mkdir(exist_ok=True)
    shutil.copyfile(INSTANCE_FILE, dagster_home / "dagster.yaml")
    return {
        **os.environ,
        "TAAR_CLIENTS_DAILY": settings.clients_daily,
        "TAAR_WHITELIST": settings.whitelist,
        "TAAR_STORAGE": settings.storage,
        "TAAR_PUBLISH": settings.publish,
        "DAGSTER_HOME": str(dagster_home),
    }


def test_run_builds_the_latest_day_and_says_where_the_files_are(settings, tmp_path):
    done = subprocess.run(
        [BIN / "taar-assets", "run"], cwd=PROJECT, env=environment(settings, tmp_path / "home"),
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "building the similarity model for 2026-11-20" in done.stdout
    assert f"{settings.publish}/donors.json" in done.stdout
    manifest = json.loads((Path(settings.publish) / "manifest.json").read_text())
    assert manifest["date"] == "2026-11-20"
    # The run is recorded in DAGSTER_HOME, so the UI shows it.
    assert any((tmp_path / "home").rglob("*.db"))


@pytest.mark.timeout(600)
def test_dg_launch_backfills_a_range_in_one_run(settings, tmp_path):
    done = subprocess.run(
        [BIN / "dg", "launch", "--assets", "group:similarity", "--partition-range", "2026-11-18...2026-11-20"],
        cwd=PROJECT, env=environment(settings, tmp_path / "home"), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    published = {p.name for p in Path(settings.publish).iterdir()}
    assert {"donors20261118.json", "donors20261119.json", "donors20261120.json", "donors.json"} <= published
    for stage in ["samples", "clusters", "donor_pool", "lr_curves"]:
        assert sorted(p.name for p in (Path(settings.storage) / stage).iterdir()) == [
            "2026-11-18.parquet", "2026-11-19.parquet", "2026-11-20.parquet"
        ]
