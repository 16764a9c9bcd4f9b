"""Announce every failed run of the code location on the configured webhook (TAAR_ALERT_WEBHOOK)."""

import dagster as dg

from taar_assets.resources import AlertWebhook


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="POSTs each failed run (job, partition, error, link) to TAAR_ALERT_WEBHOOK.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook):
    run = context.dagster_run
    error = context.failure_event.message or "the run failed"
    step_errors = [
        f"{event.step_key}: {_root_cause(event.event_specific_data.error)}" for event in context.get_step_failure_events()
    ]
    announced = alert_webhook.announce_failure(
        run.job_name, run.run_id, run.tags.get("dagster/partition"), "; ".join(step_errors) or error
    )
    if announced:
        context.log.info(f"announced the failure of run {run.run_id}")
    else:
        context.log.info(f"run {run.run_id} failed; TAAR_ALERT_WEBHOOK is not set, nobody was told")


def _root_cause(error) -> str:
    """The innermost error: Dagster wraps the stage's own exception in its step error."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()
