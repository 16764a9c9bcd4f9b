"""The publisher, in a folder, on S3 (moto's server) and on GCS (an emulator): layouts, bz2, manifest, order and failures."""

import bz2
import datetime as dt
import errno
import json
import re

import botocore.exceptions
import dagster as dg
import fsspec
import pandas as pd
import pytest
from s3fs.errors import translate_boto_error

from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.lr_curves import LrCurves
from taar_assets.similarity.model_files import model_documents
from taar_assets.similarity.model_files import sha256
from taar_assets.resources import Settings
from taar_assets.publishing import (
    ModelPublisher,
    PublishError,
    is_permanent,
    object_names,
)

DAY = dt.date(2026, 11, 20)
PREVIOUS_DAY = dt.date(2026, 11, 19)
LATEST = ["donors.json", "lr_curves.json", "manifest.json"]


@pytest.fixture(params=["local", "s3", "gcs"])
def location(request, tmp_path) -> tuple[str, dict]:
    """(location, storage_options): a folder, or a prefix in a fresh bucket on the local S3 server
    or the GCS emulator (with the options Settings gives gs:// when STORAGE_EMULATOR_HOST is set)."""
    if request.param == "local":
        return str(tmp_path / "published"), {}
    if request.param == "gcs":
        url = f"gs://{request.getfixturevalue('gcs_bucket')}/taar/similarity"
        return url, Settings.from_env().storage_options_for(url)
    s3 = request.getfixturevalue("s3")
    return f"s3://{s3.create_bucket()}/taar/similarity", s3.storage_options


def make_publisher(location, **options) -> ModelPublisher:
    url, storage_options = location
    return ModelPublisher(location=url, storage_options=storage_options, **options)


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
    fs, base = fsspec.core.url_to_fs(publisher.location, **publisher.storage_options)
    return {path.rsplit("/", 1)[-1]: fs.cat_file(path) for path in fs.find(base)}


def latest_of(objects: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in objects.items() if name in LATEST or name.endswith(".json.bz2")}


def assert_consistent(objects: dict[str, bytes], day: dt.date) -> None:
    """The latest objects are one day's, and the manifest's checksums are the siblings'."""
    manifest = json.loads(objects["manifest.json"])
    assert manifest["date"] == f"{day}"
    for name in ("donors.json", "lr_curves.json"):
        assert manifest["files"][name]["sha256"] == sha256(objects[name])


@pytest.mark.parametrize("layout", ["service", "original"])
@pytest.mark.parametrize("with_bz2", [False, True])
def test_publishing_writes_archive_and_latest_copies(location, layout, with_bz2):
    publisher = make_publisher(location, layout=layout, bz2=with_bz2)
    files = model_files(DAY, layout)
    urls = publisher.publish(DAY, files)

    objects = published(publisher)
    expected = {name for model in files for names in object_names(model, DAY, with_bz2) for name in names}
    assert set(objects) == expected
    assert set(urls["archive"]) | set(urls["latest"]) == {publisher.url(name) for name in expected}
    for model, data in files.items():
        assert objects[f"{model}.json"] == objects[f"{model}20261120.json"] == data
        if with_bz2:
            latest, archive = objects[f"{model}.json.bz2"], objects[f"{model}.json.2026-11-20.bz2"]
            assert bz2.decompress(latest) == bz2.decompress(archive) == data

    assert_consistent(objects, DAY)
    manifest = json.loads(objects["manifest.json"])
    assert manifest["layout"] == layout
    assert manifest["counts"] == {"donors": 3, "clusters": 2, "lr_curve_points": 3}
    donor = json.loads(objects["donors.json"])[0]
    assert ("geo_city" in donor) == (layout == "service") and ("city" in donor) == (layout == "original")


def test_publishing_a_day_again_is_idempotent(location):
    publisher = make_publisher(location, bz2=True)
    publisher.publish(DAY, model_files(DAY))
    first = published(publisher)
    publisher.publish(DAY, model_files(DAY))
    assert published(publisher) == first


def test_the_next_day_replaces_latest_and_keeps_the_archive(location):
    publisher = make_publisher(location)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    publisher.publish(DAY, model_files(DAY))
    objects = published(publisher)
    assert_consistent(objects, DAY)
    assert objects["donors20261119.json"] == model_files(PREVIOUS_DAY)["donors"]


def fail_on_write(monkeypatch, failing_calls, error: BaseException | None = None, landed: bool = False):
    """Make the publisher's object writes fail on the given call numbers (1-based); with `landed`,
    after the object was written (a PUT whose response was lost)."""
    original_write = ModelPublisher._write
    calls = []

    def write(self, fs, base, name, data):
        calls.append(name)
        if len(calls) not in failing_calls:
            return original_write(self, fs, base, name, data)
        if landed:
            original_write(self, fs, base, name, data)
        raise error or PublishError(f"could not write {self.url(name)}: injected", permanent=False)

    monkeypatch.setattr(ModelPublisher, "_write", write)


