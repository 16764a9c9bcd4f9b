"""Reproducible randomness: every random draw gets its own stream, derived from the partition."""

from __future__ import annotations

import hashlib

import numpy as np


def partition_seed(partition_key: str, configured: int | None = None) -> int:
    """The run's root seed: the configured one, else a stable hash of the partition key."""
    if configured is not None:
        return int(configured)
    return int.from_bytes(hashlib.sha256(f"taar:{partition_key}".encode()).digest()[:4], "little")


def stage_rng(root_seed: int, stage: str) -> np.random.Generator:
    """An independent generator per stage, so no two draws share a seed (docs/behaviour.md §9)."""
    stage_key = int.from_bytes(hashlib.sha256(stage.encode()).digest()[:4], "little")
    return np.random.default_rng(np.random.SeedSequence([root_seed, stage_key]))


def stage_seed(root_seed: int, stage: str) -> int:
    """An integer seed for libraries that take one (e.g. scikit-learn's random_state)."""
    return int(stage_rng(root_seed, stage).integers(0, 2**31 - 1))
