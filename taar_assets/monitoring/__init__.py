"""Watching the pipeline, as plain functions (no Dagster): when a day of input is complete
(`arrival`), how much the published model moved since the day before (`drift`, scored on a
fixed panel of client profiles, `panel`), and telling someone when a run fails (`notify`)."""
