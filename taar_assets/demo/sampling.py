"""Seeded random streams and the vectorised draws the demo generator shares."""

from __future__ import annotations

import numpy as np


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _pick(rng: np.random.Generator, cumulative: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per row from the distribution `cumulative[rows]` (one CDF per row)."""
    u = rng.random(len(rows))[:, None]
    choice = (u >= cumulative[rows]).sum(axis=1)
    return np.minimum(choice, cumulative.shape[1] - 1)


def _cdf(weights) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(weights, axis=-1)
    return cdf / cdf[..., -1:]


def _uuid4(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random version-4 UUID strings as an (n, 36) uint8 array of ASCII."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hex_pairs = np.frombuffer("".join(f"{i:02x}" for i in range(256)).encode(), np.uint8).reshape(256, 2)
    digits = hex_pairs[raw].reshape(n, 32)
    out = np.full((n, 36), ord("-"), np.uint8)
    # 8-4-4-4-12 hex digits; each group moves right by the number of dashes before it.
    for dashes, (start, width) in enumerate(((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))):
        out[:, start + dashes : start + dashes + width] = digits[:, start : start + width]
    return out
