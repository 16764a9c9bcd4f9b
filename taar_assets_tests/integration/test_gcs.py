"""Google Cloud Storage: gs:// locations against gcp-storage-emulator on 127.0.0.1 (see gcs_server.py).

The publisher's own contracts (order, atomic objects, restore, bz2) run on the emulator in
dagster/test_publishing.py; here: the configuration, a whole partition on gs://, the error
classification, and the CLI reading a gs:// model with nothing but STORAGE_EMULATOR_HOST set.
"""

import dataclasses
import json
import os
import subprocess
import sys

import fsspec
import gcsfs.retry
import pytest

from taar_assets.publishing import ModelPublisher, PublishError
from taar_assets.resources import Settings
from taar_assets.storage import is_transient
from taar_assets_tests.conftest import DEMO_END, run_similarity


def test_an_emulator_is_used_anonymously_and_real_gcs_with_googles_default_credentials(monkeypatch):
    monkeypatch.delenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT")
    assert Settings.from_env({}).storage_options_for("gs://bucket/prefix") == {"token": "google_default"}
    assert "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT" not in os.environ  # real GCS keeps gcsfs's defaults

    emulated = Settings.from_env({"STORAGE_EMULATOR_HOST": "http://127.0.0.1:9"})
    assert emulated.storage_options_for("gs://bucket/prefix") == emulated.storage_options_for("gcs://b") == {
        "token": "anon"
    }
    assert os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"
    assert "token" not in emulated.storage_options_for("s3://bucket")  # each location its own protocol's
    assert emulated.storage_options_for("data/storage") == {}
    assert emulated.storage_options_for("data/published") == {}


@pytest.fixture(scope="module")
def gcs_run(gcs, demo_dataset):
    """The demo dataset uploaded to a bucket and one partition built with every location on gs://."""
    bucket = gcs.create_bucket()
    settings = Settings.from_env({"STORAGE_EMULATOR_HOST": gcs.host})
    fs = fsspec.filesystem("gs", **settings.storage_options_for(f"gs://{bucket}"))
    fs.put(f"{demo_dataset.clients_daily}/", f"{bucket}/clients_daily/", recursive=True)
    fs.put_file(str(demo_dataset.whitelist), f"{bucket}/whitelist.json")
    settings = dataclasses.replace(
        settings,
        clients_daily=f"gs://{bucket}/clients_daily",
        whitelist=f"gs://{bucket}/whitelist.json",
        storage=f"gs://{bucket}/storage",
        publish=f"gs://{bucket}/published",
        publish_bz2=True,
    )
    return settings, fs, run_similarity(settings, partition_key=f"{DEMO_END}")


def test_a_partition_runs_with_every_location_on_gcs(gcs_run, settings):
    gcs_settings, fs, result = gcs_run
    assert result.success
    published = gcs_settings.publish.removeprefix("gs://")
    names = {path.rsplit("/", 1)[-1] for path in fs.find(published)}
    assert {"donors.json", "lr_curves.json", "manifest.json", "donors.json.bz2", "lr_curves.json.bz2"} <= names
    assert "donors.json.2026-11-20.bz2" in names
    storage = gcs_settings.storage.removeprefix("gs://")
    for stage in ("samples", "addons_per_client", "clusters", "donor_pool", "lr_curves"):
        assert fs.exists(f"{storage}/{stage}/{DEMO_END}.parquet"), stage

    # The same partition built in local folders publishes the same bytes.
    local = run_similarity(settings, partition_key=f"{DEMO_END}")
    assert local.success
    for name in ("donors.json", "lr_curves.json", "manifest.json"):
        with open(f"{settings.publish}/{name}", "rb") as handle:
            assert fs.cat_file(f"{published}/{name}") == handle.read(), name


def test_a_missing_bucket_is_a_permanent_error_naming_the_object(gcs):
    location = "gs://taar-no-such-bucket/similarity"
    options = Settings.from_env({"STORAGE_EMULATOR_HOST": gcs.host}).storage_options_for(location)
    publisher = ModelPublisher(location=location, storage_options=options)
    with pytest.raises(PublishError, match="could not take the lease gs://taar-no-such-bucket/similarity/_leases/publish") as raised:
        publisher.publish(DEMO_END, {"donors": b"[]", "lr_curves": b"[]", "manifest": b"{}"})
    assert not raised.value.transient and not raised.value.allow_retries


def gcs_error(status: int, message: str = "") -> BaseException:
    """The exception gcsfs raises for a GCS error response with this HTTP status."""
    body = json.dumps({"error": {"code": status, "message": message}}).encode()
    with pytest.raises(Exception) as raised:
        gcsfs.retry.validate_response(status, body, "b/o")
    return raised.value


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "Not Found"), (403, "Access denied"), (401, "Anonymous caller"), (400, "Invalid bucket name"), (409, "Conflict")],
)
def test_gcs_errors_a_retry_cannot_fix_are_permanent(status, message):
    assert not is_transient(gcs_error(status, message))


@pytest.mark.parametrize(("status", "message"), [(429, "Too Many Requests"), (500, "Backend Error"), (503, "Unavailable")])
def test_gcs_throttling_and_server_errors_are_transient(status, message):
    assert is_transient(gcs_error(status, message))


def test_the_cli_reads_a_gs_model_with_only_the_emulator_variable_set(gcs_run, tmp_path):
    gcs_settings, _, _ = gcs_run
    profiles = tmp_path / "clients.jsonl"
    profile = {"geo_city": "??", "locale": "en-US", "os": "Windows_NT", "subsession_length": 3600, "bookmark_count": 10,
               "tab_open_count": 20, "total_uri": 100, "unique_tlds": 5, "client_id": "c1"}
    profiles.write_text(json.dumps(profile) + "\n")
    # A fresh process whose environment names the emulator and nothing else about GCS.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GCSFS_", "GOOGLE_", "STORAGE_"))}
    environment["STORAGE_EMULATOR_HOST"] = os.environ["STORAGE_EMULATOR_HOST"]
    done = subprocess.run(
        [sys.executable, "-m", "taar_assets.cli", "recommend", "--model", gcs_settings.publish,
         "--profiles", str(profiles), "--limit", "5"],
        capture_output=True, text=True, env=environment, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[0])
    assert answer["client_id"] == "c1" and len(answer["recommendations"]) == 5

