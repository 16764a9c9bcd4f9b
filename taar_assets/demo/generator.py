"""A synthetic but realistic `clients_daily` dataset (SPEC §2) with planted taste groups.

The data exists to show that the recommender finds structure that is really there, so it has
some: every client belongs to one planted group, and the group decides which whitelisted
add-ons the client tends to install, its likely locales and cities, its OS and its
engagement levels. Around that signal sits the dirt the pipeline must clean away: null ids,
other channels and apps, system add-ons, themes, dictionaries, disabled and sideloaded
add-ons, add-ons outside the whitelist, lists too short or too long, and clients whose add-ons
change between the days they are seen. Alongside it, `addon_metadata.json` describes every
extension's producer, audience, ratings and flags (the optional TAAR_ADDON_METADATA input).

Generation is vectorised and streamed one day at a time: the per-client state (about 10
add-on entries per client) is built once, then each day selects the clients seen that day and
turns their current add-ons into an Arrow list<struct> column with offsets, without Python
loops over rows or add-ons. Output is deterministic for a given `DemoSpec`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from taar_assets.lib.addon_metadata import AddonInfo, addon_metadata_json
from taar_assets.lib.clients_daily import DAY_FOLDER_PREFIX, day_folder

DAY_FILE_NAME = "part-0.parquet"

ADDON_STRUCT = pa.struct(
    [
        ("addon_id", pa.string()),
        ("blocklisted", pa.bool_()),
        ("name", pa.string()),
        ("user_disabled", pa.bool_()),
        ("app_disabled", pa.bool_()),
        ("version", pa.string()),
        ("scope", pa.int32()),
        ("type", pa.string()),
        ("foreign_install", pa.bool_()),
        ("has_binary_components", pa.bool_()),
        ("install_day", pa.int32()),
        ("update_day", pa.int32()),
        ("signed_state", pa.int32()),
        ("is_system", pa.bool_()),
        ("is_web_extension", pa.bool_()),
        ("multiprocess_compatible", pa.bool_()),
    ]
)

# The columns of every day file. country, sample_id and profile_age_in_days are not read by
# the pipeline; they are there because the real table has hundreds of columns to ignore.
DAY_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("sample_id", pa.int64()),
        ("channel", pa.string()),
        ("app_name", pa.string()),
        ("country", pa.string()),
        ("city", pa.string()),
        ("locale", pa.string()),
        ("os", pa.string()),
        ("profile_age_in_days", pa.int32()),
        ("subsession_hours_sum", pa.float64()),
        ("places_bookmarks_count_mean", pa.float64()),
        ("scalar_parent_browser_engagement_tab_open_event_count_sum", pa.int64()),
        ("scalar_parent_browser_engagement_total_uri_count_sum", pa.int64()),
        ("scalar_parent_browser_engagement_unique_domains_count_mean", pa.float64()),
        ("active_addons", pa.list_(ADDON_STRUCT)),
    ]
)

# --- The world the clients live in -------------------------------------------------------

# locale, country, share of all clients, big cities with relative sizes, suffixes of small towns
LOCALES: tuple[tuple[str, str, float, tuple[tuple[str, float], ...], tuple[str, ...]], ...] = (
    ("en-US", "US", 0.34, (("New York", 5), ("Los Angeles", 4), ("Chicago", 3), ("Houston", 2), ("Seattle", 2)),
     ("ville", "ton", " Springs", " City", "field", "burg")),
    ("de", "DE", 0.14, (("Berlin", 5), ("Munich", 3), ("Hamburg", 3), ("Cologne", 2), ("Vienna", 2)),
     ("dorf", "hausen", "berg", "heim", "feld", "stadt")),
    ("fr", "FR", 0.10, (("Paris", 6), ("Lyon", 2), ("Marseille", 2), ("Toulouse", 1), ("Montreal", 2)),
     ("ville", "court", "-sur-Mer", "mont", "ac", "y")),
    ("es-ES", "ES", 0.07, (("Madrid", 4), ("Barcelona", 4), ("Valencia", 2), ("Seville", 1)),
     ("illa", " del Rio", "ejo", "era", "al", "ana")),
    ("pt-BR", "BR", 0.08, (("São Paulo", 6), ("Rio de Janeiro", 4), ("Belo Horizonte", 2), ("Brasília", 1)),
     ("ópolis", "inho", " do Sul", "ema", "ara", "ina")),
    ("ru", "RU", 0.08, (("Moscow", 6), ("Saint Petersburg", 3), ("Novosibirsk", 1), ("Yekaterinburg", 1)),
     ("ovo", "sk", "grad", "ino", "evka", "insk")),
    ("pl", "PL", 0.06, (("Warsaw", 4), ("Kraków", 2), ("Wrocław", 2), ("Łódź", 1)),
     ("ów", "owice", "no", "sk", "ewo", "in")),
    ("it", "IT", 0.05, (("Rome", 4), ("Milan", 4), ("Naples", 2), ("Turin", 2)),
     ("ano", "ello", "ino", " Terme", "ola", "ate")),
    ("ja", "JP", 0.04, (("Tokyo", 6), ("Osaka", 3), ("Yokohama", 2), ("Nagoya", 1)),
     ("yama", "gawa", "shima", "saki", "hara", "mura")),
    ("zh-CN", "CN", 0.04, (("Beijing", 4), ("Shanghai", 4), ("Guangzhou", 2), ("Shenzhen", 2)),
     ("zhou", "an", "yang", "ning", "shan", "jiang")),
)
TOWN_STEMS = (
    "Al", "Bel", "Cor", "Dun", "El", "Fal", "Gor", "Hal", "Ir", "Jen", "Kal", "Lor", "Mar", "Nor", "Os",
    "Pel", "Quin", "Ros", "Sal", "Tor", "Ul", "Ven", "Wal", "Yar", "Zel", "Bran", "Cal", "Der", "Fen", "Mel",
)
TOWN_MIDDLES = (
    "a", "e", "i", "o", "u", "an", "en", "in", "ar", "er", "or", "ur", "al", "el", "il",
    "as", "es", "is", "os", "ab", "eb", "ad", "ed", "ak", "ek", "am", "em", "at", "et", "ov",
)
UNKNOWN_CITY = "??"

OS_NAMES = ("Windows_NT", "Darwin", "Linux")
CHANNELS = (("release", 0.90), ("beta", 0.05), ("nightly", 0.02), ("esr", 0.03))
APPS = (("Firefox", 0.97), ("Fennec", 0.02), ("Thunderbird", 0.01))
ADDON_TYPES = ("extension", "theme", "dictionary")

# Built into Firefox: present in most profiles, never recommendable (is_system).
SYSTEM_ADDONS = (
    ("screenshots@mozilla.org", "Firefox Screenshots", 0.75),
    ("formautofill@mozilla.org", "Form Autofill", 0.60),
    ("webcompat@mozilla.org", "Web Compatibility Interventions", 0.70),
    ("pictureinpicture@mozilla.org", "Picture-In-Picture", 0.40),
    ("fxmonitor@mozilla.org", "Firefox Monitor", 0.25),
    ("doh-rollout@mozilla.org", "DoH Roll-Out", 0.20),
    ("webcompat-reporter@mozilla.org", "WebCompat Reporter", 0.15),
    ("firefox@getpocket.com", "Pocket", 0.15),
    ("activity-stream@mozilla.org", "Activity Stream", 0.10),
    ("followonsearch@mozilla.com", "Follow-on Search Telemetry", 0.05),
)
BUILTIN_THEMES = (
    ("default-theme@mozilla.org", "System theme"),
    ("firefox-compact-dark@mozilla.org", "Dark"),
    ("firefox-compact-light@mozilla.org", "Light"),
    ("firefox-alpenglow@mozilla.org", "Firefox Alpenglow"),
)
EXTRA_THEMES = 26
NON_WHITELISTED_EXTENSIONS = 3001  # prime: hoarders walk it with a stride, see _hoarder_entries

NAME_WORDS = (
    "Simple", "Smart", "Dark", "Quick", "Ultimate", "Easy", "Privacy", "Video", "Image", "Auto",
    "Super", "Better", "Clean", "Awesome", "Secure", "Classic", "Tiny", "Instant", "Open", "Multi",
)
NAME_NOUNS = (
    "Tab Manager", "Ad Blocker", "Translator", "Downloader", "Screenshot", "Password Manager",
    "Cookie Editor", "Reader", "Dark Mode", "Session Saver", "Tracker Blocker", "Color Picker",
    "Note Taker", "Proxy Switcher", "Video Speed", "Grammar Checker", "Bookmark Sorter",
    "Tab Suspender", "Weather", "Search Helper", "User Agent Switcher", "History Cleaner",
    "PDF Viewer", "Mouse Gestures", "Container Tabs",
)
VENDOR_SYLLABLES = ("ko", "ra", "mi", "zen", "tor", "lu", "vex", "na", "bri", "dol", "qua", "sen", "tik", "mo", "ar")
VENDOR_TLDS = (".com", ".net", ".org", ".io", ".de", ".dev")
BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

# --- How clients behave ----------------------------------------------------------------

GROUP_SIZE_CONCENTRATION = 8.0  # Dirichlet concentration of group sizes: higher, more even
POPULAR_ADDONS = 5  # whitelisted add-ons shared by most groups' tastes
POPULAR_IN_GROUP_PROBABILITY = 0.6
POPULAR_WEIGHT = 0.1  # sampling weight of a popular add-on in a taste (core weights run 1 down to ~0.08)
# Groups are personas planted in every feature the similarity distance reads (city, locale,
# OS, engagement), so that those features really predict taste, and each locale mixes several
# groups. Why these strengths: with 12 groups, one home locale per group, popular add-ons at
# weight 0.5 and engagement spread 0.5, locale popularity already hit 69% of evaluation
# clients at 10 (evaluation.py) and even the planted group's own popularity only 90%, so no
# recommender reading these features could double locale popularity.
HOME_LOCALE_WEIGHTS = (0.55, 0.15)  # a group's first and second home locale; the rest follows LOCALES' shares
HOME_CITY_BOOST = 2.0  # a group's home city in a locale gets this many times the locale's big-city weight on top
DOMINANT_OS_SHARE = (0.6, 0.25, 0.15)  # which OS (OS_NAMES order) dominates a group
DOMINANT_OS_WEIGHT = 0.9
# Group medians of hours per active day, bookmarks, tabs opened per hour, URIs per hour and
# unique domains per day, drawn log-uniformly from these ranges.
ENGAGEMENT_RANGES = ((0.3, 10.0), (2.0, 3000.0), (2.0, 60.0), (5.0, 800.0), (1.0, 100.0))
ENGAGEMENT_SPREAD = 0.1  # standard deviation of a client's log engagement level around its group's
DAILY_HOURS_SPREAD = 0.2  # day-to-day log variation of session hours (and so of tabs and URIs)
DAILY_DOMAINS_SPREAD = 0.15  # day-to-day log variation of unique domains
TASTE_SIZE = (15, 25)  # inclusive range of core add-ons per group
TINY_CLIENT_SHARE = 0.04  # 0-2 add-ons in total: dropped by the 2 < len rule
FEW_VALID_SHARE = 0.06  # 1-2 valid add-ons among others: dropped by the "> 2 valid" rule
HOARDER_SHARE = 0.004  # 110+ add-ons: dropped by the len < 100 rule
VALID_COUNT_WEIGHTS = {3: 10, 4: 14, 5: 15, 6: 13, 7: 10, 8: 7, 9: 5, 10: 4}
THEME_PROBABILITY = 0.25
DICTIONARY_PROBABILITY = 0.10
NON_WHITELISTED_PER_CLIENT = 1.0  # Poisson mean
DIRTY_WHITELISTED_PER_CLIENT = 0.4  # Poisson mean: whitelisted but disabled or sideloaded
LATE_INSTALL_PROBABILITY = 0.22  # installed during the client's window: lists change over time
REMOVAL_PROBABILITY = 0.12
BLOCKLISTED_PROBABILITY = 0.003
UNKNOWN_CITY_SHARE = 0.03
BIG_CITY_SHARE = 0.70  # of clients with a known city; the rest live in the long tail of towns

# Row-level nulls.
NULL_CLIENT_ID = 0.005
NULL_CATEGORICAL = 0.02
NULL_NUMBER = 0.01
NULL_ADDONS = 0.01

# Entry flags, one bit each.
USER_DISABLED, APP_DISABLED, FOREIGN_INSTALL, BLOCKLISTED, NEVER_CHANGES = 1, 2, 4, 8, 16
NEVER = np.iinfo(np.int32).max  # removal day of an add-on that stays

# Random streams, so each part of the world can change without reshuffling the others.
STREAM_CATALOG, STREAM_GROUPS, STREAM_CLIENTS, STREAM_ENTRIES, STREAM_DAYS, STREAM_METADATA = range(6)

# --- Add-on metadata (addon_metadata.json) -----------------------------------------------

# Weekly users of an add-on that every demo client would have: the demo stands for this many
# Firefox users with add-ons, so audiences follow the add-ons' popularity in the telemetry.
USERS_REPRESENTED = 20_000_000
ACCOUNT_SHARE = 0.5  # developer accounts per add-on without a vendor domain in its GUID
ACCOUNT_RANK_SHIFT = 20  # account k publishes in proportion to 1 / (k + shift): the busiest ~20 add-ons
LOW_QUALITY_PRODUCER_SHARE = 0.05  # bad ratings, many reports, policy or abuse flags
SUBSCRIBED_PRODUCER_SHARE = 0.03  # "subscribed creators" (recommended developers), among the larger ones
RECENT_DAYS = 90  # recent_updates counts the releases of the last RECENT_DAYS days
ACCOUNT_SUFFIXES = (" Labs", " Software", " Studio", " Apps", " Dev", "")


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: `days` day folders ending on `end_date`, `clients` clients in `groups`."""

    clients: int = 20_000
    days: int = 120  # number of day folders written, ending on end_date inclusive
    end_date: dt.date | None = None  # None -> yesterday (UTC)
    groups: int = 32  # planted taste groups (personas)
    whitelist_size: int = 200
    seed: int = 0


