"""The commands a user types: `taar-assets run` and `dg launch` over a range, as real processes."""

import json
import re
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


@pytest.mark.timeout(600)
def test_run_builds_the_latest_day_then_its_recommendation_group_and_says_what_it_wrote(settings, demo_dataset, tmp_path):
    env = environment(settings, tmp_path / "home")
    done = subprocess.run([BIN / "taar-assets", "run"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "building the similarity model for 2026-11-20" in done.stdout
    manifest = json.loads((Path(settings.publish) / "manifest.json").read_text())
    assert manifest["date"] == "2026-11-20"
    # Every file it published, from the publish step's metadata, and nothing it did not.
    for name in ["donors", "lr_curves", "manifest"]:
        assert f"  {settings.publish}/{name}.json\n" in done.stdout
        assert f"  {settings.publish}/{name}20261120.json\n" in done.stdout
    assert done.stdout.count(f"{settings.publish}/") == 6
    # One concise line per stage, not Dagster's debug log.
    assert "DEBUG" not in done.stdout + done.stderr
    assert re.search(r"samples +\d+ files -> +[\d,]+ rows +[\d.]+ s", done.stdout), done.stdout
    stored = [f"{settings.storage}/{asset}/2026-11-20.json" for asset in ("candidate_sources", "install_model")]
    assert all(f"  {path}\n" in done.stdout and Path(path).is_file() for path in stored), done.stdout
    # The runs are recorded in DAGSTER_HOME, so the UI shows them.
    assert any((tmp_path / "home").rglob("*.db"))

    # The README's recommend example, on the files the run wrote.
    recommended = subprocess.run(
        [BIN / "taar-assets", "recommend", "--model", settings.publish, "--profiles", str(demo_dataset.profiles),
         "--sources", stored[0], "--install-model", stored[1]],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert recommended.returncode == 0, recommended.stderr[-2000:]
    lines = [json.loads(line) for line in recommended.stdout.splitlines()]
    assert len(lines) == 50 and sum(bool(line["recommendations"]) for line in lines) > 40

    # A re-run of the same day leaves the recommendation group as it is: the model did not change.
    again = subprocess.run([BIN / "taar-assets", "run"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "recommendation group for 2026-11-20: up to date" in again.stdout


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
