"""Every (client, add-on) pair a client has at some point in the window.

Valid add-ons come from the client's group taste; around them sit the dirt (disabled,
sideloaded, system, themes, dictionaries, non-whitelisted) and hoarders with 110+ add-ons.
Each entry carries its flags and the window days it is installed and removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taar_assets.demo.catalog import _Catalog, _non_whitelisted_popularity
from taar_assets.demo.population import _Clients, _Groups
from taar_assets.demo.sampling import _cdf, _pick, _rng
from taar_assets.demo.spec import DemoSpec
from taar_assets.demo.tables import (
    APP_DISABLED,
    BLOCKLISTED,
    BLOCKLISTED_PROBABILITY,
    DICTIONARY_PROBABILITY,
    DIRTY_WHITELISTED_PER_CLIENT,
    FEW_VALID_SHARE,
    FOREIGN_INSTALL,
    HOARDER_SHARE,
    LATE_INSTALL_PROBABILITY,
    NEVER,
    NEVER_CHANGES,
    NON_WHITELISTED_EXTENSIONS,
    NON_WHITELISTED_PER_CLIENT,
    REMOVAL_PROBABILITY,
    STREAM_ENTRIES,
    SYSTEM_ADDONS,
    THEME_PROBABILITY,
    TINY_CLIENT_SHARE,
    USER_DISABLED,
    VALID_COUNT_WEIGHTS,
)


@dataclass(frozen=True)
class _Entries:
    """Every (client, add-on) a client ever has in the window, grouped by client."""

    offsets: np.ndarray  # (N + 1,) client c owns entries offsets[c]:offsets[c+1]
    addon: np.ndarray  # catalog index
    flags: np.ndarray  # USER_DISABLED | APP_DISABLED | FOREIGN_INSTALL | BLOCKLISTED
    install: np.ndarray  # window day index of installation (negative: before the window)
    removal: np.ndarray  # window day index from which it is gone, NEVER if it stays


def _taste_entries(
    rng: np.random.Generator,
    spec: DemoSpec,
    groups: _Groups,
    clients: _Clients,
    tiny: np.ndarray,
    few_valid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whitelisted add-ons from each client's group taste: valid ones, then some made invalid."""
    n = spec.clients
    counts, count_weights = zip(*VALID_COUNT_WEIGHTS.items())
    valid = rng.choice(np.array(counts), size=n, p=np.array(count_weights) / sum(count_weights))
    valid = np.where(few_valid, rng.integers(1, 3, size=n), valid)
    valid = np.where(tiny, rng.integers(0, 3, size=n), valid)
    dirty = np.where(tiny, 0, np.minimum(rng.poisson(DIRTY_WHITELISTED_PER_CLIENT, size=n), 3))
    drawn = valid + dirty
    most = int(drawn.max(initial=0))

    # Weighted sampling without replacement, all clients at once: the top-k of log weight plus
    # Gumbel noise (chunked to bound memory).
    picks = np.empty((n, most), np.int32)
    chunk = 1 << 16
    for start in range(0, n, chunk):
        group_rows = clients.group[start : start + chunk]
        keys = groups.taste_log_weight[group_rows] + rng.gumbel(size=(len(group_rows), groups.taste.shape[1]))
        order = np.argsort(-keys, axis=1)[:, :most]
        picks[start : start + chunk] = np.take_along_axis(groups.taste[group_rows], order, axis=1)
    column = np.arange(most)
    keep = column[None, :] < drawn[:, None]
    owner = np.broadcast_to(np.arange(n)[:, None], keep.shape)[keep]
    is_dirty = (column[None, :] >= valid[:, None])[keep]
    dirt_kind = np.array([USER_DISABLED, APP_DISABLED, FOREIGN_INSTALL], np.uint8)
    kind = _pick(rng, _cdf([[0.45, 0.25, 0.30]]), np.zeros(len(owner), np.int64))
    return owner, picks[keep], np.where(is_dirty, dirt_kind[kind], 0).astype(np.uint8)