@dataclass(frozen=True)
class DemoSummary:
    """Where the dataset went and how big it is."""

    clients_daily: Path
    whitelist: Path
    groups: Path
    rows: int
    days: list[dt.date]
    addon_metadata: Path


def _validate(spec: DemoSpec) -> None:
    for name, minimum in (("clients", 1), ("days", 1), ("groups", 1), ("whitelist_size", 30), ("seed", 0)):
        value = getattr(spec, name)
        if not isinstance(value, int) or value < minimum:
            raise ValueError(f"DemoSpec.{name} must be an integer >= {minimum}, got {value!r}")
    # A datetime is a date too, but day arithmetic with it would mix in the time of day.
    if spec.end_date is not None and (not isinstance(spec.end_date, dt.date) or isinstance(spec.end_date, dt.datetime)):
        raise ValueError(f"DemoSpec.end_date must be a date or None, got {spec.end_date!r}")


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


# --- Catalog: every add-on that can appear --------------------------------------------


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


def _fixed_width_strings(chars: np.ndarray) -> pa.StringArray:
    """An Arrow string array over the rows of an (n, width) ASCII array, without copying per row."""
    n, width = chars.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


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


# --- Clients: static attributes and their add-on entries ----------------------------


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


def _non_whitelisted_popularity() -> np.ndarray:
    """Probability of each non-whitelisted extension (catalog order) for one draw: Zipf-like."""
    popularity = 1.0 / np.arange(1, NON_WHITELISTED_EXTENSIONS + 1) ** 0.9
    return popularity / popularity.sum()