ARCHIVE_WRITES = LATEST_WRITES = 6  # 3 files, each as .json and .bz2
# The first and the last archive write, then every latest write, failing before the object
# landed or after it (a PUT whose response was lost).
FAILURES = [pytest.param(call, False, id=f"archive-{call}") for call in (1, ARCHIVE_WRITES)] + [
    pytest.param(call, landed, id=f"latest-{call - ARCHIVE_WRITES}-{'landed' if landed else 'lost'}")
    for call in range(ARCHIVE_WRITES + 1, ARCHIVE_WRITES + LATEST_WRITES + 1)
    for landed in (False, True)
]


@pytest.mark.parametrize(("failing_call", "landed"), FAILURES)
def test_a_failure_anywhere_leaves_the_previous_days_latest_objects(location, monkeypatch, failing_call, landed):
    publisher = make_publisher(location, bz2=True)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    before = published(publisher)

    fail_on_write(monkeypatch, {failing_call}, landed=landed)
    with pytest.raises(PublishError, match="injected"):
        publisher.publish(DAY, model_files(DAY))

    after = published(publisher)
    assert latest_of(after) == latest_of(before)
    assert_consistent(after, PREVIOUS_DAY)
    # What else exists is the new day's archive (written first), and it is whole.
    for name in set(after) - set(before):
        assert "20261120" in name or "2026-11-20" in name
    if failing_call > ARCHIVE_WRITES:
        assert after["donors20261120.json"] == model_files(DAY)["donors"]


def test_a_terminated_run_restores_the_latest_objects_too(location, monkeypatch):
    publisher = make_publisher(location)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    before = published(publisher)

    # Dagster interrupts a terminated run's step with a BaseException, here after donors.json.
    fail_on_write(monkeypatch, {5}, dg.DagsterExecutionInterruptedError())
    with pytest.raises(dg.DagsterExecutionInterruptedError):
        publisher.publish(DAY, model_files(DAY))
    assert latest_of(published(publisher)) == latest_of(before)


@pytest.mark.parametrize("landed", [False, True], ids=["lost", "landed"])
def test_a_failed_first_publish_leaves_no_latest_object(location, monkeypatch, landed):
    publisher = make_publisher(location)
    fail_on_write(monkeypatch, {6}, landed=landed)  # the manifest, after donors.json and lr_curves.json
    with pytest.raises(PublishError, match="injected"):
        publisher.publish(DAY, model_files(DAY))
    assert latest_of(published(publisher)) == {}


def test_a_failed_restore_is_reported_and_left_to_the_retry(location, monkeypatch):
    publisher = make_publisher(location)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    fail_on_write(monkeypatch, {5, 6})  # lr_curves.json, then donors.json's restore
    with pytest.raises(PublishError, match="may now mix two days, restoring them failed: could not write") as raised:
        publisher.publish(DAY, model_files(DAY))
    assert not raised.value.permanent and raised.value.allow_retries

    monkeypatch.undo()  # the retry
    publisher.publish(DAY, model_files(DAY))
    assert_consistent(published(publisher), DAY)


def test_a_missing_bucket_is_a_permanent_error_naming_bucket_and_key(s3):
    publisher = ModelPublisher(location="s3://taar-no-such-bucket/similarity", storage_options=s3.storage_options)
    with pytest.raises(PublishError) as raised:
        publisher.publish(DAY, model_files(DAY))
    assert str(raised.value) == (
        "could not write s3://taar-no-such-bucket/similarity/donors20261120.json: The specified bucket does not exist"
    )
    assert raised.value.permanent and not raised.value.allow_retries


def test_a_local_location_that_cannot_be_a_folder_is_a_permanent_error(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    publisher = ModelPublisher(location=str(tmp_path / "taken" / "published"))
    with pytest.raises(PublishError, match=re.escape(f"could not write {tmp_path}/taken/published/")) as raised:
        publisher.publish(DAY, model_files(DAY))
    assert raised.value.permanent


def s3_error(code: str) -> BaseException:
    """The exception s3fs raises for an S3 error response with this code."""
    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return translate_boto_error(botocore.exceptions.ClientError(response, "PutObject"))


@pytest.mark.parametrize(
    "code", ["NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "ExpiredToken", "InvalidBucketName"]
)
def test_s3_errors_a_retry_cannot_fix_are_permanent(code):
    assert is_permanent(s3_error(code))


@pytest.mark.parametrize(
    "error",
    [
        s3_error("InternalError"),
        s3_error("SlowDown"),
        s3_error("ServiceUnavailable"),
        ConnectionResetError(errno.ECONNRESET, "reset by peer"),
        TimeoutError("read timed out"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    ],
    ids=repr,
)
def test_network_and_server_side_errors_are_transient(error):
    assert not is_permanent(error)
