"""Leases: one holder at a time for a name in a location, across processes, machines and
Dagster instances (no Dagster).

A lease lives where the data it protects lives (a folder or an object-store prefix), as small
JSON records `<location>/_leases/<name>/<generation>.json`. Taking it creates the next
generation with an exclusive create (a hard link locally, a conditional PUT in an object
store), which exactly one contender wins. The holder renews its record while it works and marks
it released at the end. A holder that dies stops renewing: once its record has expired, the
next contender takes the following generation. A holder that could not renew in time (say the
store was unreachable for longer than the lease) learns from `check()` that it may have lost
the lease, and stops writing.

Expiry compares wall clocks of different machines: a lease must last much longer than their skew.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from taar_assets.storage import (
    create_object,
    filesystem,
    full_path,
    get_object,
    list_names,
    put_object,
    remove_object,
)

LEASES_FOLDER = "_leases"


class LeaseHeld(RuntimeError):
    """Someone else holds the lease: the message names the holder and until when."""


class LeaseLost(RuntimeError):
    """The holder could not keep its lease: another may hold it now."""


@dataclass(frozen=True)
class LeaseRecord:
    owner: str  # who holds it; a second acquire by the same owner joins the lease
    holder: str  # for people: run, process and host
    acquired: float  # wall clock, seconds since the epoch
    expires: float
    released: bool = False

    def active(self, now: float) -> bool:
        return not self.released and now < self.expires

    def describe(self) -> str:
        return f"{self.holder} since {_clock(self.acquired)} (its lease runs to {_clock(self.expires)} unless renewed)"


def _clock(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Lease:
    """The lease `name` at `location`, held by `owner` for `seconds` at a time, renewed by a
    background thread every third of that while held."""

    def __init__(
        self,
        location: str,
        name: str,
        owner: str,
        seconds: float = 120.0,
        storage_options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        holder: str | None = None,
        description: str | None = None,
    ):
        self.fs, base = filesystem(location, storage_options)
        self.folder = f"{base}/{LEASES_FOLDER}/{name}"
        self.name, self.owner, self.seconds, self.timeout = name, owner, seconds, timeout
        self.holder = holder or owner
        self.description = description or f"the lease {name}"  # what it protects, for messages
        self.generation: int | None = None
        self.joined = False
        self._acquired = 0.0
        self._renewed_until = 0.0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @property
    def url(self) -> str:
        return full_path(self.fs, self.folder)

    def _path(self, generation: int) -> str:
        return f"{self.folder}/{generation:012d}.json"

    def _generations(self) -> list[int]:
        names = list_names(self.fs, self.folder, self.timeout)
        return sorted(int(name.removesuffix(".json")) for name in names if name.removesuffix(".json").isdigit())

    def _read(self, generation: int) -> LeaseRecord | None:
        data = get_object(self.fs, self._path(generation), self.timeout)
        return LeaseRecord(**json.loads(data)) if data else None

    def _write(self, generation: int, record: LeaseRecord, exclusive: bool = False) -> None:
        write = create_object if exclusive else put_object
        write(self.fs, self._path(generation), json.dumps(asdict(record)).encode(), self.timeout)

    def _record(self, now: float, released: bool = False) -> LeaseRecord:
        holder = f"{self.holder}, pid {os.getpid()} on {socket.gethostname()}"
        return LeaseRecord(self.owner, holder, self._acquired or now, now + self.seconds, released)

    # --- taking and giving back -------------------------------------------------------------

    def acquire(self, wait: float = 0.0) -> Lease:
        """Take the lease, waiting up to `wait` seconds for its holder to give it back;
        LeaseHeld (naming the holder) if it does not."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._try_acquire()
            except LeaseHeld:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(min(1.0, self.seconds / 4, max(0.05, deadline - time.monotonic())))

    def _try_acquire(self) -> Lease:
        generations = self._generations()
        current = generations[-1] if generations else 0
        record = self._read(current) if current else None
        if current and record is None:
            raise LeaseHeld(f"lease {self.url} changed while it was read")
        now = time.time()
        if record is not None and record.active(now):
            if record.owner == self.owner:  # the same owner again (another resource of its run)
                self.generation, self.joined = current, True
                return self
            raise LeaseHeld(f"{self.description} is held by {record.describe()}")
        mine = self._record(now)
        try:
            self._write(current + 1, mine, exclusive=True)
        except FileExistsError:
            theirs = self._read(current + 1)
            raise LeaseHeld(f"{self.description} was just taken by {theirs.describe() if theirs else 'another holder'}") from None
        self.generation, self._acquired, self._renewed_until = current + 1, now, mine.expires
        for old in generations[:-1]:  # history beyond the previous holder is of no use
            remove_object(self.fs, self._path(old), self.timeout)
        self._heartbeat = threading.Thread(target=self._renew_periodically, name=f"lease {self.url}", daemon=True)
        self._heartbeat.start()
        return self

    def release(self) -> None:
        """Give the lease back (a joined lease is given back by the one who took it). If the
        store cannot be reached, the lease runs out by itself."""
        if self.generation is None or self.joined:
            return
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        generation, self.generation = self.generation, None
        if self._lost is None:
            with contextlib.suppress(Exception):
                self._write(generation, self._record(time.time(), released=True))

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    # --- keeping it -------------------------------------------------------------------------

    def check(self) -> None:
        """LeaseLost unless the lease is still certainly this holder's (renewing it now if its
        renewals have fallen behind)."""
        if self.joined:
            return
        if self._lost is None and time.time() >= self._renewed_until:
            ran_out = self._renewed_until
            try:
                self.renew()
            except LeaseLost:
                raise
            except Exception:
                self._lost = f"it could not be renewed before it ran out at {_clock(ran_out)}"
        if self._lost is not None:
            raise LeaseLost(f"lost the lease {self.url}: {self._lost}")

    def renew(self) -> None:
        """Extend the lease by `seconds` from now; LeaseLost if a later holder has taken it."""
        newest = self._generations()
        if newest and newest[-1] != self.generation:
            self._lost = f"generation {newest[-1]} was taken while this holder had generation {self.generation}"
            raise LeaseLost(f"lost the lease {self.url}: {self._lost}")
        record = self._record(time.time())
        self._write(self.generation, record)
        self._renewed_until = record.expires

    def _renew_periodically(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except LeaseLost:
                return
            except Exception:  # the store may come back before the lease runs out; check() says if not
                continue
