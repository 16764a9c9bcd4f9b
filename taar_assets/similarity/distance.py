"""The TAAR client-to-client distance (docs/behaviour.md §4), vectorised.

For clients x and y with categorical features k (None -> "") and continuous features c
(None -> 0):

    d(x, y) = |(canberra(c_x, c_y) + 0.001) * hamming(k_x, k_y)|

canberra is sum(|a - b| / (|a| + |b|)) where 0/0 terms count 0, hamming the fraction of
unequal categorical values. The result equals the original job's
``abs((scipy.spatial.distance.canberra(...) + 0.001) * scipy.spatial.distance.hamming(...))``
computed one pair at a time, but over whole arrays at once.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd

from taar_assets.similarity.features import CATEGORICAL_FEATURES, CONTINUOUS_FEATURES, MISSING_CATEGORY, MISSING_NUMBER

# Added to canberra so that clients equal on every continuous feature but different on a
# categorical one still get a non-zero distance (the original job's constant).
CANBERRA_OFFSET = 0.001


def feature_matrices(
    frame: pd.DataFrame,
    categorical: Sequence[str] = CATEGORICAL_FEATURES,
    continuous: Sequence[str] = CONTINUOUS_FEATURES,
) -> tuple[np.ndarray, np.ndarray]:
    """Extract the distance features of every row of ``frame``.

    Returns ``(categorical_matrix, continuous_matrix)``: an ``(n, len(categorical))`` array
    of ``str`` with missing values as ``""`` and an ``(n, len(continuous))`` float64 array
    with missing values as 0. ``categorical``/``continuous`` name the columns to read, so a
    frame in another layout (e.g. ``geo_city``, ``subsession_length``) can be used.

    Raises ValueError naming any missing column, a continuous column that is not numeric,
    or one holding an infinite value.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    categorical = _column_names(categorical, "categorical")
    continuous = _column_names(continuous, "continuous")
    missing = [name for name in (*categorical, *continuous) if name not in frame.columns]
    if missing:
        raise ValueError(
            f"frame is missing feature column(s) {missing}; it has {list(frame.columns)}"
        )

    categorical_values = frame[list(categorical)].to_numpy(dtype=object)
    categorical_values[pd.isna(categorical_values)] = MISSING_CATEGORY
    categorical_matrix = categorical_values.astype(str)

    continuous_matrix = np.empty((len(frame), len(continuous)), dtype=np.float64)
    for position, name in enumerate(continuous):
        try:
            numbers = pd.to_numeric(frame[name])
        except (TypeError, ValueError) as error:
            raise ValueError(f"continuous feature column {name!r} is not numeric: {error}") from None
        column = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(column).any():
            raise ValueError(f"continuous feature column {name!r} holds infinite values")
        continuous_matrix[:, position] = np.nan_to_num(column, nan=MISSING_NUMBER)
    return categorical_matrix, continuous_matrix


def paired_distances(
    cat_x: np.ndarray, cont_x: np.ndarray, cat_y: np.ndarray, cont_y: np.ndarray
) -> np.ndarray:
    """Distance between row i of x and row i of y, for every i (float64 array of length n).

    ``cat_*`` are ``(n, k)`` categorical matrices and ``cont_*`` ``(n, c)`` continuous
    matrices as returned by :func:`feature_matrices`.
    """
    cat_x, cont_x = _checked_pair("x", cat_x, cont_x, ndim=2)
    cat_y, cont_y = _checked_pair("y", cat_y, cont_y, ndim=2)
    if cat_x.shape != cat_y.shape or cont_x.shape != cont_y.shape:
        raise ValueError(
            "x and y must have the same shapes, got categorical "
            f"{cat_x.shape} vs {cat_y.shape} and continuous {cont_x.shape} vs {cont_y.shape}"
        )
    return _distances(cat_x, cont_x, cat_y, cont_y)


def distances_to_one(
    cat_one: np.ndarray, cont_one: np.ndarray, cat_many: np.ndarray, cont_many: np.ndarray
) -> np.ndarray:
    """Distance from one client to each of many clients (e.g. every donor).

    ``cat_one``/``cont_one`` are 1-D feature vectors of one client; ``cat_many``/``cont_many``
    the ``(m, k)``/``(m, c)`` matrices of the others. Returns a float64 array of length m.
    """
    cat_one, cont_one = _checked_pair("one", cat_one, cont_one, ndim=1)
    cat_many, cont_many = _checked_pair("many", cat_many, cont_many, ndim=2)
    if cat_one.shape[0] != cat_many.shape[1] or cont_one.shape[0] != cont_many.shape[1]:
        raise ValueError(
            "the one client and the many clients must have the same number of features, got "
            f"categorical {cat_one.shape[0]} vs {cat_many.shape[1]} and continuous "
            f"{cont_one.shape[0]} vs {cont_many.shape[1]}"
        )
    # Broadcasting the single row against the matrix avoids materialising m copies of it.
    return _distances(cat_one[np.newaxis, :], cont_one[np.newaxis, :], cat_many, cont_many)


def _distances(cat_a, cont_a, cat_b, cont_b) -> np.ndarray:
    numerators = np.abs(cont_a - cont_b)
    denominators = np.abs(cont_a) + np.abs(cont_b)
    # A 0/0 term (both values 0) counts 0, as scipy's canberra does.
    terms = np.divide(
        numerators, denominators, out=np.zeros_like(numerators), where=denominators > 0
    )
    canberra = terms.sum(axis=1)
    hamming = (cat_a != cat_b).mean(axis=1)
    return np.abs((canberra + CANBERRA_OFFSET) * hamming)


def _checked_pair(label: str, categorical, continuous, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    categorical = np.asarray(categorical)
    continuous = np.asarray(continuous, dtype=np.float64)
    for name, array in ((f"cat_{label}", categorical), (f"cont_{label}", continuous)):
        if array.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    if ndim == 2 and categorical.shape[0] != continuous.shape[0]:
        raise ValueError(
            f"cat_{label} and cont_{label} must have the same number of rows, got "
            f"{categorical.shape[0]} and {continuous.shape[0]}"
        )
    if categorical.shape[-1] == 0:
        raise ValueError(f"cat_{label} has no categorical features; the distance needs at least one")
    if not np.isfinite(continuous).all():
        raise ValueError(f"cont_{label} contains NaN or infinite values; use feature_matrices to fill them")
    return categorical, continuous


def _column_names(names: Sequence[str], argument: str) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise TypeError(f"{argument} must be a sequence of column names, got {names!r}")
    if not names:
        raise ValueError(f"{argument} must name at least one column")
    return tuple(names)
