"""The row rules of stages 1 and 2 (docs/behaviour.md §3.1, §3.2) as data, so both engines apply the same ones."""

from __future__ import annotations

from dataclasses import dataclass

# Stage 1: which clients_daily rows qualify.
RELEASE_CHANNEL = "release"
FIREFOX = "Firefox"

# Stage 2: an add-on is valid when none of these flags is set (a null flag reads as False, as
# the original's truthiness test did), its type is an extension and its GUID is whitelisted.
DISQUALIFYING_FLAGS = ("is_system", "app_disabled", "user_disabled", "foreign_install")
RECOMMENDABLE_TYPE = "extension"
# The add-on struct fields the rule reads; samples keep only these.
ADDON_STRING_FIELDS = ("addon_id", "type")
ADDON_FIELDS_READ = (*ADDON_STRING_FIELDS, *DISQUALIFYING_FLAGS)


@dataclass(frozen=True)
class SampleRule:
    """A row qualifies when client_id and active_addons are set, the add-on count is strictly
    between the bounds, the channel is release and the app Firefox. Each client's latest
    qualifying row is kept: the latest submission day, then the last file of that day (by
    name), then the last row of that file."""

    min_addons_exclusive: int = 2
    max_addons_exclusive: int = 100

    def __post_init__(self) -> None:
        if self.min_addons_exclusive < 0 or self.max_addons_exclusive < 1:
            raise ValueError(f"add-on bounds must be non-negative and the upper one positive, got {self}")
