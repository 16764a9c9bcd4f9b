"""`DemoSpec`: what to generate, and its validation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: `days` day folders ending on `end_date`, `clients` clients in `groups`."""

    clients: int = 20_000
    days: int = 120  # number of day folders written, ending on end_date inclusive
    end_date: dt.date | None = None  # None -> yesterday (UTC)
    groups: int = 32  # planted taste groups (personas)
    whitelist_size: int = 200
    seed: int = 0
    # At least this share of the days between a client's first and last day have a row (None:
    # the default mix, about 6 rows per client in a 90-day window; 0.5 gives about 30).
    daily_activity: float | None = None


def _validate(spec: DemoSpec) -> None:
    for name, minimum in (("clients", 1), ("days", 1), ("groups", 1), ("whitelist_size", 30), ("seed", 0)):
        value = getattr(spec, name)
        if not isinstance(value, int) or value < minimum:
            raise ValueError(f"DemoSpec.{name} must be an integer >= {minimum}, got {value!r}")
    if spec.daily_activity is not None and not 0 < spec.daily_activity <= 1:
        raise ValueError(f"DemoSpec.daily_activity must be in (0, 1] or None, got {spec.daily_activity!r}")
    # A datetime is a date too, but day arithmetic with it would mix in the time of day.
    if spec.end_date is not None and (not isinstance(spec.end_date, dt.date) or isinstance(spec.end_date, dt.datetime)):
        raise ValueError(f"DemoSpec.end_date must be a date or None, got {spec.end_date!r}")
