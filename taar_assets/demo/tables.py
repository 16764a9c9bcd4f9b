"""The demo world's data tables and tunables: places, add-on names, client behaviour, dirt.

Only constants live here; `catalog`, `population`, `entries`, `metadata` and `generator` turn them
into data. Changing a value changes the generated dataset.
"""

from __future__ import annotations

import numpy as np


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
