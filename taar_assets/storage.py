"""Where files live, and writing them so that no reader ever sees one half-written (no Dagster).

Every location of the pipeline (the input, the intermediate tables, the published model, the
demo data) is a local path or an object-store URL (``s3://bucket/prefix``, ``gs://bucket/prefix``);
fsspec reads and writes them all. Locally a file is written beside its target under a hidden temporary name and
renamed into place; in an object store a single PUT is atomic already. Object-store calls
made here are bounded in time as a whole (every attempt of the client included), and errors
are told apart: transient ones (network, throttling, 5xx, time-outs) are worth a retry.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
import botocore.exceptions
import fsspec
import fsspec.asyn
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


def full_path(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A path as the user names it: plain when local, with its protocol (s3://, gs://) otherwise."""
    return path if is_local_filesystem(fs) else fs.unstrip_protocol(path)


def hadoop_url(location: str) -> str:
    """A location as Spark (Hadoop) names it: s3:// is s3a://, a local path is absolute."""
    if location.startswith("s3://"):
        return "s3a://" + location.removeprefix("s3://")
    return location if "://" in location else os.path.abspath(location)


def _temporary_name(target: str) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")


# What write_locally_in_place leaves behind when its process is killed: the temporary file or
# folder, and a folder moved aside (`.old`).
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[0-9a-f]{32}\.tmp(\.old)?$")


def write_locally_in_place(target: str, write: Callable[[str], None]) -> None:
    """`write(temporary)` beside `target`, then rename it onto `target`: a reader sees the old
    file (or folder) or the new one, never a half-written one."""
    temporary = _temporary_name(target)
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


def remove_temporaries(folder: str, of: Callable[[str], bool] = lambda target: True) -> list[str]:
    """Remove the temporary files and folders that killed writers left in a local `folder`
    (only those whose target name passes `of`); returns the paths removed.

    Only for a caller that owns the folder's targets (a lease): a temporary file of a writer
    still running would otherwise be taken from under it.
    """
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for name in sorted(names):
        match = _TEMPORARY.match(name)
        if match and of(match["target"]):
            remove_local(os.path.join(folder, name))
            removed.append(os.path.join(folder, name))
    return removed


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


# --- Object-store calls: whole, bounded in time, errors told apart ----------------------------


def _bounded(fs: fsspec.AbstractFileSystem, timeout: float | None) -> dict[str, Any]:
    """The keyword that bounds a call of a network filesystem (fsspec's async ones: s3fs,
    gcsfs) to `timeout` seconds in all, its client's own retries included."""
    return {"timeout": timeout} if timeout and isinstance(fs, fsspec.asyn.AsyncFileSystem) else {}


def put_object(fs: fsspec.AbstractFileSystem, path: str, data: bytes, timeout: float | None = None) -> None:
    """`data` at `path`, whole: a temporary file renamed into place locally, one PUT otherwise."""
    if is_local_filesystem(fs):
        fs.makedirs(os.path.dirname(path), exist_ok=True)
        write_bytes_locally_in_place(path, data)
    else:
        fs.pipe_file(path, data, **_bounded(fs, timeout))


def create_object(fs: fsspec.AbstractFileSystem, path: str, data: bytes, timeout: float | None = None) -> None:
    """`data` at `path` only if nothing is there yet (FileExistsError otherwise), whole, and
    decided atomically: a hard link locally, a conditional PUT (If-None-Match) otherwise."""
    if is_local_filesystem(fs):
        fs.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = _temporary_name(path)
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
            os.link(temporary, path)
        finally:
            remove_local(temporary)
        return
    try:
        fs.pipe_file(path, data, mode="create", **_bounded(fs, timeout))
    except OSError as error:
        if error_code(error) == "PreconditionFailed":
            raise FileExistsError(errno.EEXIST, f"{path} exists already") from error
        raise


def get_object(fs: fsspec.AbstractFileSystem, path: str, timeout: float | None = None) -> bytes | None:
    """The bytes at `path`, None when there is nothing."""
    try:
        return fs.cat_file(path, **_bounded(fs, timeout))
    except FileNotFoundError:
        return None


def remove_object(fs: fsspec.AbstractFileSystem, path: str, timeout: float | None = None) -> None:
    """Nothing at `path` afterwards (already absent is fine)."""
    try:
        fs.rm_file(path, **_bounded(fs, timeout))
    except FileNotFoundError:
        pass


