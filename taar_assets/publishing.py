"""Writing the published model to a folder or S3 prefix, archive first and "latest" last."""

from __future__ import annotations

import bz2
import datetime as dt
import os
import uuid
from collections.abc import Mapping
from typing import Literal

import dagster as dg
import fsspec

MODEL_FILES = ("donors", "lr_curves", "manifest")  # "latest" is written in this order, manifest last


class PublishError(RuntimeError):
    """Writing a published object failed; the message names the location."""


def object_names(name: str, day: dt.date, with_bz2: bool) -> tuple[list[str], list[str]]:
    """(archive names, latest names) for one model file, e.g. donors20261120.json and donors.json."""
    archive = [f"{name}{day:%Y%m%d}.json"]
    latest = [f"{name}.json"]
    if with_bz2:
        archive.append(f"{name}.json.{day:%Y-%m-%d}.bz2")
        latest.append(f"{name}.json.bz2")
    return archive, latest


class ModelPublisher(dg.ConfigurableResource):
    """Where and how the model is published: `location` is a folder or s3://bucket/prefix."""

    location: str
    layout: Literal["service", "original"] = "service"
    bz2: bool = False

    def _filesystem(self) -> tuple[fsspec.AbstractFileSystem, str]:
        fs, base = fsspec.core.url_to_fs(self.location)
        return fs, base.rstrip("/")

    def url(self, name: str) -> str:
        return f"{self.location.rstrip('/')}/{name}"

    def _write(self, fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
        try:
            if "file" in fs.protocol:
                fs.makedirs(os.path.dirname(path), exist_ok=True)
                temporary = f"{path}.{uuid.uuid4().hex}.tmp"
                with open(temporary, "wb") as handle:
                    handle.write(data)
                os.replace(temporary, path)
            else:
                fs.pipe_file(path, data)  # a single PUT: the object is whole or absent
        except Exception as error:
            raise PublishError(f"could not write {fs.unstrip_protocol(path)}: {error}") from error

    def _read_if_exists(self, fs: fsspec.AbstractFileSystem, path: str) -> bytes | None:
        try:
            return fs.cat_file(path)
        except FileNotFoundError:
            return None

    def publish(self, day: dt.date, files: Mapping[str, bytes]) -> dict[str, list[str]]:
        """Write the dated archive copies, then the latest copies; returns the URLs written.

        If a latest write fails, the latest copies already replaced are restored, so the latest
        files never mix two days.
        """
        fs, base = self._filesystem()
        payloads: dict[str, bytes] = {}
        archive_names: list[str] = []
        latest_names: list[str] = []
        for name in MODEL_FILES:
            archive, latest = object_names(name, day, self.bz2)
            for object_name in archive + latest:
                payloads[object_name] = bz2.compress(files[name]) if object_name.endswith(".bz2") else files[name]
            archive_names += archive
            latest_names += latest
        for object_name in archive_names:
            self._write(fs, f"{base}/{object_name}", payloads[object_name])
        previous = {name: self._read_if_exists(fs, f"{base}/{name}") for name in latest_names}
        written: list[str] = []
        try:
            for object_name in latest_names:
                self._write(fs, f"{base}/{object_name}", payloads[object_name])
                written.append(object_name)
        except PublishError:
            for object_name in written:
                if previous[object_name] is None:
                    fs.rm_file(f"{base}/{object_name}")
                else:
                    self._write(fs, f"{base}/{object_name}", previous[object_name])
            raise
        return {"archive": [self.url(n) for n in archive_names], "latest": [self.url(n) for n in latest_names]}
