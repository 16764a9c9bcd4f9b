"""The one table of the client features the similarity model uses (docs/behaviour.md §2, §4, §6).

Each feature is read from a clients_daily column, kept under the original job's name in the
samples and the donor pool, and published under the key the TAAR service reads, in the
service's unit. Everything else (the distance's feature lists, the sample columns, the
published donor keys, the service's profile fields) derives from this table; the order of
the rows is the order of the keys in the published donors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["categorical", "continuous"]
SECONDS_PER_HOUR = 3600
# A missing value, as the distance reads it and as the donors are published (never null): an
# unknown category equals only another unknown one; an unknown number counts as 0.
MISSING_CATEGORY = ""
MISSING_NUMBER = 0.0
# float64 holds 15 significant decimal digits exactly: a rounded value times a unit scale
# printed to 15 digits is the exact decimal product, without the multiplication's float noise.
FLOAT_DIGITS = 15


@dataclass(frozen=True)
class Feature:
    name: str  # column in samples and donor_pool; donors.json key in the "original" layout
    source: str  # clients_daily column
    service_key: str  # donors.json key in the "service" layout (what the TAAR service reads)
    kind: Kind  # categorical: missing is ""; continuous: missing is 0 (docs/behaviour.md §4)
    service_scale: float = 1.0  # sample unit -> service unit
    unit: str = ""  # the unit in the samples (and in the "original" layout)
    # Continuous values outside [0, plausible_max], NaN or infinite are read as missing: far
    # above what one client does in a day, they are errors of the telemetry, not behaviour.
    plausible_max: float | None = None

    @property
    def missing(self) -> str | float:
        return MISSING_CATEGORY if self.kind == "categorical" else MISSING_NUMBER

    def in_service_unit(self, value: float) -> float:
        """`value` (sample unit) in the service's unit: 2.2 hours is 7920.0 seconds, not 7920.000000000001."""
        return float(f"{value * self.service_scale:.{FLOAT_DIGITS}g}") if self.service_scale != 1 else float(value)


FEATURES = (
    Feature("city", "city", "geo_city", "categorical"),
    Feature(
        "subsession_hours_sum", "subsession_hours_sum", "subsession_length", "continuous",
        SECONDS_PER_HOUR, "hours", plausible_max=1_000,
    ),
    Feature("locale", "locale", "locale", "categorical"),
    Feature("os", "os", "os", "categorical"),
    Feature("bookmark_count", "places_bookmarks_count_mean", "bookmark_count", "continuous", plausible_max=1e7),
    Feature(
        "tab_open_count", "scalar_parent_browser_engagement_tab_open_event_count_sum", "tab_open_count", "continuous",
        plausible_max=1e7,
    ),
    Feature(
        "total_uri", "scalar_parent_browser_engagement_total_uri_count_sum", "total_uri", "continuous",
        plausible_max=1e8,
    ),
    Feature(
        "unique_tlds", "scalar_parent_browser_engagement_unique_domains_count_mean", "unique_tlds", "continuous",
        plausible_max=1e7,
    ),
)
FEATURE_BY_NAME = {feature.name: feature for feature in FEATURES}

CATEGORICAL_FEATURES = tuple(f.name for f in FEATURES if f.kind == "categorical")
CONTINUOUS_FEATURES = tuple(f.name for f in FEATURES if f.kind == "continuous")
FEATURE_NAMES = tuple(f.name for f in FEATURES)

ADDONS_COLUMN = "active_addons"  # a donor's valid add-on GUIDs (the original job's name)
SUBMISSION_DATE = "submission_date"  # the day of the client's latest qualifying row
# The columns of the samples stage: the client, its raw add-on list, its features, its row's day.
SAMPLE_COLUMNS = ("client_id", ADDONS_COLUMN, *FEATURE_NAMES, SUBMISSION_DATE)

# A client profile as the TAAR service scores it: categoricals first, then continuous values.
PROFILE_FIELDS = tuple(
    f.service_key for kind in ("categorical", "continuous") for f in FEATURES if f.kind == kind
)

Layout = Literal["service", "original"]
LAYOUTS: tuple[Layout, ...] = ("service", "original")
# Donor pool column -> published key, per layout (the add-on list keeps its name).
DONOR_KEYS: dict[str, dict[str, str]] = {
    "service": {**{f.name: f.service_key for f in FEATURES}, ADDONS_COLUMN: ADDONS_COLUMN},
    "original": {**{f.name: f.name for f in FEATURES}, ADDONS_COLUMN: ADDONS_COLUMN},
}