# --- Add-on metadata ----------------------------------------------------------------------


def _expected_install_share(spec: DemoSpec, catalog: _Catalog, groups: _Groups) -> np.ndarray:
    """For each extension (whitelisted, then the others), the expected share of clients having it."""
    counts, count_weights = zip(*VALID_COUNT_WEIGHTS.items())
    mean_valid = np.average(counts, weights=count_weights)
    taste_weight = np.exp(groups.taste_log_weight.astype(np.float64))
    draw_probability = taste_weight / taste_weight.sum(axis=1, keepdims=True)
    whitelisted = np.zeros(catalog.non_whitelisted_start)
    np.add.at(whitelisted, groups.taste, groups.share[:, None] * np.minimum(1.0, mean_valid * draw_probability))
    others = np.minimum(1.0, NON_WHITELISTED_PER_CLIENT * _non_whitelisted_popularity())
    return np.concatenate([whitelisted, others])


def _producers(rng: np.random.Generator, guids: list[str]) -> np.ndarray:
    """Each extension's producer: the vendor domain of ``name@vendor.tld`` GUIDs, else one of a
    pool of developer accounts, a few of which publish many add-ons (a shifted Zipf)."""
    vendor = np.array(
        [guid.rpartition("@")[2] if "@" in guid and not guid.endswith("@jetpack") else "" for guid in guids],
        dtype=object,
    )
    accounts = max(1, int((vendor == "").sum() * ACCOUNT_SHARE))
    names = set()
    while len(names) < accounts:
        syllables = rng.integers(len(VENDOR_SYLLABLES), size=rng.integers(2, 4))
        stem = "".join(VENDOR_SYLLABLES[i] for i in syllables).capitalize()
        names.add(stem + ACCOUNT_SUFFIXES[rng.integers(len(ACCOUNT_SUFFIXES))])
    pool = np.array(sorted(names), dtype=object)[rng.permutation(accounts)]
    weights = 1.0 / (np.arange(accounts) + ACCOUNT_RANK_SHIFT)
    account = rng.choice(accounts, size=len(guids), p=weights / weights.sum())
    return np.where(vendor != "", vendor, pool[account])


