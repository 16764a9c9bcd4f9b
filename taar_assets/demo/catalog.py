"""The catalogue: every add-on that can appear in the demo data.

Whitelisted and other extensions get GUIDs and names in the styles seen on AMO; system
add-ons, themes and dictionaries come from `tables`. Each add-on also gets its flags and a
release schedule (version strings) covering the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from taar_assets.demo.sampling import _rng, _uuid4
from taar_assets.demo.spec import DemoSpec
from taar_assets.demo.tables import (
    BASE62,
    BUILTIN_THEMES,
    EXTRA_THEMES,
    LOCALES,
    NAME_NOUNS,
    NAME_WORDS,
    NON_WHITELISTED_EXTENSIONS,
    STREAM_CATALOG,
    SYSTEM_ADDONS,
    VENDOR_SYLLABLES,
    VENDOR_TLDS,
)


def _extension_guids(rng: np.random.Generator, count: int, taken: set[str]) -> tuple[list[str], list[str]]:
    """Distinct GUIDs and display names in the three styles seen on AMO."""
    guids: list[str] = []
    names: list[str] = []
    uuid_text = _uuid4(rng, count).tobytes().decode()
    uuids = iter(uuid_text[i * 36 : i * 36 + 36] for i in range(count))
    while len(guids) < count:
        name = f"{NAME_WORDS[rng.integers(len(NAME_WORDS))]} {NAME_NOUNS[rng.integers(len(NAME_NOUNS))]}"
        style = rng.random()
        if style < 0.45:
            guid = "{" + next(uuids) + "}"
        elif style < 0.9:
            vendor = "".join(VENDOR_SYLLABLES[i] for i in rng.integers(len(VENDOR_SYLLABLES), size=rng.integers(2, 4)))
            guid = f"{name.lower().replace(' ', '-')}@{vendor}{VENDOR_TLDS[rng.integers(len(VENDOR_TLDS))]}"
        else:
            guid = "jid1-" + "".join(BASE62[i] for i in rng.integers(62, size=14)) + "@jetpack"
        if guid not in taken:
            taken.add(guid)
            guids.append(guid)
            names.append(name)
    return guids, names


@dataclass(frozen=True)
class _Catalog:
    """Per add-on attributes. Index blocks: whitelist, other extensions, system, themes, dictionaries."""

    whitelist: list[str]
    ids: pa.StringArray
    names: pa.StringArray
    type_code: np.ndarray
    is_system: np.ndarray
    scope: np.ndarray
    signed_state: np.ndarray
    is_web_extension: np.ndarray
    multiprocess_compatible: np.ndarray
    has_binary_components: np.ndarray
    # Releases happen every `release_period` days, shifted by `release_offset`; version strings
    # of add-on a for release r sit at versions[version_base[a] + r].
    release_period: np.ndarray
    release_offset: np.ndarray
    version_base: np.ndarray
    versions: pa.StringArray
    non_whitelisted_start: int
    system_start: int
    theme_start: int
    dictionary_start: int

    @property
    def size(self) -> int:
        return len(self.ids)


def _build_catalog(spec: DemoSpec) -> _Catalog:
    rng = _rng(spec.seed, STREAM_CATALOG)
    taken: set[str] = set()
    whitelist, whitelist_names = _extension_guids(rng, spec.whitelist_size, taken)
    other_ids, other_names = _extension_guids(rng, NON_WHITELISTED_EXTENSIONS, taken)
    theme_uuids = _uuid4(rng, EXTRA_THEMES).tobytes().decode()
    extra_themes = ["{" + theme_uuids[i * 36 : i * 36 + 36] + "}" for i in range(EXTRA_THEMES)]
    ids = (
        whitelist
        + other_ids
        + [guid for guid, _, _ in SYSTEM_ADDONS]
        + [guid for guid, _ in BUILTIN_THEMES]
        + extra_themes
        + [f"{locale}@dictionaries.addons.mozilla.org" for locale, *_ in LOCALES]
    )
    names = (
        whitelist_names
        + other_names
        + [name for _, name, _ in SYSTEM_ADDONS]
        + [name for _, name in BUILTIN_THEMES]
        + [f"{NAME_WORDS[i % len(NAME_WORDS)]} Theme {i}" for i in range(EXTRA_THEMES)]
        + [f"{locale} Dictionary" for locale, *_ in LOCALES]
    )
    system_start = len(whitelist) + len(other_ids)
    theme_start = system_start + len(SYSTEM_ADDONS)
    dictionary_start = theme_start + len(BUILTIN_THEMES) + EXTRA_THEMES
    size = len(ids)
    index = np.arange(size)

    type_code = np.select([index >= dictionary_start, index >= theme_start], [2, 1], 0).astype(np.int8)
    is_system = (index >= system_start) & (index < theme_start)
    extension = type_code == 0
    legacy = extension & ~is_system & (rng.random(size) < 0.04)  # old XUL add-ons
    signed_state = np.where(is_system, 3, np.where(rng.random(size) < 0.02, 0, 2)).astype(np.int32)
    release_period = rng.integers(21, 121, size=size).astype(np.int32)
    release_offset = (rng.random(size) * release_period).astype(np.int32)
    # Enough releases to cover the window: release r is current on days with (d + offset) // period == r.
    release_count = (spec.days - 1 + release_offset) // release_period + 1
    version_base = np.concatenate([[0], np.cumsum(release_count)[:-1]]).astype(np.int64)
    major = rng.integers(1, 12, size=size)
    minor = rng.integers(0, 30, size=size)
    versions = [f"{major[a]}.{minor[a] + r}.{(a + r) % 4}" for a in range(size) for r in range(release_count[a])]
    return _Catalog(
        whitelist=whitelist,
        ids=pa.array(ids, pa.string()),
        names=pa.array(names, pa.string()),
        type_code=type_code,
        is_system=is_system,
        scope=np.where(is_system, 4, 1).astype(np.int32),
        signed_state=signed_state,
        is_web_extension=~legacy,
        multiprocess_compatible=~legacy | (rng.random(size) < 0.5),
        has_binary_components=legacy & (rng.random(size) < 0.3),
        release_period=release_period,
        release_offset=release_offset,
        version_base=version_base,
        versions=pa.array(versions, pa.string()),
        non_whitelisted_start=len(whitelist),
        system_start=system_start,
        theme_start=theme_start,
        dictionary_start=dictionary_start,
    )


def _non_whitelisted_popularity() -> np.ndarray:
    """Probability of each non-whitelisted extension (catalog order) for one draw: Zipf-like."""
    popularity = 1.0 / np.arange(1, NON_WHITELISTED_EXTENSIONS + 1) ** 0.9
    return popularity / popularity.sum()
