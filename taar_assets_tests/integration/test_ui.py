"""End to end through the UI: `dg dev` (webserver + daemon) on 127.0.0.1, driven by headless Chromium.

From the asset graph of the `similarity` group it materialises one partition and launches a
backfill of a 3-day range, turns the schedule on from the Automation page, and checks every
outcome through the GraphQL API and the published files. Screenshots of each step, the server's
log and the browser console go to test-artifacts/ui/.

Needs the Debian `chromium` package (/usr/bin/chromium) and the Python `playwright` package
(.ci/run installs both; never `playwright install`). Without them the test fails, it does not skip.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from taar_assets_tests.support.ui_server import (
    PROJECT,
    chromium,
    dagster_dev,
    require_browser,
    wait_for,
)

ARTIFACTS = PROJECT / "test-artifacts" / "ui"
GROUP = "similarity"
SCHEDULE = "similarity_job_schedule"
SINGLE_DAY = "2026-11-20"
RANGE = ("2026-11-17", "2026-11-19")
RANGE_DAYS = ["2026-11-17", "2026-11-18", "2026-11-19"]
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
RUN_TIMEOUT = 180  # seconds; one partition takes ~6 s here
BACKFILL_TIMEOUT = 240  # the daemon picks the backfill up within ~20 s; the 3-day run takes ~15 s

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
    ... on PythonError { message }
  }
}
"""
BACKFILLS_QUERY = """
{
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills {
      results {
        id status numPartitions isAssetBackfill
        runs { runId status tags { key value } }
      }
    }
    ... on PythonError { message }
  }
}
"""
REPOSITORIES_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""
SCHEDULE_QUERY = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { name scheduleState { status } }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def browser_available():
    require_browser()


@pytest.fixture
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture
def dagster_server(browser_available, artifacts, settings, tmp_path):
    """dg dev on a free port of 127.0.0.1; stopped (SIGINT to its process group) even on failure."""
    with dagster_dev(settings, tmp_path / "dagster_home", artifacts / "dg-dev.log") as server:
        yield server


@pytest.fixture
def page(dagster_server, artifacts, tmp_path):
    console = []
    with chromium(tmp_path / "chromium-profile") as page:
        page.set_default_timeout(30_000)
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        try:
            yield page
        finally:
            (artifacts / "browser-console.log").write_text("\n".join(console) + "\n")


class Screenshots:
    def __init__(self, page, folder: Path):
        self.page, self.folder, self.count = page, folder, 0

    def __call__(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"))


def repository_address(server) -> tuple[str, str, str]:
    """(location, repository, the URL segment of the repository) of the only code location."""
    nodes = server.graphql(REPOSITORIES_QUERY)["repositoriesOrError"]["nodes"]
    assert len(nodes) == 1, nodes
    location, repository = nodes[0]["location"]["name"], nodes[0]["name"]
    segment = location if repository == "__repository__" else f"{repository}@{location}"
    return location, repository, segment


def tags_of(run) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}


def single_day_runs(server) -> list[dict]:
    """The runs of SINGLE_DAY not launched by a backfill, oldest first."""
    data = server.graphql(RUNS_QUERY, {"filter": {"tags": [{"key": "dagster/partition", "value": SINGLE_DAY}]}})
    runs = data["runsOrError"]
    assert runs["__typename"] == "Runs", runs
    return [run for run in reversed(runs["results"]) if "dagster/backfill" not in tags_of(run)]


def backfills(server) -> list[dict]:
    data = server.graphql(BACKFILLS_QUERY)["partitionBackfillsOrError"]
    assert data["__typename"] == "PartitionBackfills", data
    return data["results"]


def open_materialize_dialog(page):
    page.get_by_role("button", name=re.compile(r"Materialize all")).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Partition selection").wait_for()
    assert re.search(r"materialize \d+ assets", dialog.inner_text()), dialog.inner_text()
    # The launchpad shows the last 90 days only; make every partition selectable whatever today is.
    show_all = dialog.get_by_role("button", name="Show all partitions")
    if show_all.is_visible():
        show_all.click()
        show_all.wait_for(state="hidden")
    return dialog


def select_partitions(dialog, text: str, count_label: str) -> None:
    box = dialog.get_by_role("textbox").first
    box.fill(text)
    box.press("Enter")
    dialog.get_by_text(count_label, exact=True).wait_for()


