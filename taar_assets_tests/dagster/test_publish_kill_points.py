"""A publisher killed outright at every point of a publish: before and after each object write
and removal, and (in a folder) between each temporary file and its rename. The kill is real
(`os._exit` in a forked process: no cleanup runs). Readers then find one whole day or the
marker, and the next publish completes the day and removes what the killed one left."""

import os
import re
import traceback

import pytest

from taar_assets import publishing, storage
from taar_assets.publishing import MARKER, ModelPublisher
from taar_assets.similarity.recommender import SimilarityModel
from taar_assets_tests.support.published import (
    DAY,
    PREVIOUS_DAY,
    assert_consistent,
    assert_readers_find_one_day_or_the_marker,
    model_files,
    published,
)

KILLED = 9
TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")


def operations(publisher: ModelPublisher, monkeypatch) -> list[tuple[str, str]]:
    """The publish's operations in order, as (kind, object name), from a publish of DAY."""
    seen: list[tuple[str, str]] = []
    hook(monkeypatch, lambda kind, name, when: seen.append((kind, name)) if when == "before" else None)
    publisher.publish(DAY, model_files(DAY))
    monkeypatch.undo()
    return seen


def hook(monkeypatch, at) -> None:
    """Call `at(kind, name, "before"|"after")` around every write, removal and (locally) rename
    of a published object (the leases' own files aside)."""
    write, remove, rename = publishing.put_object, publishing.remove_object, os.replace

    def put_object(fs, path, data, timeout=None):
        at("write", path.rsplit("/", 1)[-1], "before")
        write(fs, path, data, timeout)
        at("write", path.rsplit("/", 1)[-1], "after")

    def remove_object(fs, path, timeout=None):
        at("remove", path.rsplit("/", 1)[-1], "before")
        remove(fs, path, timeout)
        at("remove", path.rsplit("/", 1)[-1], "after")

    def replace(source, target):
        if "/_leases/" not in str(target):
            at("rename", os.path.basename(target), "before")
        rename(source, target)

    monkeypatch.setattr(publishing, "put_object", put_object)
    monkeypatch.setattr(publishing, "remove_object", remove_object)
    monkeypatch.setattr(storage.os, "replace", replace)


def killed_at(publisher: ModelPublisher, point: tuple[int, str]) -> int:
    """Publish DAY in a forked process killed at `point` (the n-th operation, before or after);
    returns its exit code."""
    number, when = point
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        try:
            counter = iter(range(1, 10_000))
            calls = {}

            def at(kind, name, moment):
                if moment == "before":
                    calls[kind, name] = next(counter)
                if calls[kind, name] == number and moment == when:
                    os._exit(KILLED)

            with pytest.MonkeyPatch.context() as monkeypatch:
                hook(monkeypatch, at)
                publisher.publish(DAY, model_files(DAY))
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture(params=["local", "s3"])
def publisher(request, tmp_path) -> ModelPublisher:
    # A short lease: the next publish waits for the killed publisher's lease to run out.
    if request.param == "local":
        return ModelPublisher(location=str(tmp_path / "published"), lease_seconds=0.5)
    s3 = request.getfixturevalue("s3")
    return ModelPublisher(
        location=f"s3://{s3.create_bucket()}/similarity", storage_options=s3.storage_options, lease_seconds=0.5
    )


def test_a_publisher_killed_anywhere_is_completed_by_the_next(publisher, monkeypatch):
    # The operations of a publish, counted on a scratch location of the same kind.
    scratch = ModelPublisher(location=f"{publisher.location}-scratch", storage_options=publisher.storage_options)
    steps = operations(scratch, monkeypatch)
    assert steps[-1] == ("remove", MARKER)
    points = [(n, when) for n, (kind, _) in enumerate(steps, 1) for when in ("before", "after") if kind != "rename"]
    points += [(n, "before") for n, (kind, _) in enumerate(steps, 1) if kind == "rename"]

    publisher.publish(PREVIOUS_DAY, model_files(PREVIOUS_DAY))
    for number, when in points:
        kind, name = steps[number - 1]
        assert killed_at(publisher, (number, when)) == KILLED, (kind, name, when)
        objects = published(publisher)
        assert_readers_find_one_day_or_the_marker(objects)
        assert SimilarityModel.load(publisher.location, publisher.storage_options).manifest["date"] in (
            f"{PREVIOUS_DAY}", f"{DAY}"
        )
        if kind == "rename":  # killed between a temporary file and its rename: the file is left over
            assert any(TEMPORARY.match(os.path.basename(path)) for path in objects), name

        publisher.publish(DAY, model_files(DAY))  # the retry, or the next run
        objects = published(publisher)
        assert_consistent(objects, DAY)
        assert not [path for path in objects if TEMPORARY.match(os.path.basename(path))], (kind, name, when)
        reset_latest(publisher)  # the previous day's again, for the next kill point


def reset_latest(publisher: ModelPublisher) -> None:
    """The latest objects as the previous day's publish left them."""
    fs, base = storage.filesystem(publisher.location, publisher.storage_options)
    for name, archived in (
        ("donors.json", "donors20261119.json"),
        ("lr_curves.json", "lr_curves20261119.json"),
        ("manifest.json", "manifest20261119.json"),
    ):
        storage.put_object(fs, f"{base}/{name}", fs.cat_file(f"{base}/{archived}"))