def _addon_metadata(spec: DemoSpec, catalog: _Catalog, groups: _Groups) -> list[AddonInfo]:
    """A metadata record for every whitelisted and non-whitelisted extension (catalog order).

    Audiences follow the add-ons' popularity in the generated telemetry, with noise (heavily
    skewed); a few producers are low quality (poor ratings, many reports, policy or abuse
    flags) and a few larger ones are subscribed creators. Release counts come from the
    catalog's release schedule.
    """
    rng = _rng(spec.seed, STREAM_METADATA)
    count = catalog.system_start
    guids = catalog.ids.slice(0, count).to_pylist()
    names = catalog.names.slice(0, count).to_pylist()
    producer = _producers(rng, guids)
    noise = rng.lognormal(0.0, 0.8, count)
    users = np.round(USERS_REPRESENTED * _expected_install_share(spec, catalog, groups) * noise)

    producers, producer_of = np.unique(producer, return_inverse=True)
    low_quality = (rng.random(len(producers)) < LOW_QUALITY_PRODUCER_SHARE)[producer_of]
    audience = np.bincount(producer_of, weights=users)
    big = audience >= np.quantile(audience, 0.8)  # subscribed creators come from the top fifth
    subscribed = (big & (rng.random(len(producers)) < SUBSCRIBED_PRODUCER_SHARE / 0.2))[producer_of] & ~low_quality

    rating = np.where(low_quality, rng.uniform(1.0, 2.4, count), np.clip(rng.normal(4.2, 0.45, count), 1.0, 5.0))
    rating_count = rng.poisson(users * np.where(low_quality, 0.004, 0.001))
    report_rate = np.where(low_quality, rng.uniform(2e-3, 1e-2, count), rng.lognormal(np.log(2e-6), 1.0, count))
    risk = np.where(low_quality, rng.uniform(0.9, 1.0, count), rng.beta(2.0, 8.0, count))
    policy_violation = low_quality & (rng.random(count) < 0.5)
    abuse_flagged = low_quality & (rng.random(count) < 0.6)
    abuse_severe = abuse_flagged & (rng.random(count) < 0.5)
    # Releases in the last RECENT_DAYS days of the window, from the catalog's release schedule.
    period = catalog.release_period[:count].astype(np.int64)
    shift = catalog.release_offset[:count].astype(np.int64)
    last_day = spec.days - 1
    recent = (last_day + shift) // period - (last_day - RECENT_DAYS + shift) // period
    return [
        AddonInfo(
            guid=guids[i],
            name=names[i],
            producer=str(producer[i]),
            weekly_users=float(users[i]),
            average_rating=round(float(rating[i]), 2) if rating_count[i] else 0.0,
            rating_count=int(rating_count[i]),
            report_rate=float(f"{report_rate[i]:.3g}"),
            risk_score=round(float(risk[i]), 3),
            policy_violation=bool(policy_violation[i]),
            abuse_flagged=bool(abuse_flagged[i]),
            abuse_flagged_severe=bool(abuse_severe[i]),
            recent_updates=int(recent[i]),
            subscribed=bool(subscribed[i]),
        )
        for i in range(count)
    ]


