"""Generalisation of published donor profiles (docs/behaviour.md §3.5): no donor unique on its categoricals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

UNKNOWN = "??"  # clients_daily's own spelling of an unknown city


def generalise_categories(
    frame: pd.DataFrame, columns: Sequence[str], k: int
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Make every combination of `columns` shared by at least `k` rows (k-anonymity).

    Values are replaced by "??" one column at a time, in the order given (most identifying
    first, e.g. city, then os, then locale): at each step the rows whose combination is held
    by fewer than k rows lose that column's value. If the fully generalised group still ends
    with fewer than k rows, the smallest remaining groups are folded into it whole.
    Returns the new frame and the number of values replaced per column.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(frame) < k:
        raise ValueError(f"cannot make {len(frame)} rows {k}-anonymous: fewer rows than k")
    result = frame.copy()
    for column in columns:
        result[column] = result[column].astype(object).where(result[column].notna(), None)
    replaced = dict.fromkeys(columns, 0)
    key_columns = list(columns)

    def group_sizes() -> pd.Series:
        return result.groupby(key_columns, dropna=False)[key_columns[0]].transform("size")

    for column in columns:
        rare = (group_sizes() < k) & (result[column] != UNKNOWN)
        replaced[column] += int(rare.sum())
        result.loc[rare, column] = UNKNOWN
    fully_generalised = np.logical_and.reduce([result[c] == UNKNOWN for c in columns])
    while 0 < fully_generalised.sum() < k:
        # Fold the smallest other group into the "?? ?? ??" group. Groups are told apart by
        # their id, not by comparing values: a missing value equals nothing, not even itself.
        groups = result.groupby(key_columns, dropna=False).ngroup().to_numpy()
        sizes = group_sizes()
        smallest = sizes[~fully_generalised].idxmin()
        members = (groups == groups[result.index.get_loc(smallest)]) & ~fully_generalised
        for column in columns:
            replaced[column] += int((members & (result[column] != UNKNOWN)).sum())
            result.loc[members, column] = UNKNOWN
        fully_generalised = fully_generalised | members
    return result, replaced


def smallest_group(frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """The size of the rarest combination of `columns` (the k the frame is anonymous for)."""
    return int(frame.groupby(list(columns), dropna=False).size().min())


def round_significant(values: pd.Series, digits: int) -> pd.Series:
    """Round to `digits` significant digits, so exact engagement counts are not published."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    magnitude = np.floor(np.log10(np.abs(numbers), where=numbers != 0, out=np.zeros_like(numbers)))
    scale = 10.0 ** (digits - 1 - magnitude)
    rounded = np.where(np.isfinite(numbers), np.round(numbers * scale) / scale, numbers)
    return pd.Series(rounded, index=values.index, name=values.name)
