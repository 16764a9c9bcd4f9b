"""The one place that maps the environment to resources.

| variable                  | resource / setting                     | default (embedded demo)          |
|---------------------------|----------------------------------------|----------------------------------|
| TAAR_CLIENTS_DAILY        | clients_daily.root                     | data/demo/clients_daily          |
| TAAR_WHITELIST            | clients_daily.whitelist                | data/demo/whitelist.json         |
| TAAR_STORAGE              | io_manager.base_url (intermediates)    | data/storage                     |
| TAAR_PUBLISH              | publisher.location (published model)   | data/published                   |
| TAAR_DUCKDB_MEMORY_LIMIT  | clients_daily.duckdb_memory_limit      | 3GB                              |
| AWS_ENDPOINT_URL, AWS_REGION, AWS_* credentials | every s3:// location (read by s3fs/botocore) | unset |

Relative paths are resolved against the working directory (the project root when launched with
`dg` or `dagster dev` from there).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from taar_assets.io_managers import ParquetIOManagerFactory
from taar_assets.lib import clients_daily as clients_daily_lib
from taar_assets.lib.whitelist import load_whitelist

DEMO_ROOT = "data/demo"


@dataclass(frozen=True)
class Settings:
    clients_daily: str
    whitelist: str
    storage: str
    publish: str
    duckdb_memory_limit: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            clients_daily=environ.get("TAAR_CLIENTS_DAILY", f"{DEMO_ROOT}/clients_daily"),
            whitelist=environ.get("TAAR_WHITELIST", f"{DEMO_ROOT}/whitelist.json"),
            storage=environ.get("TAAR_STORAGE", "data/storage"),
            publish=environ.get("TAAR_PUBLISH", "data/published"),
            duckdb_memory_limit=environ.get("TAAR_DUCKDB_MEMORY_LIMIT", "3GB"),
        )


class ClientsDailyResource(dg.ConfigurableResource):
    """Where the clients_daily dataset and the curated whitelist live."""

    root: str
    whitelist: str
    duckdb_memory_limit: str = "3GB"

    def window_files(self, window: clients_daily_lib.Window, require_end_day: bool) -> clients_daily_lib.WindowFiles:
        return clients_daily_lib.find_window_files(self.root, window, require_end_day=require_end_day)

    def load_whitelist(self) -> list[str]:
        return load_whitelist(self.whitelist)


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    from taar_assets.publishing import ModelPublisher

    settings = settings or Settings.from_env()
    return {
        "clients_daily": ClientsDailyResource(
            root=settings.clients_daily,
            whitelist=settings.whitelist,
            duckdb_memory_limit=settings.duckdb_memory_limit,
        ),
        "io_manager": ParquetIOManagerFactory(base_url=settings.storage),
        "publisher": ModelPublisher(location=settings.publish),
    }
