"""`dg dev` (webserver + daemon) on 127.0.0.1 for the UI test, and headless system Chromium.

The server runs in its own process group with a temporary DAGSTER_HOME holding a copy of the
project's instance file (deploy/dagster.yaml); it is stopped with SIGINT to the whole group (it ignores SIGTERM), then
SIGKILL if anything is still alive, so no webserver, daemon, code server or run worker outlives
the test, even when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taar_assets_tests.support.processes import HOST, free_port

PROJECT = Path(__file__).resolve().parents[2]
INSTANCE_FILE = PROJECT / "deploy" / "dagster.yaml"
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MISSING_BROWSER = (
    "the UI test needs the Debian chromium package (/usr/bin/chromium) and the Python playwright "
    "package: `apt-get install -y chromium` and `.venv/bin/python -m pip install playwright` "
    "(never `playwright install`; .ci/run installs both)"
)


def server_environment(settings, dagster_home: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of `dg dev`: the test's data locations, a fresh DAGSTER_HOME, then `overrides`."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_FILE, dagster_home / "dagster.yaml")
    # Only the test's configuration: no TAAR_* or S3 endpoint leaking in from the outer shell.
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TAAR_") and name not in ("AWS_ENDPOINT_URL", "AWS_PROFILE")
    }
    environment.update(
        {
            "TAAR_CLIENTS_DAILY": settings.clients_daily,
            "TAAR_WHITELIST": settings.whitelist,
            "TAAR_STORAGE": settings.storage,
            "TAAR_PUBLISH": settings.publish,
            "TAAR_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
            "DAGSTER_HOME": str(dagster_home),
            "PYTHONUNBUFFERED": "1",
            # dg warns when the active virtual environment is not the project's.
            "VIRTUAL_ENV": str(BIN.parent),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            **(overrides or {}),
        }
    )
    return environment


@dataclass
class DagsterServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 30) -> dict:
        """POST a query to /graphql and return its `data`; raise on transport or GraphQL errors."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]


def wait_for(check, timeout: float, what: str, interval: float = 2.0):
    """Call check() until it returns something truthy; return that, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _wait_until_up(server: DagsterServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dg dev exited with {server.process.returncode} before serving:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"dg dev did not answer {server.url}/server_info within {timeout:.0f}s:\n{server.log_tail()}")


def _wait_until_loaded(server: DagsterServer, timeout: float) -> None:
    """Wait until the code location is loaded (the webserver answers before that)."""
    query = """
    { workspaceOrError { __typename ... on Workspace { locationEntries {
        name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
    } } } }
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        data = server.graphql(query)
        last = data["workspaceOrError"]
        entries = last.get("locationEntries") or []
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise RuntimeError(f"the code location failed to load: {errors}")
            return
        time.sleep(0.5)
    raise TimeoutError(f"the code location did not load within {timeout:.0f}s: {last}")


def _parent_death_signal():
    """libc's prctl, resolved in the parent so that the forked child only calls it (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _parent_death_signal()
_PR_SET_PDEATHSIG = 1


def _prepare_child() -> None:
    """In the child before exec: make SIGINT stop dg dev, also when the test process dies.

    A shell starts background jobs with SIGINT ignored and children inherit that, so a pytest run
    with `&` would give a dg dev deaf to SIGINT: restore the default so Python installs its
    KeyboardInterrupt handler. Then ask Linux for a SIGINT when the test process dies, even by
    SIGKILL: a safety net, the fixture's teardown is the normal path. It runs between fork and
    exec, so it stays minimal: no import, no lookup, prctl was resolved in the parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGINT))


def _stop(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGINT to the server's process group, wait, then SIGKILL whatever is left of the group."""
    pgid = process.pid  # start_new_session=True: the group id is the leader's pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGINT)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    # Children (daemon, code server, run workers) may outlive the leader for a moment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@contextlib.contextmanager
def dagster_dev(
    settings, dagster_home: Path, log_path: Path, startup_timeout: float = 120, environment: Mapping[str, str] | None = None
) -> Iterator[DagsterServer]:
    """`dg dev -h 127.0.0.1 -p <free port>` from the project root, stopped on exit."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "dg"), "dev", "-h", HOST, "-p", str(port)],
            cwd=PROJECT,
            env=server_environment(settings, dagster_home, environment),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_prepare_child,  # noqa: PLW1509 -- minimal, see _prepare_child
        )
    server = DagsterServer(url=f"http://{HOST}:{port}", process=process, log_path=log_path)
    try:
        _wait_until_up(server, startup_timeout)
        _wait_until_loaded(server, startup_timeout)
        yield server
    finally:
        _stop(process)


def require_browser() -> None:
    """Fail (not skip) with instructions when the system Chromium or playwright is missing."""
    import importlib.util

    import pytest

    if not Path(CHROMIUM).exists() or importlib.util.find_spec("playwright") is None:
        pytest.fail(MISSING_BROWSER, pytrace=False)


@contextlib.contextmanager
def chromium(user_data_dir: Path, viewport=(1600, 1000)) -> Iterator[Any]:
    """A page of headless system Chromium with a fresh profile (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()
