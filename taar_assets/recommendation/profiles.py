"""Clients as the TAAR service sees them: profiles built from the pipeline's samples."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from taar_assets.similarity.features import FEATURES, PROFILE_FIELDS, Feature
from taar_assets.similarity.model_input import validate_profile


def profile_from_json(line: bytes | str) -> tuple[str | None, dict]:
    """(client_id, profile) of one JSON-lines profile; ValueError or TypeError (ProfileError
    among them) naming the problem when it cannot be scored."""
    profile = json.loads(line)
    if not isinstance(profile, dict):
        raise TypeError(f"expected a JSON object, got {type(profile).__name__}")
    client_id = profile.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise TypeError(f"client_id must be a string, got {client_id!r}")
    validate_profile(profile)
    return client_id, profile


def profiles_from_samples(samples: pd.DataFrame, installed: Sequence[Iterable[str]]) -> list[dict[str, Any]]:
    """Client profiles as the TAAR service sees them, one per row of ``samples``.

    ``samples`` has the samples stage's feature columns; ``installed`` the add-ons of each row.
    The profile uses the service's keys and units (``PROFILE_FIELDS``: ``geo_city``,
    ``subsession_length`` in seconds, ...) and ``installed_addons``; missing values are None.
    """
    if len(installed) != len(samples):
        raise ValueError(f"installed has {len(installed)} lists for {len(samples)} sample rows")

    def column(feature: Feature) -> list:
        values = samples[feature.name].to_numpy(dtype=object)
        missing = pd.isna(values)
        if feature.kind == "categorical":
            return [None if gone else str(value) for value, gone in zip(values, missing)]
        return [None if gone else float(value) * feature.service_scale for value, gone in zip(values, missing)]

    by_key = {feature.service_key: feature for feature in FEATURES}
    columns = {key: column(by_key[key]) for key in PROFILE_FIELDS}
    return [
        {**{name: values[row] for name, values in columns.items()}, "installed_addons": [str(g) for g in addons]}
        for row, addons in enumerate(installed)
    ]


def with_samples(addons_per_client: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """The clients of ``addons_per_client`` found in ``samples``, with their sample columns
    (not the raw ``active_addons``), in client id order (so results do not depend on row order)."""
    joined = addons_per_client.merge(samples.drop(columns="active_addons", errors="ignore"), on="client_id")
    return joined.sort_values("client_id", ignore_index=True)
