"""Publishing the model to a folder or an object-store prefix, so that the latest objects never
stay a mix of two days.

The TAAR service reads fixed names (donors.json, lr_curves.json, their .bz2 copies), and no object
store replaces several objects at once. So a publish of day D, with one publisher at a time per
location (a lease in the location, `_leases/publish`), goes:

1. complete the publish an earlier run left unfinished, if its marker is there (see 5);
2. write every archive object of D (donorsYYYYMMDD.json, ...); nobody reads them as "latest";
3. stop there if manifest.json already describes a later day: "latest" never moves back;
4. write the marker `_publishing.json`: the day and the SHA-256 of every latest object to be;
5. replace the latest objects, donors and LR curves before the manifest that holds their
   checksums; a publish that stops here (an error, a kill, a lost network) is rolled forward
   from the archive by the next publish to the location (this step's retry, or the next run);
6. remove the marker.

What a reader of the latest objects can observe: every object is whole (a temporary file renamed
into place locally, one PUT in an object store); manifest.json describes day M and its checksums
match donors.json and lr_curves.json, except between 4 and 6, when donors.json and lr_curves.json
may already be D's while manifest.json is still M's. The marker exists throughout that window.
`SimilarityModel.load` checks the checksums and then reads the archive of the manifest's day, so
it always loads one whole day.

Every error names the object. Transient ones (network, throttling, 5xx, time-outs) let the step
retry; the others (missing bucket, access denied, a full disk) fail the run at once. Each object
operation is bounded in time (`object_timeout`) and so is the publish as a whole (`time_limit`).
"""

from __future__ import annotations

import bz2
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import dagster as dg
import fsspec

from taar_assets.leases import Lease, LeaseHeld, LeaseLost
from taar_assets.similarity.model_files import archive_name, sha256
from taar_assets.storage import (
    error_code,
    filesystem,
    get_object,
    is_local_filesystem,
    is_transient,
    put_object,
    remove_object,
    remove_temporaries,
)

MODEL_FILES = ("donors", "lr_curves", "manifest")  # "latest" is written in this order, manifest last
MARKER = "_publishing.json"
LEASE = "publish"


class PublishError(dg.Failure):
    """Publishing failed; the message names the object and says what readers find now.

    A dagster Failure, retried only when transient (the asset turns those into a retry)."""

    def __init__(self, message: str, transient: bool):
        super().__init__(description=message, allow_retries=transient)
        self.transient = transient


def object_names(name: str, day: dt.date, with_bz2: bool) -> tuple[list[str], list[str]]:
    """(archive names, latest names) for one model file, e.g. donors20261120.json and donors.json."""
    archive = [archive_name(name, f"{day}")]
    latest = [f"{name}.json"]
    if with_bz2:
        archive.append(f"{name}.json.{day:%Y-%m-%d}.bz2")
        latest.append(f"{name}.json.bz2")
    return archive, latest


def manifest_day(manifest: bytes | None) -> str:
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
    storage_options: dict[str, Any] = {}  # fsspec options of the location (S3 endpoint, region, time-outs)
    object_timeout: float = 120.0  # seconds one object operation may take, every attempt included
    time_limit: float = 600.0  # seconds one publishing session (one step) may take
    lease_seconds: float = 120.0  # a dead publisher's lease runs out after this

    def url(self, name: str) -> str:
        return f"{self.location.rstrip('/')}/{name}"

    @contextlib.contextmanager
    def session(self, owner: str, log: Callable[[str], None] = lambda _: None) -> Iterator[Publication]:
        """Publish (`Publication.publish`) as the one publisher of the location: take its lease
        (waiting as long as a dead holder's could last), remove what killed writers left, and
        complete an unfinished publish first."""
        lease = Lease(
            self.location, LEASE, owner, self.lease_seconds, self.storage_options, self.object_timeout,
            holder=owner, description=f"publishing to {self.location}",
        )
        try:
            lease.acquire(wait=1.5 * self.lease_seconds)
        except LeaseHeld as error:
            raise PublishError(f"could not publish: {error}", transient=False) from error
        except Exception as error:
            raise PublishError(f"could not take the lease {lease.url}: {error}", transient=is_transient(error)) from error
        try:
            publication = Publication(self, lease, log)
            publication.remove_temporaries()
            publication.complete_unfinished()
            yield publication
        finally:
            lease.release()

    def publish(self, day: dt.date, files: Mapping[str, bytes], owner: str | None = None) -> dict[str, list[str]]:
        """One day in a session of its own (see `Publication.publish`)."""
        with self.session(owner or f"publisher {uuid.uuid4().hex[:12]}") as publication:
            return publication.publish(day, files)