# --- One day ----------------------------------------------------------------------------


def _masked(values: np.ndarray, rng: np.random.Generator, null_share: float, arrow_type: pa.DataType) -> pa.Array:
    return pa.array(values, type=arrow_type, mask=rng.random(len(values)) < null_share)


def _take(table: pa.Array, indices: np.ndarray, rng: np.random.Generator, null_share: float) -> pa.Array:
    """Strings from a small table; a null index gives a null value, so nulls cost nothing extra."""
    mask = rng.random(len(indices)) < null_share if null_share else None
    return table.take(pa.array(indices, pa.int64(), mask=mask))


def _addon_lists(
    day: int,
    rows: np.ndarray,
    rng: np.random.Generator,
    catalog: _Catalog,
    entries: _Entries,
    window_start_epoch_day: int,
) -> pa.ListArray:
    """The add-ons each row's client has on window day `day`, as list<struct>."""
    starts = entries.offsets[rows]
    lengths = entries.offsets[rows + 1] - starts
    row_of = np.repeat(np.arange(len(rows)), lengths)
    entry = np.arange(len(row_of)) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    present = (entries.install[entry] <= day) & (day < entries.removal[entry])
    entry, row_of = entry[present], row_of[present]
    offsets = np.zeros(len(rows) + 1, np.int32)
    np.cumsum(np.bincount(row_of, minlength=len(rows)), out=offsets[1:])

    addon = entries.addon[entry]
    flags = entries.flags[entry]
    install = entries.install[entry]
    period, shift = catalog.release_period[addon], catalog.release_offset[addon]
    release = (day + shift) // period
    # Auto-update: the installed version is the add-on's latest release, or what was installed.
    update = np.maximum(install, release * period - shift)
    foreign = (flags & FOREIGN_INSTALL) != 0
    structs = pa.StructArray.from_arrays(
        [
            catalog.ids.take(addon),
            (flags & BLOCKLISTED) != 0,
            catalog.names.take(addon),
            (flags & USER_DISABLED) != 0,
            (flags & APP_DISABLED) != 0,
            catalog.versions.take(catalog.version_base[addon] + release),
            np.where(foreign, 8, catalog.scope[addon]).astype(np.int32),
            pa.array(ADDON_TYPES).take(catalog.type_code[addon]),
            foreign,
            catalog.has_binary_components[addon],
            (window_start_epoch_day + install).astype(np.int32),
            (window_start_epoch_day + update).astype(np.int32),
            catalog.signed_state[addon],
            catalog.is_system[addon],
            catalog.is_web_extension[addon],
            catalog.multiprocess_compatible[addon],
        ],
        fields=list(ADDON_STRUCT),
    )
    return pa.ListArray.from_arrays(offsets, structs, mask=pa.array(rng.random(len(rows)) < NULL_ADDONS))