@pytest.mark.timeout(600)
def test_materialise_backfill_and_schedule_from_the_ui(dagster_server, page, artifacts, settings):
    server = dagster_server
    today = dt.datetime.now(dt.UTC).date()
    assert today > dt.date.fromisoformat(SINGLE_DAY), (
        f"the clock says {today}: partition {SINGLE_DAY} does not exist yet (partitions end yesterday)"
    )
    shot = Screenshots(page, artifacts)
    location, repository, segment = repository_address(server)
    try:
        # The asset graph: the sources and the similarity group, then the group's own graph.
        page.goto(f"{server.url}/asset-groups")
        page.get_by_text("Global asset lineage").wait_for()
        page.get_by_text(GROUP, exact=True).first.wait_for()
        shot("global-asset-lineage")
        page.goto(f"{server.url}/locations/{segment}/asset-groups/{GROUP}")
        for asset in [
            "amo_whitelist",
            "samples",
            "addons_per_client",
            "clusters",
            "donor_pool",
            "lr_curves",
            "similarity_model",
        ]:
            page.get_by_text(asset, exact=True).first.wait_for()
        shot("similarity-group-graph")

        # One partition: Materialize all -> 2026-11-20 -> Launch 1 run.
        dialog = open_materialize_dialog(page)
        shot("materialize-dialog")
        select_partitions(dialog, SINGLE_DAY, "1 partition")
        shot("one-partition-selected")
        dialog.get_by_role("button", name="Launch 1 run").click()
        page.get_by_text(re.compile(r"Launched run \w+")).wait_for()
        shot("run-launched")

        # A backfill of 3 days: Materialize all -> [start...end] -> Launch backfill.
        dialog = open_materialize_dialog(page)
        select_partitions(dialog, f"[{RANGE[0]}...{RANGE[1]}]", "3 partitions")
        dialog.get_by_role("button", name="Preview").click()
        preview = page.get_by_role("dialog").filter(has_text="Backfill preview")
        preview.get_by_text(f"{RANGE[0]}...{RANGE[1]}").first.wait_for()
        shot("backfill-preview")
        preview.get_by_role("button", name="OK").click()
        preview.wait_for(state="hidden")
        shot("range-selected")
        dialog.get_by_role("button", name="Launch backfill").click()
        page.get_by_text(re.compile(r"Created backfill \w+")).wait_for()
        shot("backfill-created")

        # The single run, through GraphQL.
        runs = wait_for(
            lambda: [run for run in single_day_runs(server) if run["status"] in TERMINAL_RUN],
            RUN_TIMEOUT,
            f"the run of {SINGLE_DAY} to finish",
        )
        assert runs[0]["status"] == "SUCCESS", f"run {runs[0]['runId']}: {runs[0]['status']}\n{server.log_tail()}"
        assert tags_of(runs[0]).get("dagster/from_ui") == "true"

        # The backfill and its runs, through GraphQL.
        [backfill] = backfills(server)
        assert backfill["isAssetBackfill"] and backfill["numPartitions"] == 3, backfill
        backfill = wait_for(
            lambda: next((b for b in backfills(server) if b["status"] in TERMINAL_BACKFILL), None),
            BACKFILL_TIMEOUT,
            f"backfill {backfill['id']} to complete",
        )
        assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, f"{backfill}\n{server.log_tail()}"
        assert backfill["runs"] and all(run["status"] == "SUCCESS" for run in backfill["runs"]), backfill
        # Every asset has a single-run backfill policy: one run covers the whole range.
        ranges = {
            (
                tags_of(run).get("dagster/asset_partition_range_start"),
                tags_of(run).get("dagster/asset_partition_range_end"),
            )
            for run in backfill["runs"]
        }
        assert ranges == {RANGE}, ranges

        page.goto(f"{server.url}/runs/b/{backfill['id']}")
        page.get_by_text("Succeeded", exact=True).first.wait_for()
        shot("backfill-succeeded")
        page.goto(f"{server.url}/runs")
        page.get_by_text(backfill["id"], exact=True).first.wait_for()
        shot("runs")

        # The published model: a dated archive per day.
        published = {path.name for path in Path(settings.publish).iterdir()}
        for day in [*RANGE_DAYS, SINGLE_DAY]:
            stamp = day.replace("-", "")
            assert {f"donors{stamp}.json", f"lr_curves{stamp}.json", f"manifest{stamp}.json"} <= published, (
                day,
                sorted(published),
            )
        assert {"donors.json", "lr_curves.json", "manifest.json"} <= published

        # The schedule: Automation -> similarity_job_schedule -> the "Running" switch.
        selector = {"repositoryLocationName": location, "repositoryName": repository, "scheduleName": SCHEDULE}

        def schedule_status() -> str:
            result = server.graphql(SCHEDULE_QUERY, {"selector": selector})["scheduleOrError"]
            assert result["__typename"] == "Schedule", result
            return result["scheduleState"]["status"]

        assert schedule_status() == "STOPPED"
        page.goto(f"{server.url}/automation")
        page.get_by_role("link", name=SCHEDULE).wait_for()
        page.get_by_text("Scheduled At", exact=False).first.wait_for()  # the row has finished loading
        shot("automation")
        page.get_by_role("link", name=SCHEDULE).click()
        running_row = page.get_by_role("row").filter(has=page.get_by_text("Running", exact=True))
        switch = running_row.get_by_role("checkbox")
        switch.wait_for(state="attached")
        page.wait_for_function("input => !input.disabled", arg=switch.element_handle())
        assert not switch.is_checked()
        shot("schedule-stopped")
        running_row.locator("label").click()  # the switch's input is visually hidden; its label is not
        wait_for(lambda: schedule_status() == "RUNNING", 30, f"{SCHEDULE} to be RUNNING", interval=0.5)
        # The UI agrees once the mutation has returned: switch on and enabled, next tick shown.
        page.wait_for_function("input => input.checked && !input.disabled", arg=switch.element_handle())
        page.get_by_text("Next tick").wait_for()
        shot("schedule-running")
    except BaseException:
        shot("failure")
        raise
