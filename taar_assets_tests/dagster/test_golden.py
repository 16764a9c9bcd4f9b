"""Golden test: one partition of the demo data must publish exactly the recorded bytes.

What it guards: refactors that must not change the published model. It builds the partition
2026-11-20 of the session's `demo_dataset` (3,000 clients, 100 days ending 2026-11-20, seed 7)
with `similarity_job` twice, once in the "service" layout with bz2 copies and once in the
"original" layout, and compares the SHA-256 of the published latest files with the values in
`EXPECTED_SHA256`. Any change to sampling, the add-on rule, the clustering, the donor draw,
the privacy step, the curves, the JSON encoding or the manifest changes a hash.

When a change of the published bytes is intended, update the hashes consciously:

    .venv/bin/python -m taar_assets_tests.dagster.test_golden

builds the same two partitions in a temporary folder (`published_hashes`, the same demo spec
and settings as the fixtures in conftest.py) and prints the `EXPECTED_SHA256` lines to paste
here. Say in the commit message why the model changed.
"""

from __future__ import annotations

import bz2
import dataclasses
import hashlib
import tempfile
from pathlib import Path

import pytest

from taar_assets.demo.generator import DemoSpec, DemoSummary, write_demo_dataset
from taar_assets.resources import Settings
from taar_assets_tests.conftest import DEMO_END, run_similarity

pytestmark = pytest.mark.slow

PARTITION = f"{DEMO_END:%Y-%m-%d}"
ARCHIVE_DAY = f"{DEMO_END:%Y%m%d}"
# The spec of conftest.py's `demo_dataset` fixture (used by the __main__ block only).
GOLDEN_DEMO = DemoSpec(clients=3000, days=100, end_date=DEMO_END, seed=7)

# (layout, published object) -> SHA-256 of its bytes. Changed on purpose: missing donor values
# are published as "" / 0 instead of null, seconds carry no float noise; the curves' kernel
# bandwidth is 0.1 (was 0.35).
EXPECTED_SHA256 = {
    ("service", "donors.json"): "1183dc1d3eed23a39d3618d740cbb595fd44991ed4ed2d6512fae6af8b74e035",
    ("service", "lr_curves.json"): "196239a73ab7e0b7daca0a0d71494c602402e2ceb5cd59d173d729883c1ab387",
    ("service", "manifest.json"): "82ad1cbd8c2fce7e05e016d7a9a752394121c6b91d56b10290892c6f6af69b9a",
    ("service", "donors.json.bz2"): "d802b9a155a5f878822d9efd83046019a6b6950807a441569f2240828eace4b4",
    ("original", "donors.json"): "e850453db89185262d26ddf5e5b02f8bd3fc9d63436317efecdce8e4781bdc0e",
    ("original", "lr_curves.json"): "196239a73ab7e0b7daca0a0d71494c602402e2ceb5cd59d173d729883c1ab387",
    ("original", "manifest.json"): "5ea9872c44dc59a42bb5aa9143faa02b221a4e9b8eb4ae3b17d746285991d112",
}
# What each run publishes: the layout's options and every object name it must write.
RUNS = {
    "service": {"publish_layout": "service", "publish_bz2": True},
    "original": {"publish_layout": "original", "publish_bz2": False},
}
MODEL_FILES = ("donors", "lr_curves", "manifest")
PUBLISHED_NAMES = {
    "service": {
        name
        for file in MODEL_FILES
        for name in (f"{file}.json", f"{file}{ARCHIVE_DAY}.json", f"{file}.json.bz2", f"{file}.json.{PARTITION}.bz2")
    },
    "original": {name for file in MODEL_FILES for name in (f"{file}.json", f"{file}{ARCHIVE_DAY}.json")},
}


def settings_for(base: Settings, layout: str, folder: Path) -> Settings:
    """`base` with the layout's publishing options and its own storage and publish folders."""
    return dataclasses.replace(
        base, storage=str(folder / "storage"), publish=str(folder / "published"), **RUNS[layout]
    )


def publish(settings: Settings) -> dict[str, bytes]:
    """Build and publish PARTITION; returns every published object by name."""
    result = run_similarity(settings, partition_key=PARTITION)
    assert result.success
    return {path.name: path.read_bytes() for path in Path(settings.publish).iterdir() if path.is_file()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def published_hashes(dataset: DemoSummary, folder: Path) -> dict[tuple[str, str], str]:
    """The SHA-256 of every object named in EXPECTED_SHA256, built from `dataset` under `folder`."""
    base = Settings(
        clients_daily=str(dataset.clients_daily),
        whitelist=str(dataset.whitelist),
        storage="",
        publish="",
        duckdb_memory_limit="1GB",
    )
    hashes = {}
    for layout in RUNS:
        objects = publish(settings_for(base, layout, folder / layout))
        hashes.update({key: sha256(objects[key[1]]) for key in EXPECTED_SHA256 if key[0] == layout})
    return hashes


@pytest.mark.parametrize("layout", list(RUNS))
def test_published_bytes_match_the_recorded_hashes(layout, settings, demo_dataset, tmp_path):
    assert demo_dataset.days[-1] == DEMO_END and len(demo_dataset.days) == GOLDEN_DEMO.days
    objects = publish(settings_for(settings, layout, tmp_path / layout))

    assert set(objects) == PUBLISHED_NAMES[layout]
    # The dated archive copies are the latest files' bytes; bz2 copies decompress to them.
    for file in MODEL_FILES:
        assert objects[f"{file}{ARCHIVE_DAY}.json"] == objects[f"{file}.json"]
        if RUNS[layout]["publish_bz2"]:
            assert bz2.decompress(objects[f"{file}.json.bz2"]) == objects[f"{file}.json"]
            assert objects[f"{file}.json.{PARTITION}.bz2"] == objects[f"{file}.json.bz2"]

    actual = {key: sha256(objects[key[1]]) for key in EXPECTED_SHA256 if key[0] == layout}
    expected = {key: value for key, value in EXPECTED_SHA256.items() if key[0] == layout}
    assert actual == expected, (
        "the published model changed; if intended, run `python -m taar_assets_tests.dagster.test_golden` "
        "and update EXPECTED_SHA256"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="taar_golden_") as temporary:
        folder = Path(temporary)
        dataset = write_demo_dataset(folder / "demo", GOLDEN_DEMO)
        for (layout, name), digest in published_hashes(dataset, folder).items():
            print(f'    ("{layout}", "{name}"): "{digest}",')
