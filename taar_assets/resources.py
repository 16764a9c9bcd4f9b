"""The one place that maps the environment to resources.

| variable                  | resource / setting                     | default (embedded demo)          |
|---------------------------|----------------------------------------|----------------------------------|
| TAAR_CLIENTS_DAILY        | clients_daily.root                     | data/demo/clients_daily          |
| TAAR_WHITELIST            | clients_daily.whitelist                | data/demo/whitelist.json         |
| TAAR_STORAGE              | io_manager.base_url (intermediates)    | data/storage                     |
| TAAR_PUBLISH              | publisher.location (published model)   | data/published                   |
| TAAR_PUBLISH_LAYOUT       | publisher.layout: service | original   | service                          |
| TAAR_PUBLISH_BZ2          | publisher.bz2 (1/true: add bz2 copies) | off                              |
| TAAR_DUCKDB_MEMORY_LIMIT  | clients_daily.duckdb_memory_limit      | 3GB                              |
| TAAR_S3_ENDPOINT_URL      | storage_options endpoint_url (*)       | AWS_ENDPOINT_URL, else real AWS  |
| TAAR_S3_REGION            | storage_options region_name (*)        | AWS_REGION / AWS_DEFAULT_REGION  |
| AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE | S3 credentials, read by botocore | unset |

(*) s3fs `client_kwargs` in the `storage_options` of clients_daily, io_manager and publisher,
used for their s3:// locations (local paths ignore them). Relative paths are resolved against
the working directory (the project root when launched with `dg` or `dagster dev` from there).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from taar_assets.io_managers import ParquetIOManagerFactory
from taar_assets.lib import clients_daily as clients_daily_lib
from taar_assets.lib.whitelist import load_whitelist

DEMO_ROOT = "data/demo"


def _first_set(environ: Mapping[str, str], *names: str) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)


@dataclass(frozen=True)
class Settings:
    clients_daily: str
    whitelist: str
    storage: str
    publish: str
    duckdb_memory_limit: str
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    publish_layout: str = "service"
    publish_bz2: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            clients_daily=environ.get("TAAR_CLIENTS_DAILY", f"{DEMO_ROOT}/clients_daily"),
            whitelist=environ.get("TAAR_WHITELIST", f"{DEMO_ROOT}/whitelist.json"),
            storage=environ.get("TAAR_STORAGE", "data/storage"),
            publish=environ.get("TAAR_PUBLISH", "data/published"),
            duckdb_memory_limit=environ.get("TAAR_DUCKDB_MEMORY_LIMIT", "3GB"),
            s3_endpoint_url=_first_set(environ, "TAAR_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
            s3_region=_first_set(environ, "TAAR_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
            publish_layout=environ.get("TAAR_PUBLISH_LAYOUT", "service"),
            publish_bz2=environ.get("TAAR_PUBLISH_BZ2", "").lower() in ("1", "true", "yes"),
        )

    @property
    def storage_options(self) -> dict[str, Any]:
        """s3fs options for every s3:// location; empty when neither endpoint nor region is set."""
        client_kwargs = {
            key: value
            for key, value in (("endpoint_url", self.s3_endpoint_url), ("region_name", self.s3_region))
            if value
        }
        return {"client_kwargs": client_kwargs} if client_kwargs else {}


class ClientsDailyResource(dg.ConfigurableResource):
    """Where the clients_daily dataset and the curated whitelist live."""

    root: str
    whitelist: str
    duckdb_memory_limit: str = "3GB"
    storage_options: dict[str, Any] = {}  # s3fs options for s3:// locations (endpoint, region)

    def window_files(self, window: clients_daily_lib.Window, require_end_day: bool) -> clients_daily_lib.WindowFiles:
        return clients_daily_lib.find_window_files(
            self.root, window, require_end_day=require_end_day, storage_options=self.storage_options
        )

    def load_whitelist(self) -> list[str]:
        return load_whitelist(self.whitelist, self.storage_options)


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    from taar_assets.publishing import ModelPublisher

    settings = settings or Settings.from_env()
    return {
        "clients_daily": ClientsDailyResource(
            root=settings.clients_daily,
            whitelist=settings.whitelist,
            duckdb_memory_limit=settings.duckdb_memory_limit,
            storage_options=settings.storage_options,
        ),
        "io_manager": ParquetIOManagerFactory(base_url=settings.storage, storage_options=settings.storage_options),
        "publisher": ModelPublisher(
            location=settings.publish,
            layout=settings.publish_layout,
            bz2=settings.publish_bz2,
            storage_options=settings.storage_options,
        ),
    }
