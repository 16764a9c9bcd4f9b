"""The failure notification: what it says, and how it reaches a webhook on 127.0.0.1."""

import pytest

from taar_assets.monitoring.notify import WebhookError, failure_notification, post_json
from taar_assets_tests.support.webhook_server import webhook_receiver


def test_the_notification_names_the_job_day_run_and_error_and_links_to_the_run():
    body = failure_notification("similarity_job", "abc123", "2026-11-20", "whitelist missing", "http://dagster:3000/")
    assert body["text"] == (
        "taar_assets: similarity_job for 2026-11-20 failed (run abc123): whitelist missing "
        "http://dagster:3000/runs/abc123"
    )
    assert body["run_url"] == "http://dagster:3000/runs/abc123" and body["partition"] == "2026-11-20"
    assert failure_notification("job", "r", None, "boom")["run_url"] is None


def test_post_json_delivers_the_body():
    with webhook_receiver() as webhook:
        post_json(webhook.url, {"text": "hello"})
    [received] = webhook.bodies
    assert received == {"path": "/hooks/secret-token", "content_type": "application/json", "text": "hello"}


def test_a_refusing_webhook_is_an_error_that_does_not_leak_its_token():
    with webhook_receiver(status=500) as webhook, pytest.raises(WebhookError) as error:
        post_json(webhook.url, {"text": "hello"})
    assert "HTTP 500" in str(error.value) and "127.0.0.1" in str(error.value)
    assert "secret-token" not in str(error.value)
