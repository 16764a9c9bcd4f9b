"""A tiny model to publish, and what a reader of a published location finds there."""

from __future__ import annotations

import datetime as dt
import json

import fsspec
import pandas as pd

from taar_assets.leases import LEASES_FOLDER
from taar_assets.publishing import MARKER, ModelPublisher
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves
from taar_assets.similarity.model_files import model_documents, sha256

DAY = dt.date(2026, 11, 20)
PREVIOUS_DAY = DAY - dt.timedelta(days=1)
NEXT_DAY = DAY + dt.timedelta(days=1)
LATEST = ["donors.json", "lr_curves.json", "manifest.json"]


def model_files(day: dt.date, layout: str = "service") -> dict[str, bytes]:
    """The three documents as the asset builds them, from a tiny donor pool that depends on the day."""
    donors = pd.DataFrame(
        {
            "city": ["Paris", "Lyon", "??"],
            "subsession_hours_sum": [1.5, 2.0, float(day.day)],
            "locale": ["fr", "fr", "en-US"],
            "os": ["Linux", "Windows_NT", "Darwin"],
            "bookmark_count": [10.0, 20.0, 30.0],
            "tab_open_count": [5.0, 6.0, 7.0],
            "total_uri": [100.0, 200.0, 300.0],
            "unique_tlds": [3.0, 4.0, 5.0],
            "active_addons": [["a@x", "b@x", "c@x"]] * 3,
            "cluster": [0, 1, 1],
        }
    )
    curves = pd.DataFrame(
        {"x": [0.0, 0.5, 1.0], "numerator": [0.9, 0.5, 0.1], "denominator": [0.1, 0.5, float(day.day)]}
    )
    pool = DonorPool(
        donors, num_donors=100, k_anonymity=1, significant_digits=2, num_clusters=2, cluster_sizes={0: 1, 1: 2},
        input_window={"end": f"{day}", "days": 90},
    )
    lr = LrCurves(curves, kernel_bandwidth=0.35, num_pdf_points=3, mass_in_range={"numerator": 1.0, "denominator": 1.0})
    return model_documents(f"{day}", pool, lr, layout)


def published(publisher: ModelPublisher) -> dict[str, bytes]:
    """Every object at the publisher's location by name (its leases aside), read as stored now."""
    fs, base = fsspec.core.url_to_fs(publisher.location, **publisher.storage_options)
    fs.invalidate_cache()
    base = base.rstrip("/")
    return {
        path.removeprefix(f"{base}/"): fs.cat_file(path)
        for path in fs.find(base)
        if not path.removeprefix(f"{base}/").startswith(f"{LEASES_FOLDER}/")
    }


def latest_of(objects: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in objects.items() if name in LATEST or name.endswith(".json.bz2")}


def day_of(objects: dict[str, bytes], name: str) -> str | None:
    """The day of a latest object, by the dated archive object holding the same bytes."""
    if name not in objects:
        return None
    for key, data in objects.items():
        if key != name and data == objects[name] and key.startswith(name.removesuffix(".json")) and key[-13:-5].isdigit():
            stamp = key[-13:-5]
            return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"
    return "?"


def assert_consistent(objects: dict[str, bytes], day: dt.date) -> None:
    """The latest objects are one day's, the manifest's checksums are the siblings', no marker is left."""
    manifest = json.loads(objects["manifest.json"])
    assert manifest["date"] == f"{day}"
    for name in ("donors.json", "lr_curves.json"):
        assert manifest["files"][name]["sha256"] == sha256(objects[name])
    assert MARKER not in objects


def assert_readers_find_one_day_or_the_marker(objects: dict[str, bytes]) -> None:
    """The failure model: the latest objects match their manifest, or the marker is there, names
    the day they are moving to, and each latest object is that day's or the manifest's day's."""
    if "manifest.json" not in objects:
        return
    manifest = json.loads(objects["manifest.json"])
    matching = all(
        name not in objects or manifest["files"][name]["sha256"] == sha256(objects[name])
        for name in ("donors.json", "lr_curves.json")
    )
    if matching:
        return
    assert MARKER in objects, "the latest objects mix two days and no marker says so"
    moving_to = json.loads(objects[MARKER])["day"]
    for name in LATEST:
        assert day_of(objects, name) in (manifest["date"], moving_to), name