def _day_table(
    day: int, spec: DemoSpec, catalog: _Catalog, clients: _Clients, entries: _Entries, window_start_epoch_day: int
) -> pa.Table:
    """The rows of window day `day`: one per client seen that day."""
    rng = _rng(spec.seed, STREAM_DAYS, day)
    u = rng.random(spec.clients, dtype=np.float32)
    seen = (clients.first <= day) & (day <= clients.last) & ((clients.anchor == day) | (u < clients.daily_probability))
    rows = np.flatnonzero(seen)

    level = clients.engagement[rows].astype(np.float64)
    hours = level[:, 0] * rng.lognormal(0.0, DAILY_HOURS_SPREAD, len(rows))
    bookmarks = np.round(level[:, 1] * (1.0 + 0.002 * day) * rng.lognormal(0.0, 0.03, len(rows)), 1)
    tabs = rng.poisson(level[:, 2] * hours)
    uris = rng.poisson(level[:, 3] * hours)
    domains = np.round(level[:, 4] * rng.lognormal(0.0, DAILY_DOMAINS_SPREAD, len(rows)), 2)

    locale = clients.locale[rows]
    columns = {
        "client_id": _take(clients.ids, rows, rng, NULL_CLIENT_ID),
        "sample_id": pa.array(clients.sample_id[rows], pa.int64()),
        "channel": _take(pa.array([c for c, _ in CHANNELS]), clients.channel[rows], rng, 0.0),
        "app_name": _take(pa.array([a for a, _ in APPS]), clients.app[rows], rng, 0.0),
        "country": _take(pa.array([country for _, country, *_ in LOCALES]), locale, rng, NULL_CATEGORICAL),
        "city": _take(clients.city_names, clients.city[rows], rng, NULL_CATEGORICAL),
        "locale": _take(pa.array([name for name, *_ in LOCALES]), locale, rng, NULL_CATEGORICAL),
        "os": _take(pa.array(OS_NAMES), clients.os[rows], rng, NULL_CATEGORICAL),
        "profile_age_in_days": pa.array(clients.profile_age[rows] + day, pa.int32()),
        "subsession_hours_sum": _masked(hours, rng, NULL_NUMBER, pa.float64()),
        "places_bookmarks_count_mean": _masked(bookmarks, rng, NULL_NUMBER, pa.float64()),
        "scalar_parent_browser_engagement_tab_open_event_count_sum": _masked(tabs, rng, NULL_NUMBER, pa.int64()),
        "scalar_parent_browser_engagement_total_uri_count_sum": _masked(uris, rng, NULL_NUMBER, pa.int64()),
        "scalar_parent_browser_engagement_unique_domains_count_mean": _masked(domains, rng, NULL_NUMBER, pa.float64()),
        "active_addons": _addon_lists(day, rows, rng, catalog, entries, window_start_epoch_day),
    }
    return pa.Table.from_arrays([columns[field.name] for field in DAY_SCHEMA], schema=DAY_SCHEMA)