def list_names(fs: fsspec.AbstractFileSystem, folder: str, timeout: float | None = None) -> list[str]:
    """The names directly inside `folder`, as the store says now (no cached listing)."""
    if not is_local_filesystem(fs):
        fs.invalidate_cache(folder)
    try:
        entries = fs.ls(folder, detail=False, **_bounded(fs, timeout))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries)


# Errno values of failures a later attempt can fix: s3fs maps 503 SlowDown/ServiceUnavailable to
# EBUSY and 500 InternalError to EREMOTEIO; the others are the network's.
_TRANSIENT_ERRNOS = {
    errno.EBUSY, getattr(errno, "EREMOTEIO", errno.EIO), errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNREFUSED,
    errno.ECONNABORTED, errno.EPIPE, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EAGAIN,
}
# The S3 client's own network errors (connect, read time-outs, closed connections), which are
# not Python's ConnectionError / TimeoutError.
_NETWORK_ERRORS = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
)
# HTTP answers that mean "not now": timeout, throttling, server errors.
_TRANSIENT_STATUSES = {408, 429, 500, 502, 503, 504}


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and what it was raised from (or, implicitly, while handling)."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return chain


def error_code(error: BaseException) -> str | None:
    """The S3-style error code of an error answer (botocore's ClientError) behind `error`."""
    for cause in _causes(error):
        response = getattr(cause, "response", None)
        if isinstance(response, dict) and "Error" in response:
            return response["Error"].get("Code")
    return None


def is_transient(error: BaseException) -> bool:
    """Whether a later attempt may succeed: a time-out, a lost or refused connection, throttling
    or a server error, anywhere in the error's chain of causes. Everything else (a missing
    bucket, access denied, a full disk, bad data, a bug) is permanent: retrying would only repeat it.
    """
    for cause in _causes(error):
        if isinstance(cause, (TimeoutError, ConnectionError)):
            return True
        if isinstance(cause, OSError) and cause.errno in _TRANSIENT_ERRNOS:
            return True
        if isinstance(cause, _NETWORK_ERRORS):
            return True
        response = getattr(cause, "response", None)
        if isinstance(response, dict) and response.get("ResponseMetadata", {}).get("HTTPStatusCode") in _TRANSIENT_STATUSES:
            return True
        # gcsfs's HttpError carries the HTTP status as `code`.
        if type(cause).__module__.startswith("gcsfs") and getattr(cause, "code", None) in _TRANSIENT_STATUSES:
            return True
    return False


# --- Stored tables ----------------------------------------------------------------------------
# A stored table is one parquet file, or a folder of part files written by an engine where it
# runs. Its provenance (the parameters and input window it was built with, for the published
# manifest) travels in the parquet schema metadata, or in a sidecar file inside a folder.

PROVENANCE_KEY = b"taar.provenance"
PROVENANCE_SIDECAR = "_taar_provenance.json"


class DeferredTable(ABC):
    """A table an engine computes where it runs (DuckDB streaming to a file, a Spark cluster):
    it writes itself, with its provenance, when the IO manager stores it."""

    provenance: dict[str, Any]
    # True: `write` takes the final URL (Spark writes to s3a:// itself); False: a local path,
    # which the IO manager then uploads.
    writes_remote: bool = False

    @abstractmethod
    def write(self, location: str) -> dict[str, Any]:
        """Write the table (a parquet file, or a folder of part files) at `location`; returns
        figures about what was written (reported as the materialisation's metadata)."""

    @abstractmethod
    def with_provenance(self, record: dict[str, Any]) -> DeferredTable: ...

    def release(self) -> None:
        """Free what the engine kept to compute the table (a cache); called once it is written."""


def with_record(table: pa.Table, key: bytes, record: dict[str, Any]) -> pa.Table:
    """`table` carrying a JSON `record` under `key` in its schema metadata (kept in parquet)."""
    return table.replace_schema_metadata({**(table.schema.metadata or {}), key: json.dumps(record)})


def record_of(table: pa.Table | pa.Schema, key: bytes) -> dict[str, Any]:
    schema = table if isinstance(table, pa.Schema) else table.schema
    raw = (schema.metadata or {}).get(key)
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