def _hoarder_entries(
    rng: np.random.Generator, catalog: _Catalog, hoarder: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """110-160 distinct non-whitelisted extensions for each hoarder, none ever removed."""
    people = np.flatnonzero(hoarder)
    counts = rng.integers(110, 161, size=len(people))
    owner = np.repeat(people, counts)
    step = np.repeat(rng.integers(1, NON_WHITELISTED_EXTENSIONS, size=len(people)), counts)
    start = np.repeat(rng.integers(0, NON_WHITELISTED_EXTENSIONS, size=len(people)), counts)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    # A prime pool size makes (start + k * step) distinct for k below it.
    addon = catalog.non_whitelisted_start + (start + position * step) % NON_WHITELISTED_EXTENSIONS
    return owner, addon, np.full(len(owner), NEVER_CHANGES, np.uint8)


def _build_entries(spec: DemoSpec, catalog: _Catalog, groups: _Groups, clients: _Clients) -> _Entries:
    rng = _rng(spec.seed, STREAM_ENTRIES)
    n = spec.clients
    kind = rng.random(n)
    tiny = kind < TINY_CLIENT_SHARE
    few_valid = (kind >= TINY_CLIENT_SHARE) & (kind < TINY_CLIENT_SHARE + FEW_VALID_SHARE)
    hoarder = kind >= 1.0 - HOARDER_SHARE
    sources = [_taste_entries(rng, spec, groups, clients, tiny, few_valid), _hoarder_entries(rng, catalog, hoarder)]

    system_probability = np.array([p for _, _, p in SYSTEM_ADDONS])
    has_system = (rng.random((n, len(SYSTEM_ADDONS))) < system_probability) & ~tiny[:, None]
    owner, which = np.nonzero(has_system)
    sources.append((owner, catalog.system_start + which, np.full(len(owner), NEVER_CHANGES, np.uint8)))

    themes = catalog.dictionary_start - catalog.theme_start
    owner = np.flatnonzero((rng.random(n) < THEME_PROBABILITY) & ~tiny)
    theme = catalog.theme_start + np.minimum(rng.zipf(1.6, size=len(owner)) - 1, themes - 1)
    # Inactive themes show up user-disabled.
    sources.append((owner, theme, np.where(rng.random(len(owner)) < 0.3, USER_DISABLED, 0).astype(np.uint8)))

    owner = np.flatnonzero((rng.random(n) < DICTIONARY_PROBABILITY) & ~tiny)
    dictionary = catalog.dictionary_start + clients.locale[owner].astype(np.int64)  # the client's language
    sources.append((owner, dictionary, np.zeros(len(owner), np.uint8)))

    per_client = np.where(tiny, 0, rng.poisson(NON_WHITELISTED_PER_CLIENT, size=n))
    owner = np.repeat(np.arange(n), per_client)
    other = catalog.non_whitelisted_start + rng.choice(
        NON_WHITELISTED_EXTENSIONS, size=len(owner), p=_non_whitelisted_popularity()
    )
    flags = np.where(rng.random(len(owner)) < 0.15, FOREIGN_INSTALL, 0).astype(np.uint8)
    sources.append((owner, other, flags))

    owner = np.concatenate([s[0] for s in sources]).astype(np.int64)
    addon = np.concatenate([s[1] for s in sources]).astype(np.int64)
    flags = np.concatenate([s[2] for s in sources]).astype(np.uint8)
    # One sort groups entries by client and drops repeated add-ons; ranking add-ons by a random
    # permutation instead of their catalog index mixes the order inside each list.
    rank = rng.permutation(catalog.size)
    unique_keys, first_seen = np.unique(owner * catalog.size + rank[addon], return_index=True)
    owner = unique_keys // catalog.size
    addon = np.argsort(rank)[unique_keys % catalog.size].astype(np.int32)
    flags = flags[first_seen]
    blocklisted = (catalog.type_code[addon] == 0) & (rng.random(len(addon)) < BLOCKLISTED_PROBABILITY)
    flags |= np.where(blocklisted, BLOCKLISTED, 0).astype(np.uint8)

    # Changes over time: some add-ons arrive or leave while the client is being observed.
    first, last = clients.first[owner].astype(np.int64), clients.last[owner].astype(np.int64)
    changes = (flags & NEVER_CHANGES) == 0
    late = changes & (rng.random(len(owner)) < LATE_INSTALL_PROBABILITY) & (last > first)
    # Draws are made for every entry (bounds kept valid) and used where the condition holds.
    late_day = rng.integers(first + 1, np.maximum(last, first + 1) + 1)
    install = np.where(late, late_day, -rng.integers(1, 1500, size=len(owner)))
    present_from = np.maximum(install, first)
    removed = changes & (rng.random(len(owner)) < REMOVAL_PROBABILITY) & (last > present_from)
    removal_day = rng.integers(present_from + 1, np.maximum(last, present_from + 1) + 1)
    removal = np.where(removed, removal_day, NEVER)

    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    return _Entries(
        offsets=offsets,
        addon=addon,
        flags=flags & ~np.uint8(NEVER_CHANGES),
        install=install.astype(np.int32),
        removal=removal.astype(np.int32),
    )