# --- Writing ---------------------------------------------------------------------------


def _replace_atomically(final: Path, write: Callable[[Path], object]) -> None:
    """Write through a hidden temporary name next to `final`, then rename it into place.

    Readers skip the dot-prefixed, non-.parquet temporary name, so an interrupted run leaves
    either the old file or the complete new one, never a truncated file.
    """
    temporary = final.with_name(f".{final.name}.tmp")
    try:
        write(temporary)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def _write_parquet(table: pa.Table, final: Path) -> None:
    _replace_atomically(final, lambda path: pq.write_table(table, path))


def _remove_stale_days(clients_daily: Path, keep: set[str]) -> None:
    """Drop day files this generator wrote on an earlier run for days outside the new window."""
    pattern = re.compile(re.escape(DAY_FOLDER_PREFIX) + r"\d{8}")
    for folder in clients_daily.iterdir():
        if folder.is_dir() and pattern.fullmatch(folder.name) and folder.name not in keep:
            (folder / DAY_FILE_NAME).unlink(missing_ok=True)
            if not any(folder.iterdir()):
                folder.rmdir()


def write_demo_dataset(out_dir: str | os.PathLike, spec: DemoSpec) -> DemoSummary:
    """Write a demo clients_daily dataset, its whitelist and the planted groups under `out_dir`.

    Layout: `clients_daily/submission_date_s3=YYYYMMDD/part-0.parquet` for each of the
    `spec.days` days ending on `spec.end_date`, `whitelist.json` (JSON list of GUIDs),
    `groups.parquet` (client_id, group: the planted truth) and `addon_metadata.json` (a record
    per whitelisted and non-whitelisted extension, `addon_metadata`'s schema). The clients_daily folder belongs to
    the generator: day files from an earlier run outside the new window are removed.
    """
    _validate(spec)
    end_date = spec.end_date or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    dates = [end_date - dt.timedelta(days=spec.days - 1 - i) for i in range(spec.days)]
    out = Path(out_dir)
    clients_daily = out / "clients_daily"
    clients_daily.mkdir(parents=True, exist_ok=True)

    catalog = _build_catalog(spec)
    groups = _build_groups(spec)
    clients = _build_clients(spec, groups)
    entries = _build_entries(spec, catalog, groups, clients)

    whitelist_path = out / "whitelist.json"
    _replace_atomically(whitelist_path, lambda path: path.write_text(json.dumps(catalog.whitelist, indent=1)))
    groups_path = out / "groups.parquet"
    truth = pa.table({"client_id": clients.ids, "group": pa.array(clients.group, pa.int32())})
    _write_parquet(truth, groups_path)
    metadata_path = out / "addon_metadata.json"
    metadata = addon_metadata_json(_addon_metadata(spec, catalog, groups))
    _replace_atomically(metadata_path, lambda path: path.write_bytes(metadata))

    window_start_epoch_day = (dates[0] - dt.date(1970, 1, 1)).days
    rows = 0
    folders = set()
    # Parquet encoding releases the GIL: one writer thread encodes day d while day d+1 is
    # generated. Waiting for the previous write before queueing the next keeps at most two
    # days in memory.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = None
        for day, date in enumerate(dates):
            table = _day_table(day, spec, catalog, clients, entries, window_start_epoch_day)
            folder = clients_daily / day_folder(date)
            folder.mkdir(exist_ok=True)
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_parquet, table, folder / DAY_FILE_NAME)
            folders.add(folder.name)
            rows += table.num_rows
        pending.result()
    _remove_stale_days(clients_daily, folders)
    return DemoSummary(
        clients_daily=clients_daily,
        whitelist=whitelist_path,
        groups=groups_path,
        rows=rows,
        days=dates,
        addon_metadata=metadata_path,
    )


