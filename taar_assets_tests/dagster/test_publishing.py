"""The publisher, in a folder, on S3 (moto's server) and on GCS (an emulator): layouts, bz2,
manifest, order, and what readers find when it fails or is stopped anywhere."""

import bz2
import errno
import json
import re

import dagster as dg
import pytest

from taar_assets import publishing
from taar_assets.publishing import MARKER, ModelPublisher, PublishError, object_names
from taar_assets.resources import Settings
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets_tests.support.published import (
    DAY,
    NEXT_DAY,
    PREVIOUS_DAY,
    assert_consistent,
    assert_readers_find_one_day_or_the_marker,
    day_of,
    latest_of,
    model_files,
    published,
)


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



def fail_on_write(monkeypatch, failing_calls, error: BaseException | None = None, landed: bool = False) -> list[str]:
    """Make the publisher's object writes fail on the given call numbers (1-based); with `landed`,
    after the object was written (a PUT whose answer was lost). Returns the names written."""
    original = publishing.put_object
    calls: list[str] = []

    def put_object(fs, path, data, timeout=None):
        calls.append(path.rsplit("/", 1)[-1])
        if len(calls) not in failing_calls:
            return original(fs, path, data, timeout)
        if landed:
            original(fs, path, data, timeout)
        raise error or ConnectionResetError(errno.ECONNRESET, "injected")

    monkeypatch.setattr(publishing, "put_object", put_object)
    return calls


ARCHIVE_WRITES = LATEST_WRITES = 6  # 3 files, each as .json and .bz2
MARKER_WRITE = ARCHIVE_WRITES + 1
# Every write of a publish, failing before its object landed; on S3 also after (a lost answer:
# a local write that fails has replaced nothing, being a temporary file and then a rename).
FAILURES = [
    pytest.param(where, call, landed, id=f"{where}-write-{call}-{'landed' if landed else 'lost'}")
    for where in ("local", "s3")
    for call in range(1, MARKER_WRITE + LATEST_WRITES + 1)
    for landed in ((False, True) if where == "s3" else (False,))
]


@pytest.mark.parametrize(("location", "failing_call", "landed"), FAILURES, indirect=["location"])
def test_a_failure_anywhere_leaves_one_day_or_the_marker_and_the_retry_completes_it(
    location, monkeypatch, failing_call, landed
):
    publisher = make_publisher(location, bz2=True)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    before = published(publisher)

    fail_on_write(monkeypatch, {failing_call}, landed=landed)
    with pytest.raises(PublishError, match="injected") as raised:
        publisher.publish(DAY, model_files(DAY))
    assert raised.value.transient

    after = published(publisher)
    assert_readers_find_one_day_or_the_marker(after)
    assert SimilarityModel.load(*location).manifest["date"] in (f"{PREVIOUS_DAY}", f"{DAY}")
    if failing_call <= MARKER_WRITE or (failing_call == MARKER_WRITE + 1 and not landed):
        # Nothing latest was replaced (after a lost answer the publisher asked the store): they
        # are the previous day's, and the message says so.
        assert latest_of(after) == latest_of(before)
        assert str(raised.value).endswith("; the latest objects were not touched")
        assert (MARKER in after) == (failing_call == MARKER_WRITE and landed)  # a marker is harmless alone
    else:
        # donors.json (at least) may be the new day's: the marker says so, and so does the message.
        assert MARKER in after
        assert "may already be 2026-11-20's while manifest.json still describes 2026-11-19" in str(raised.value)

    monkeypatch.undo()  # the retry
    publisher.publish(DAY, model_files(DAY))
    assert_consistent(published(publisher), DAY)


def test_a_stopped_publish_writes_nothing_more_and_the_next_run_completes_it(location, monkeypatch):
    publisher = make_publisher(location)
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))

    # Dagster interrupts a terminated run's step with a BaseException, here during lr_curves.json.
    calls = fail_on_write(monkeypatch, {6}, dg.DagsterExecutionInterruptedError())
    with pytest.raises(dg.DagsterExecutionInterruptedError):
        publisher.publish(DAY, model_files(DAY))
    assert calls == [
        "donors20261120.json", "lr_curves20261120.json", "manifest20261120.json", MARKER, "donors.json", "lr_curves.json"
    ]
    objects = published(publisher)
    assert [day_of(objects, name) for name in ("donors.json", "lr_curves.json")] == [f"{DAY}", f"{PREVIOUS_DAY}"]
    assert_readers_find_one_day_or_the_marker(objects)

    monkeypatch.undo()  # the next run, of the next day: completes the stopped day first
    publisher.publish(NEXT_DAY, model_files(NEXT_DAY))
    assert_consistent(published(publisher), NEXT_DAY)


@pytest.mark.parametrize(("failing_call", "name"), [(1, "donors20261120.json"), (5, "donors.json")])
def test_a_full_disk_raises_no_false_alarm(tmp_path, monkeypatch, failing_call, name):
    publisher = ModelPublisher(location=str(tmp_path / "published"))
    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    before = published(publisher)

    fail_on_write(monkeypatch, {failing_call}, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(PublishError) as raised:
        publisher.publish(DAY, model_files(DAY))
    assert str(raised.value) == (
        f"could not write {tmp_path}/published/{name}: [Errno 28] No space left on device; "
        "the latest objects were not touched"
    )
    assert not raised.value.transient  # retrying in 2 s does not free a disk
    after = published(publisher)
    assert latest_of(after) == latest_of(before) and MARKER not in after


def test_a_missing_bucket_is_a_permanent_error_naming_bucket_and_key(s3):
    publisher = ModelPublisher(location="s3://taar-no-such-bucket/similarity", storage_options=s3.storage_options)
    with pytest.raises(PublishError) as raised:
        publisher.publish(DAY, model_files(DAY))
    assert str(raised.value).startswith("could not take the lease s3://taar-no-such-bucket/similarity/_leases/publish: ")
    assert "The specified bucket does not exist" in str(raised.value)
    assert not raised.value.transient and not raised.value.allow_retries


def test_a_local_location_that_cannot_be_a_folder_is_a_permanent_error(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    publisher = ModelPublisher(location=str(tmp_path / "taken" / "published"))
    with pytest.raises(PublishError, match=re.escape(f"{tmp_path}/taken/published/")) as raised:
        publisher.publish(DAY, model_files(DAY))
    assert not raised.value.transient


def test_a_second_publisher_waits_for_the_first_then_fails_naming_it(location):
    publisher = make_publisher(location, lease_seconds=0.5)
    with publisher.session("run first"):
        with pytest.raises(PublishError, match=r"publishing to .* is held by run first, pid \d+ on ") as raised:
            publisher.publish(DAY, model_files(DAY), owner="run second")
    assert not raised.value.transient
    publisher.publish(DAY, model_files(DAY), owner="run second")  # once the first has finished
    assert_consistent(published(publisher), DAY)
