"""Where files live, and writing them so that no reader ever sees one half-written (no Dagster).

Every location of the pipeline (the input, the intermediate tables, the published model, the
demo data) is a local path or an object-store URL (``s3://bucket/prefix``, ``gs://bucket/prefix``);
fsspec reads and writes them all. Locally a file is written beside its target under a hidden temporary name and
renamed into place; in an object store a single PUT is atomic already.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from upath import UPath


def is_local_filesystem(fs: fsspec.AbstractFileSystem) -> bool:
    return "file" in ((fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol)


def is_local_protocol(protocol: str) -> bool:
    return protocol in ("", "file", "local")


def filesystem(location: str, storage_options: Mapping[str, Any] | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path without protocol and trailing slash) of a path or URL."""
    fs, path = fsspec.core.url_to_fs(location, **(storage_options or {}))
    return fs, path.rstrip("/")


# What s3fs turns S3's error codes into for causes a retry cannot fix: NoSuchBucket -> FileNotFoundError,
# AccessDenied / InvalidAccessKeyId / ExpiredToken -> PermissionError, malformed requests -> EINVAL.
# gcsfs raises FileNotFoundError for 404 too.
PERMANENT_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError)
# HTTP client errors a retry can cure: request timeout, too many requests.
_RETRYABLE_CLIENT_ERRORS = (408, 429)


def is_permanent_error(error: BaseException) -> bool:
    """Whether an object store's error has a cause a retry cannot fix (missing bucket, access
    denied, malformed request), for local folders, S3 (s3fs) and GCS (gcsfs)."""
    if isinstance(error, PERMANENT_ERRORS) or (isinstance(error, OSError) and error.errno == errno.EINVAL):
        return True
    # gcsfs (not imported here: importing it decides its filesystem class, see resources.py) raises
    # a bare OSError("Forbidden: ...") for 403, ValueError("Bad Request: ...") for a 400 naming an
    # invalid request, and its HttpError carrying the status `code` for the other HTTP errors.
    message = str(error)
    if (isinstance(error, OSError) and message.startswith("Forbidden")) or (
        isinstance(error, ValueError) and message.startswith("Bad Request")
    ):
        return True
    code = getattr(error, "code", None)
    return (
        type(error).__module__.startswith("gcsfs")
        and isinstance(code, int)
        and 400 <= code < 500
        and code not in _RETRYABLE_CLIENT_ERRORS
    )


def full_path(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A path as the user names it: plain when local, with its protocol (s3://, gs://) otherwise."""
    return path if is_local_filesystem(fs) else fs.unstrip_protocol(path)


def hadoop_url(location: str) -> str:
    """A location as Spark (Hadoop) names it: s3:// is s3a://, a local path is absolute."""
    if location.startswith("s3://"):
        return "s3a://" + location.removeprefix("s3://")
    return location if "://" in location else os.path.abspath(location)


def write_locally_in_place(target: str, write: Callable[[str], None]) -> None:
    """`write(temporary)` beside `target`, then rename it onto `target`: a reader sees the old
    file (or folder) or the new one, never a half-written one."""
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        _move_into_place(temporary, target)
    finally:
        remove_local(temporary)


def write_bytes_locally_in_place(target: str, data: bytes) -> None:
    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            handle.write(data)

    write_locally_in_place(target, write)


def remove_local(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _move_into_place(temporary: str, target: str) -> None:
    if os.path.lexists(target) and (os.path.isdir(target) or os.path.isdir(temporary)):
        # A folder (Spark's output) cannot replace, or be replaced by, another entry in one
        # rename: the old one is moved aside first, so readers briefly find no data, never a mix.
        aside = f"{temporary}.old"
        os.rename(target, aside)
        os.rename(temporary, target)
        remove_local(aside)
    else:
        os.replace(temporary, target)


# --- Stored tables ----------------------------------------------------------------------------
# A stored table is one parquet file, or a folder of part files written by an engine where it
# runs. Its provenance (the parameters and input window it was built with, for the published
# manifest) travels in the parquet schema metadata, or in a sidecar file inside a folder.

PROVENANCE_KEY = b"taar.provenance"
PROVENANCE_SIDECAR = "_taar_provenance.json"


class DeferredTable(ABC):
    """A table an engine computes where it runs (e.g. on a Spark cluster): it writes itself."""

    provenance: dict[str, Any]

    @abstractmethod
    def write_folder(self, location: str) -> None:
        """Write the table as a folder of parquet part files at `location` (a path or URL)."""

    @abstractmethod
    def with_provenance(self, record: dict[str, Any]) -> DeferredTable: ...

    def release(self) -> None:
        """Free what the engine kept to compute the table (a cache); called once it is written."""


def with_record(table: pa.Table, key: bytes, record: dict[str, Any]) -> pa.Table:
    """`table` carrying a JSON `record` under `key` in its schema metadata (kept in parquet)."""
    return table.replace_schema_metadata({**(table.schema.metadata or {}), key: json.dumps(record)})


def record_of(table: pa.Table, key: bytes) -> dict[str, Any]:
    raw = (table.schema.metadata or {}).get(key)
    return json.loads(raw) if raw else {}


def provenance(table: pa.Table | DeferredTable) -> dict[str, Any]:
    return dict(table.provenance) if isinstance(table, DeferredTable) else record_of(table, PROVENANCE_KEY)


def with_provenance(table: pa.Table | DeferredTable, record: dict[str, Any]) -> pa.Table | DeferredTable:
    """`table` carrying `record` to storage and to the next stages."""
    if isinstance(table, DeferredTable):
        return table.with_provenance(record)
    return with_record(table, PROVENANCE_KEY, record)


def is_local_upath(path: UPath) -> bool:
    return is_local_protocol(path.protocol)


def read_table(path: UPath, columns: Sequence[str] | None = None) -> pa.Table:
    """A stored table (file or folder of part files), with its provenance. FileNotFoundError if absent."""
    columns = list(columns) if columns else None
    if path.is_dir():
        source, fs = _dataset_source(path)
        table = pq.read_table(source, filesystem=fs, columns=columns)
        sidecar = path / PROVENANCE_SIDECAR
        return with_provenance(table, json.loads(sidecar.read_text())) if sidecar.exists() else table
    with path.open("rb") as handle:
        return pq.read_table(handle, columns=columns)


def _dataset_source(path: UPath) -> tuple[str, Any]:
    """(path, filesystem) for pyarrow to read a folder of part files."""
    return (os.path.abspath(path.path), None) if is_local_upath(path) else (path.path, path.fs)


def count_rows(path: UPath) -> int:
    """Rows of a stored table, from the parquet footers only."""
    source, fs = _dataset_source(path)
    return ds.dataset(source, filesystem=fs, format="parquet").count_rows()


class StoredTable:
    """One stored day of an upstream table, read only when a stage asks: in the run's process
    (`read`), or by an engine from its `location`."""

    def __init__(self, path: UPath, columns: Sequence[str] | None = None):
        self.path = path
        self.columns = list(columns) if columns else None

    @property
    def location(self) -> str:
        """A local path or a URL (s3://bucket/key)."""
        return self.path.path if is_local_upath(self.path) else str(self.path)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The table (the given columns, else the input's declared ones, else all)."""
        return read_table(self.path, columns or self.columns)

    def provenance(self) -> dict[str, Any]:
        if self.path.is_dir():
            sidecar = self.path / PROVENANCE_SIDECAR
            return json.loads(sidecar.read_text()) if sidecar.exists() else {}
        with self.path.open("rb") as handle:
            return record_of(pq.read_schema(handle), PROVENANCE_KEY)