def main_demo_data(argv: list[str] | None = None) -> int:
    """Command line: write a demo dataset and print where it went."""
    defaults = DemoSpec()
    parser = argparse.ArgumentParser(prog="demo-data", description="Write a synthetic clients_daily dataset.")
    parser.add_argument("--clients", type=int, default=defaults.clients, help="number of clients")
    parser.add_argument("--days", type=int, default=defaults.days, help="number of day folders")
    parser.add_argument(
        "--end-date", type=dt.date.fromisoformat, default=None, help="last day, YYYY-MM-DD (default: yesterday UTC)"
    )
    parser.add_argument("--groups", type=int, default=defaults.groups, help="planted taste groups")
    parser.add_argument("--whitelist-size", type=int, default=defaults.whitelist_size, help="whitelisted add-ons")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    parser.add_argument("--out", default="data/demo", help="output folder (default: data/demo)")
    args = parser.parse_args(argv)
    spec = DemoSpec(
        clients=args.clients,
        days=args.days,
        end_date=args.end_date,
        groups=args.groups,
        whitelist_size=args.whitelist_size,
        seed=args.seed,
    )
    try:
        _validate(spec)
    except ValueError as error:
        parser.error(str(error))
    summary = write_demo_dataset(args.out, spec)
    print(f"clients_daily: {summary.clients_daily} ({summary.rows} rows, "
          f"{summary.days[0]:%Y-%m-%d} .. {summary.days[-1]:%Y-%m-%d})")
    print(f"whitelist:     {summary.whitelist}")
    print(f"groups:        {summary.groups}")
    print(f"add-on metadata: {summary.addon_metadata}")
    return 0
