"""The planted structure and the people: taste groups, then clients and the cities they live in.

Every client belongs to one group (a persona), and the group decides its likely add-ons,
locales, cities, OS and engagement levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from taar_assets.demo.sampling import _cdf, _pick, _rng, _uuid4
from taar_assets.demo.spec import DemoSpec
from taar_assets.demo.tables import (
    APPS,
    BIG_CITY_SHARE,
    CHANNELS,
    DOMINANT_OS_SHARE,
    DOMINANT_OS_WEIGHT,
    ENGAGEMENT_RANGES,
    ENGAGEMENT_SPREAD,
    GROUP_SIZE_CONCENTRATION,
    HOME_CITY_BOOST,
    HOME_LOCALE_WEIGHTS,
    LOCALES,
    OS_NAMES,
    POPULAR_ADDONS,
    POPULAR_IN_GROUP_PROBABILITY,
    POPULAR_WEIGHT,
    STREAM_CLIENTS,
    STREAM_GROUPS,
    TASTE_SIZE,
    TOWN_MIDDLES,
    TOWN_STEMS,
    UNKNOWN_CITY,
    UNKNOWN_CITY_SHARE,
)

# --- Groups: the planted structure -----------------------------------------------------


@dataclass(frozen=True)
class _Groups:
    share: np.ndarray  # (G,) fraction of clients
    taste: np.ndarray  # (G, T) whitelist indices, padded
    taste_log_weight: np.ndarray  # (G, T) log weights, -inf on padding
    locale_cdf: np.ndarray  # (G, locales)
    big_city_cdf: np.ndarray  # (G * locales, widest): row group * locales + locale, over that locale's big cities
    os_cdf: np.ndarray  # (G, 3)
    log_medians: np.ndarray  # (G, 5): hours, bookmarks, tabs per hour, uris per hour, domains


def _build_groups(spec: DemoSpec) -> _Groups:
    """Taste groups as personas: what they install, and where, on what and how much they browse.

    The similarity recommender only sees city, locale, OS and five engagement numbers, so a
    group is planted in all of them: two home locales (each locale is home to several groups,
    so a locale alone says little about taste), a home city in each locale, a dominant OS and
    its own engagement levels.
    """
    rng = _rng(spec.seed, STREAM_GROUPS)
    g_count = spec.groups
    share = rng.dirichlet(np.full(g_count, GROUP_SIZE_CONCENTRATION))
    # Core tastes are overlapping blocks of the (already random) non-popular whitelist, so
    # neighbouring groups share add-ons and distant ones none.
    core_pool = spec.whitelist_size - POPULAR_ADDONS
    stride = core_pool / g_count
    tastes: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for group in range(g_count):
        length = min(int(rng.integers(TASTE_SIZE[0], TASTE_SIZE[1] + 1)), core_pool)
        core = POPULAR_ADDONS + (int(round(group * stride)) + np.arange(length)) % core_pool
        core_weight = rng.permutation(1.0 / (np.arange(length) + 1.0) ** 0.8)
        popular = np.flatnonzero(rng.random(POPULAR_ADDONS) < POPULAR_IN_GROUP_PROBABILITY)
        tastes.append(np.concatenate([core, popular]))
        weights.append(np.concatenate([core_weight, np.full(len(popular), POPULAR_WEIGHT)]))
    width = max(len(t) for t in tastes)
    taste = np.zeros((g_count, width), np.int32)
    taste_log_weight = np.full((g_count, width), -np.inf, np.float32)
    for group, (items, item_weights) in enumerate(zip(tastes, weights)):
        taste[group, : len(items)] = items
        taste_log_weight[group, : len(items)] = np.log(item_weights)

    locale_count = len(LOCALES)
    locale_share = np.array([share for _, _, share, _, _ in LOCALES])
    # Home locales are dealt like cards from a shuffled deck holding every locale, so each
    # locale is home to about the same number of groups whatever its size.
    deck = np.concatenate([rng.permutation(locale_count) for _ in range(-(-2 * g_count // locale_count) + 1)])
    locale_weights = np.outer(np.full(g_count, 1.0 - sum(HOME_LOCALE_WEIGHTS)), locale_share)
    for group in range(g_count):
        first, second = deck[2 * group], deck[2 * group + 1]
        if second == first:
            second = (first + 1) % locale_count
        locale_weights[group, first] += HOME_LOCALE_WEIGHTS[0]
        locale_weights[group, second] += HOME_LOCALE_WEIGHTS[1]

    widest = max(len(cities) for _, _, _, cities, _ in LOCALES)
    city_weights = np.zeros((g_count, locale_count, widest))
    for locale, (_, _, _, cities, _) in enumerate(LOCALES):
        sizes = np.array([size for _, size in cities], np.float64)
        city_weights[:, locale, : len(cities)] = sizes
        home = rng.integers(len(cities), size=g_count)
        city_weights[np.arange(g_count), locale, home] += HOME_CITY_BOOST * sizes.sum()

    dominant_os = rng.choice(len(OS_NAMES), size=g_count, p=DOMINANT_OS_SHARE)
    os_weights = np.full((g_count, len(OS_NAMES)), (1.0 - DOMINANT_OS_WEIGHT) / (len(OS_NAMES) - 1))
    os_weights[np.arange(g_count), dominant_os] = DOMINANT_OS_WEIGHT

    # Log-uniform, so groups are spread evenly in ratio terms: the distance's canberra terms
    # compare values by ratio.
    low, high = np.log(np.array(ENGAGEMENT_RANGES)).T
    log_medians = rng.uniform(low, high, size=(g_count, len(ENGAGEMENT_RANGES)))
    return _Groups(
        share,
        taste,
        taste_log_weight,
        _cdf(locale_weights),
        _cdf(city_weights.reshape(g_count * locale_count, widest)),
        _cdf(os_weights),
        log_medians,
    )


# --- Clients: static attributes and where they live -----------------------------------


@dataclass(frozen=True)
class _Clients:
    ids: pa.StringArray
    group: np.ndarray
    sample_id: np.ndarray
    channel: np.ndarray
    app: np.ndarray
    locale: np.ndarray
    city: np.ndarray  # index into city_names
    city_names: pa.StringArray
    os: np.ndarray
    profile_age: np.ndarray  # on the first day of the window
    # Seen on days first..last: always on `anchor`, otherwise each day with `daily_probability`.
    first: np.ndarray
    last: np.ndarray
    anchor: np.ndarray
    daily_probability: np.ndarray
    engagement: np.ndarray  # (N, 5) per-client levels, same order as _Groups.log_medians


def _fixed_width_strings(chars: np.ndarray) -> pa.StringArray:
    """An Arrow string array over the rows of an (n, width) ASCII array, without copying per row."""
    n, width = chars.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def _city_table(n_clients: int) -> tuple[pa.StringArray, np.ndarray, np.ndarray, int]:
    """City names: "??", then per locale its big cities and a long tail of small towns.

    Returns names, each locale's first big-city index, the first town index of each locale,
    and the number of towns per locale. (How clients pick a big city is up to their group.)
    """
    fewest_suffixes = min(len(suffixes) for *_, suffixes in LOCALES)
    towns_per_locale = min(500 + n_clients // 100, len(TOWN_STEMS) * len(TOWN_MIDDLES) * fewest_suffixes)
    names = [UNKNOWN_CITY]
    big_start = np.empty(len(LOCALES), np.int64)
    town_start = np.empty(len(LOCALES), np.int64)
    for index, (_, _, _, cities, suffixes) in enumerate(LOCALES):
        big_start[index] = len(names)
        names.extend(city for city, _ in cities)
        town_start[index] = len(names)
        # Mixed-radix spelling of 0..towns-1 keeps every town name distinct within a locale.
        for town in range(towns_per_locale):
            stem, rest = divmod(town, len(TOWN_MIDDLES) * len(suffixes))
            middle, suffix = divmod(rest, len(suffixes))
            names.append(f"{TOWN_STEMS[stem]}{TOWN_MIDDLES[middle]}{suffixes[suffix]}")
    return pa.array(names, pa.string()), big_start, town_start, towns_per_locale


def _build_clients(spec: DemoSpec, groups: _Groups) -> _Clients:
    rng = _rng(spec.seed, STREAM_CLIENTS)
    n = spec.clients
    group = rng.choice(spec.groups, size=n, p=groups.share).astype(np.int32)
    locale = _pick(rng, groups.locale_cdf, group).astype(np.int8)

    city_names, big_start, town_start, towns = _city_table(n)
    big_city = big_start[locale] + _pick(rng, groups.big_city_cdf, group * len(LOCALES) + locale)
    # u**3 piles towns up at low indices: a few towns with many clients, many with one or none.
    town = town_start[locale] + (towns * rng.random(n) ** 3).astype(np.int64)
    place = rng.random(n)
    city = np.select(
        [place < UNKNOWN_CITY_SHARE, place < UNKNOWN_CITY_SHARE + BIG_CITY_SHARE], [0, big_city], town
    ).astype(np.int32)

    # Activity: half the clients predate the window, some churn, the rest stay to its end.
    days = spec.days
    first = np.where(rng.random(n) < 0.5, 0, rng.integers(0, days, size=n))
    lifetime = rng.exponential(0.3 * days, size=n).astype(np.int64)
    last = np.where(rng.random(n) < 0.55, days - 1, np.minimum(first + lifetime, days - 1))
    anchor = rng.integers(first, last + 1)
    kind = rng.random(n)
    daily_probability = np.select(
        [kind < 0.05, kind < 0.30],
        [rng.uniform(0.7, 1.0, n), rng.beta(2.0, 12.0, n)],
        rng.beta(1.5, 25.0, n),
    ).astype(np.float32)
    if spec.daily_activity is not None:  # after every draw, so the default data stay the same
        daily_probability = np.maximum(daily_probability, np.float32(spec.daily_activity))

    engagement = np.exp(groups.log_medians[group] + rng.normal(0.0, ENGAGEMENT_SPREAD, size=(n, 5))).astype(np.float32)
    return _Clients(
        ids=_fixed_width_strings(_uuid4(rng, n)),
        group=group,
        sample_id=rng.integers(0, 100, size=n),
        channel=_pick(rng, _cdf([[w for _, w in CHANNELS]]), np.zeros(n, np.int64)).astype(np.int8),
        app=_pick(rng, _cdf([[w for _, w in APPS]]), np.zeros(n, np.int64)).astype(np.int8),
        locale=locale,
        city=city,
        city_names=city_names,
        os=_pick(rng, groups.os_cdf, group).astype(np.int8),
        profile_age=np.minimum(rng.lognormal(6.0, 1.2, size=n), 5000).astype(np.int32),
        first=first.astype(np.int32),
        last=last.astype(np.int32),
        anchor=anchor.astype(np.int32),
        daily_probability=daily_probability,
        engagement=engagement,
    )