class Publication:
    """One publishing session at a location, holding its lease."""

    def __init__(self, publisher: ModelPublisher, lease: Lease, log: Callable[[str], None]):
        self.publisher, self.lease, self.log = publisher, lease, log
        self.fs: fsspec.AbstractFileSystem
        self.fs, self.base = filesystem(publisher.location, publisher.storage_options)
        self.deadline = time.monotonic() + publisher.time_limit

    # --- one object at a time: bounded, named, classified -----------------------------------

    def _do(self, action: str, name: str, operation: Callable[..., Any], *args: Any) -> Any:
        url = self.publisher.url(name)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._out_of_time(f"before it could {action} {url}")
        try:
            if action != "read":
                self.lease.check()
            return operation(self.fs, f"{self.base}/{name}", *args, min(self.publisher.object_timeout, remaining))
        except LeaseLost as error:
            raise PublishError(f"stopped before it could {action} {url}: {error}", transient=False) from error
        except Exception as error:
            if time.monotonic() >= self.deadline:
                raise self._out_of_time(f"while it tried to {action} {url}") from error
            raise PublishError(f"could not {action} {url}: {error or type(error).__name__}", is_transient(error)) from error

    def _out_of_time(self, when: str) -> PublishError:
        limit = f"{self.publisher.time_limit:g} s"
        return PublishError(f"publishing to {self.publisher.location} ran out of its time limit of {limit} {when}", True)

    def _read(self, name: str) -> bytes | None:
        return self._do("read", name, get_object)

    def _write(self, name: str, data: bytes) -> None:
        self._do("write", name, put_object, data)

    def _remove(self, name: str) -> None:
        self._do("remove", name, remove_object)

    # --- the session ------------------------------------------------------------------------

    def remove_temporaries(self) -> None:
        """Locally, the temporary files that killed writers left here (the lease makes them stale)."""
        if is_local_filesystem(self.fs):
            for path in remove_temporaries(self.base):
                self.log(f"removed {path}, left by a publisher that was stopped")

    def complete_unfinished(self) -> str | None:
        """Finish the publish whose marker is here: write its latest objects from its archive
        objects (each checked against the marker), then remove the marker. Returns its day."""
        marker = self._read(MARKER)
        if marker is None:
            return None
        try:
            record = json.loads(marker)
            day, entries = record["day"], record["objects"]
        except (ValueError, KeyError, TypeError) as error:
            raise PublishError(f"the marker {self.publisher.url(MARKER)} is unreadable: {error}", transient=False) from None
        if day < manifest_day(self._read("manifest.json")):
            self._remove(MARKER)  # a later day is published already
            return None
        for entry in entries:
            current = self._read(entry["name"])
            if current is not None and sha256(current) == entry["sha256"]:
                continue
            data = self._read(entry["archive"])
            if data is None or sha256(data) != entry["sha256"]:
                raise PublishError(
                    f"cannot complete the publish of {day} that {self.publisher.url(MARKER)} records: "
                    f"{self.publisher.url(entry['archive'])} is missing or is not the object it lists",
                    transient=False,
                )
            self._write(entry["name"], data)
        self._remove(MARKER)
        self.log(f"completed the publish of {day} that an earlier run left unfinished")
        return day

    def publish(self, day: dt.date, files: Mapping[str, bytes]) -> dict[str, list[str]]:
        """Write the day's archive objects, then its latest objects; returns the URLs written.

        The latest objects never move back in time: when they already hold a later day (a
        backfill of older days), only the archive is written and "latest" comes back empty.
        """
        archive, latest = self._objects(day, files)
        urls = {"archive": [self.publisher.url(name) for name in archive], "latest": []}
        archive_of = dict(zip(latest, archive, strict=True))  # same bytes, same order
        marker = {
            "day": f"{day}",
            "objects": [{"name": n, "archive": archive_of[n], "sha256": sha256(d)} for n, d in latest.items()],
        }
        try:
            for name, data in archive.items():
                self._write(name, data)
            previous_day = manifest_day(self._read("manifest.json"))
            if previous_day > f"{day}":
                return urls
            self._write(MARKER, json.dumps(marker, indent=2).encode())
        except PublishError as error:
            raise PublishError(f"{error}; the latest objects were not touched", error.transient) from error
        self._replace_latest(day, previous_day, latest)
        self._remove(MARKER)
        urls["latest"] = [self.publisher.url(name) for name in latest]
        return urls

    def _objects(self, day: dt.date, files: Mapping[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """(archive, latest): object name -> bytes, in writing order. Every payload is ready
        before the first write, so the latest objects follow each other without delay."""
        archive: dict[str, bytes] = {}
        latest: dict[str, bytes] = {}
        for name in MODEL_FILES:
            data = files[name]
            compressed = bz2.compress(data) if self.publisher.bz2 else None
            archive_names, latest_names = object_names(name, day, self.publisher.bz2)
            archive.update({n: compressed if n.endswith(".bz2") else data for n in archive_names})
            latest.update({n: compressed if n.endswith(".bz2") else data for n in latest_names})
        return archive, latest

    def _replace_latest(self, day: dt.date, previous_day: str, latest: Mapping[str, bytes]) -> None:
        replaced: list[str] = []
        name = ""
        try:
            for name, data in latest.items():
                self._write(name, data)
                replaced.append(name)
        except PublishError as error:
            changed = [*replaced, name] if self._may_have_landed(error, name, latest[name]) else replaced
            if not changed:
                with contextlib.suppress(PublishError):
                    self._remove(MARKER)  # nothing was replaced: nothing to complete either
                raise PublishError(f"{error}; the latest objects were not touched", error.transient) from error
            raise PublishError(f"{error}; {self._mixed(day, previous_day, changed)}", error.transient) from error
        except BaseException:  # stopped (Ctrl-C, SIGTERM, a terminated run): no more writes, say what is left
            self.log(self._mixed(day, previous_day, [n for n in (*replaced, name) if n]))
            raise

    def _may_have_landed(self, error: PublishError, name: str, data: bytes) -> bool:
        """Whether a failed write may still have replaced its object: never locally (a failed
        rename replaces nothing), nor when the store answered with an error; after a lost
        answer, the object says (when it can be read)."""
        if is_local_filesystem(self.fs) or error_code(error) is not None:
            return False
        try:
            current = self._read(name)
        except PublishError:
            return True  # unknown: the store cannot tell now
        return current is not None and sha256(current) == sha256(data)

    def _mixed(self, day: dt.date, previous_day: str, changed: list[str]) -> str:
        """What readers of the latest objects find after a publish stopped while replacing them."""
        before = f"still describes {previous_day}" if previous_day else "is absent or older"
        return (
            f"{', '.join(changed)} may already be {day}'s while manifest.json {before}: readers of the "
            f"latest objects may find both days (the manifest's checksums tell them apart) until a publish to "
            f"{self.publisher.location} completes {day} from its archive, as the retry or the next run does "
            f"first ({self.publisher.url(MARKER)} records it)"
        )
