"""A local GCS emulator for the tests: gcp-storage-emulator (pure Python) on 127.0.0.1, on a free port.

It runs as its own process and speaks Google Cloud Storage's JSON API over HTTP. Clients find
it the way production configuration would: through `STORAGE_EMULATOR_HOST` alone (gcsfs and
google-cloud-storage both read it), with anonymous credentials.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from taar_assets_tests.support.processes import HOST, free_port, stop

STARTUP_SECONDS = 30


@dataclass(frozen=True)
class LocalGcs:
    host: str  # http://127.0.0.1:<port>, the value of STORAGE_EMULATOR_HOST

    def create_bucket(self) -> str:
        """A new empty bucket with a unique name, so tests sharing the emulator stay independent."""
        name = f"taar-test-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(
            f"{self.host}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            return name


def _emulator_command() -> str:
    beside_python = Path(sys.executable).parent / "gcp-storage-emulator"
    found = str(beside_python) if beside_python.exists() else shutil.which("gcp-storage-emulator")
    if not found:
        raise RuntimeError("gcp-storage-emulator is not installed (pip install -e '.[dev]')")
    return found


@contextlib.contextmanager
def local_gcs_emulator(log_path: Path) -> Iterator[LocalGcs]:
    """Start the emulator in memory on 127.0.0.1 and stop it afterwards; its output goes to `log_path`."""
    port = free_port()
    host = f"http://{HOST}:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [_emulator_command(), "start", "--host", HOST, "--port", str(port), "--in-memory", "-q"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the GCS emulator exited with {process.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{host}/storage/v1/b?project=test", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the GCS emulator did not answer within {STARTUP_SECONDS} s; see {log_path}")
                time.sleep(0.05)
        yield LocalGcs(host)
    finally:
        stop(process, grace=10)
