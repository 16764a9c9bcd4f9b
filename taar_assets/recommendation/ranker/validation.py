"""Checks for the ranker's frozen dataclasses: each reads one field, normalises it in place and
raises a TypeError or ValueError that names the field (``RankerConfig.linear_bar must be ...``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def _fail(owner: object, name: str, requirement: str, value: object, error=ValueError) -> None:
    raise error(f"{type(owner).__name__}.{name} {requirement}, got {value!r}")


def _reject_unknown_keys(cls: type, values: Mapping[str, Any]) -> None:
    if not isinstance(values, Mapping):
        raise TypeError(f"{cls.__name__} configuration must be a mapping, got {values!r}")
    known = [config_field.name for config_field in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} key(s) {unknown}; known keys: {known}")


def _check_bool(owner: object, name: str) -> None:
    value = getattr(owner, name)
    if not isinstance(value, bool):
        _fail(owner, name, "must be a bool", value, error=TypeError)


def _check_integer(owner: object, name: str, *, minimum: int) -> None:
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _fail(owner, name, "must be an integer", value, error=TypeError)
    if value < minimum:
        _fail(owner, name, f"must be >= {minimum}", value)
    object.__setattr__(owner, name, int(value))


def _check_real(
    owner: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    allow_infinite: bool = False,
) -> None:
    """A real number (not bool, not NaN; finite unless allowed) within the bounds, stored as
    a Python float."""
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        _fail(owner, name, "must be a number", value, error=TypeError)
    if math.isnan(value) or (math.isinf(value) and not allow_infinite):
        _fail(owner, name, "must be finite" if not allow_infinite else "must not be NaN", value)
    if minimum is not None and value < minimum:
        _fail(owner, name, f"must be >= {minimum}", value)
    if maximum is not None and value > maximum:
        _fail(owner, name, f"must be <= {maximum}", value)
    object.__setattr__(owner, name, float(value))


def _check_choice(owner: object, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(owner, name)
    if value not in choices:
        _fail(owner, name, f"must be one of {list(choices)}", value)


def _check_type_name(owner: object, name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        _fail(owner, name, "must be a non-empty candidate type name", value, error=TypeError)


def _check_type_tuple(owner: object, name: str) -> None:
    value = getattr(owner, name)
    # A bare string would silently become a tuple of its characters.
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        _fail(owner, name, "must be a list or tuple of candidate type names", value,
              error=TypeError)
    for type_name in value:
        _check_type_name(owner, name, type_name)
    object.__setattr__(owner, name, tuple(value))
