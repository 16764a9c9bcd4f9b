"""Telling someone that a run failed: a JSON POST to a webhook (no Dagster).

The body carries a `text` line (what Slack's and Mattermost's incoming webhooks display) and the
same facts as fields for any other receiver. Errors name the webhook by scheme and host only:
its path often holds the secret token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 10


class WebhookError(RuntimeError):
    """The webhook could not be reached or refused the notification."""


def failure_notification(
    job: str, run_id: str, partition: str | None, error: str, ui_url: str | None = None
) -> dict[str, Any]:
    """The body announcing that run `run_id` of `job` failed with `error`."""
    run_url = f"{ui_url.rstrip('/')}/runs/{run_id}" if ui_url else None
    day = f" for {partition}" if partition else ""
    text = f"taar_assets: {job}{day} failed (run {run_id}): {error}" + (f" {run_url}" if run_url else "")
    return {"text": text, "job": job, "run_id": run_id, "partition": partition, "error": error, "run_url": run_url}


def post_json(url: str, body: dict[str, Any], timeout: float = TIMEOUT_SECONDS) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise WebhookError(f"webhook {_host(url)} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise WebhookError(f"webhook {_host(url)} could not be reached: {getattr(error, 'reason', error)}") from None


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
