"""A synthetic but realistic `clients_daily` dataset (docs/behaviour.md §2) with planted taste groups.

The data exists to show that the recommender finds structure that is really there, so it has
some: every client belongs to one planted group, and the group decides which whitelisted
add-ons the client tends to install, its likely locales and cities, its OS and its
engagement levels. Around that signal sits the dirt the pipeline must clean away: null ids,
other channels and apps, system add-ons, themes, dictionaries, disabled and sideloaded
add-ons, add-ons outside the whitelist, lists too short or too long, and clients whose add-ons
change between the days they are seen. Alongside it, `addon_metadata.json` describes every
extension's producer, audience, ratings and flags (the optional TAAR_ADDON_METADATA input).

Modules: `tables` (the constant data tables and tunables), `catalog` (every add-on that can
appear), `population` (planted taste groups, clients, cities), `entries` (the add-ons each
client has over the window), `metadata` (the `addon_metadata.json` records), `spec`
(`DemoSpec`) and `generator` (the day files and `write_demo_dataset`). The command line is
`taar-assets demo-data` (`taar_assets.cli.demo_data`).
"""

from taar_assets.demo.generator import ADDON_STRUCT, DAY_SCHEMA, DemoSummary, write_demo_dataset
from taar_assets.demo.spec import DemoSpec

__all__ = ["ADDON_STRUCT", "DAY_SCHEMA", "DemoSpec", "DemoSummary", "write_demo_dataset"]
