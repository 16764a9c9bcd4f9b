"""Writing the published model to a folder or an S3 prefix: dated archive first, "latest" last.

What a reader of the latest objects (the TAAR service) can rely on:
- every object is whole: written to a temporary file and renamed locally, one PUT on S3;
- the latest objects are written only once every archive object of the day exists, donors and
  LR curves before the manifest that holds their checksums;
- if writing the latest objects fails, or the run is terminated meanwhile, the latest objects
  already replaced are put back: donors.json, lr_curves.json and manifest.json (and their bz2
  copies) are always from the same day. Only a process killed outright between two of those
  PUTs can leave them mixed, until the day is published again;
- publishing a day again writes the same objects again (idempotent);
- the latest objects never move back in time: publishing an older day (a backfill) writes only
  its archive objects.

Errors name the object (`s3://bucket/key`). Permanent ones (missing bucket, access denied, a
malformed request) bypass the asset's RetryPolicy; the others (network, throttling, 5xx) are
retried by it, and the retry publishes the whole day again.
"""

from __future__ import annotations

import bz2
import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import dagster as dg
import fsspec

from taar_assets.io_managers import write_bytes_locally_in_place
from taar_assets.storage import is_permanent_error as is_permanent

MODEL_FILES = ("donors", "lr_curves", "manifest")  # "latest" is written in this order, manifest last


class PublishError(dg.Failure):
    """Reading or writing a published object failed; the message names the object.

    A dagster Failure so that a permanent error fails the run at once instead of being retried.
    """

    def __init__(self, message: str, permanent: bool):
        super().__init__(description=message, allow_retries=not permanent)
        self.permanent = permanent


@contextlib.contextmanager
def _naming_errors(action: str, url: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        raise PublishError(f"could not {action} {url}: {error}", permanent=is_permanent(error)) from error


def object_names(name: str, day: dt.date, with_bz2: bool) -> tuple[list[str], list[str]]:
    """(archive names, latest names) for one model file, e.g. donors20261120.json and donors.json."""
    archive = [f"{name}{day:%Y%m%d}.json"]
    latest = [f"{name}.json"]
    if with_bz2:
        archive.append(f"{name}.json.{day:%Y-%m-%d}.bz2")
        latest.append(f"{name}.json.bz2")
    return archive, latest


def _manifest_day(manifest: bytes | None) -> str:
    """The day a published manifest describes ("" when there is none or it is unreadable)."""
    try:
        return str(json.loads(manifest)["date"]) if manifest else ""
    except (ValueError, KeyError, TypeError):
        return ""


class ModelPublisher(dg.ConfigurableResource):
    """Where and how the model is published: `location` is a folder, s3://bucket/prefix or gs://bucket/prefix."""

    location: str
    layout: Literal["service", "original"] = "service"
    bz2: bool = False
    storage_options: dict[str, Any] = {}  # fsspec options for the location's object store (endpoint, credentials)

    def url(self, name: str) -> str:
        return f"{self.location.rstrip('/')}/{name}"

    def publish(self, day: dt.date, files: Mapping[str, bytes]) -> dict[str, list[str]]:
        """Write the day's archive objects, then its latest objects; returns the URLs written.

        The latest objects never move back in time: when they already hold a later day (a
        backfill of older days), only the archive is written and "latest" comes back empty.
        """
        fs, base = fsspec.core.url_to_fs(self.location, **self.storage_options)
        base = base.rstrip("/")
        archive, latest = self._objects(day, files)
        for name, data in archive.items():
            self._write(fs, base, name, data)
        previous = {name: self._read_if_exists(fs, base, name) for name in latest}
        if _manifest_day(previous.get("manifest.json")) > f"{day}":
            return {"archive": [self.url(name) for name in archive], "latest": []}
        self._replace_latest(fs, base, latest, previous)
        return {"archive": [self.url(name) for name in archive], "latest": [self.url(name) for name in latest]}

    def _objects(self, day: dt.date, files: Mapping[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """(archive, latest): object name -> bytes, in writing order. Every payload is ready
        before the first write, so the latest objects follow each other without delay."""
        archive: dict[str, bytes] = {}
        latest: dict[str, bytes] = {}
        for name in MODEL_FILES:
            data = files[name]
            compressed = bz2.compress(data) if self.bz2 else None
            archive_names, latest_names = object_names(name, day, self.bz2)
            archive.update({n: compressed if n.endswith(".bz2") else data for n in archive_names})
            latest.update({n: compressed if n.endswith(".bz2") else data for n in latest_names})
        return archive, latest

    def _replace_latest(
        self,
        fs: fsspec.AbstractFileSystem,
        base: str,
        latest: Mapping[str, bytes],
        previous: Mapping[str, bytes | None],
    ) -> None:
        attempted: list[str] = []
        try:
            for name, data in latest.items():
                # Counted before the write: a PUT that reports an error may still have landed.
                attempted.append(name)
                self._write(fs, base, name, data)
        except BaseException:  # not only Exception: Dagster interrupts a terminated run with a BaseException
            self._restore(fs, base, {name: previous[name] for name in attempted})
            raise

    def _restore(
        self,
        fs: fsspec.AbstractFileSystem,
        base: str,
        previous: Mapping[str, bytes | None],
    ) -> None:
        """Put back the latest objects as they were before this publish (absent ones removed)."""
        failures = []
        for name, data in previous.items():
            try:
                if data is None:
                    with _naming_errors("remove", self.url(name)), contextlib.suppress(FileNotFoundError):
                        fs.rm_file(f"{base}/{name}")  # absent already if the failed write never landed
                else:
                    self._write(fs, base, name, data)
            except PublishError as error:
                failures.append(str(error))
        if failures:
            # Transient on purpose: the retry publishes the whole day, which makes them consistent.
            raise PublishError(
                "the latest objects may now mix two days, restoring them failed: " + "; ".join(failures),
                permanent=False,
            )

    def _write(self, fs: fsspec.AbstractFileSystem, base: str, name: str, data: bytes) -> None:
        path = f"{base}/{name}"
        with _naming_errors("write", self.url(name)):
            if "file" in fs.protocol:
                fs.makedirs(os.path.dirname(path), exist_ok=True)
                write_bytes_locally_in_place(path, data)
            else:
                fs.pipe_file(path, data)  # a single PUT: the object is whole or absent

    def _read_if_exists(self, fs: fsspec.AbstractFileSystem, base: str, name: str) -> bytes | None:
        with _naming_errors("read", self.url(name)):
            try:
                return fs.cat_file(f"{base}/{name}")
            except FileNotFoundError:
                return None
