"""Which failures a step retries: transient storage errors, and nothing else.

Dagster's RetryPolicy retries every failure, deterministic ones included (the same bad number
fails the same way three times), and even re-runs a step that Ctrl-C, SIGTERM or a terminate
from the UI stopped. So no asset has one: a transient storage error (network, throttling, 5xx,
a time-out) asks for a retry here, explicitly; everything else fails the run at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

from taar_assets.storage import is_transient

STEP_RETRIES = 3
FIRST_RETRY_DELAY = 2.0  # seconds, doubled at every retry


def worth_a_retry(error: Exception) -> bool:
    """Transient, as the error says itself (a PublishError knows) or as its causes show."""
    transient = getattr(error, "transient", None)
    return transient if isinstance(transient, bool) else is_transient(error)


@contextlib.contextmanager
def transient_errors_retried(previous_attempts: int) -> Iterator[None]:
    """Turn a transient error into a retry of the step (at most STEP_RETRIES, backing off).
    Interruptions (BaseException: Ctrl-C, SIGTERM, a terminated run) pass untouched."""
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as error:
        if not worth_a_retry(error):
            raise
        delay = FIRST_RETRY_DELAY * 2**previous_attempts
        raise dg.RetryRequested(max_retries=STEP_RETRIES, seconds_to_wait=delay) from error
