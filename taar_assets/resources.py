"""The one place that maps the environment to resources.

| variable                  | resource / setting                     | default (embedded demo)          |
|---------------------------|----------------------------------------|----------------------------------|
| TAAR_CLIENTS_DAILY        | clients_daily.root                     | data/demo/clients_daily          |
| TAAR_WHITELIST            | clients_daily.whitelist                | data/demo/whitelist.json         |
| TAAR_STORAGE              | io_manager.base_url (intermediates)    | data/storage                     |
| TAAR_PUBLISH              | publisher.location (published model)   | data/published                   |
| TAAR_PUBLISH_LAYOUT       | publisher.layout: service | original   | service                          |
| TAAR_PUBLISH_BZ2          | publisher.bz2 (1/true: add bz2 copies) | off                              |
| TAAR_DUCKDB_MEMORY_LIMIT  | engine.memory_limit (local engine)     | 3GB                              |
| TAAR_ADDON_METADATA       | recommendation_inputs.addon_metadata   | unset: producer boosting off     |
| TAAR_ENGINE               | engine: local or spark (**)            | local                            |
| TAAR_SPARK_MASTER         | engine.master (spark-submit's wins)    | local[2]                         |
| TAAR_SPARK_REMOTE         | engine.remote (Spark Connect sc://...) | unset: use the master            |
| TAAR_SPARK_CONF           | engine.conf (JSON object of settings)  | {}                               |
| TAAR_S3_ENDPOINT_URL      | storage_options endpoint_url (*)       | AWS_ENDPOINT_URL, else real AWS  |
| TAAR_S3_REGION            | storage_options region_name (*)        | AWS_REGION / AWS_DEFAULT_REGION  |
| AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE | S3 credentials, read by botocore | unset |
| STORAGE_EMULATOR_HOST     | gs:// goes to this GCS emulator, anonymously (*) | unset: real GCS, Google's default credentials |

(*) Each location gets the options of its own protocol (`Settings.storage_options_for`): s3fs
`client_kwargs` for s3://, gcsfs `token` for gs://, none for a local path. Relative paths are
resolved against the working directory (the project root when launched with `dg` or `dagster
dev` from there).

(**) LocalEngine or SparkEngine (taar_assets/engines/). The TAAR_SPARK_* variables apply to
the Spark engine only, which reads and writes s3:// locations as s3a:// through Hadoop: its
S3 settings (endpoint, credentials provider) go in TAAR_SPARK_CONF as spark.hadoop.fs.s3a.*.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from fsspec.core import split_protocol

from taar_assets.engines import Engine
from taar_assets.engines.local import LocalEngine
from taar_assets.engines.spark import SparkEngine
from taar_assets.io_managers import DocumentIOManagerFactory, ParquetIOManagerFactory
from taar_assets.recommendation.addon_metadata import AddonMetadata, load_addon_metadata
from taar_assets.similarity.input_contract import Window, WindowFiles, find_window_files
from taar_assets.similarity.whitelist import load_whitelist

DEMO_ROOT = "data/demo"


def _first_set(environ: Mapping[str, str], *names: str) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)


def _spark_conf(raw: str) -> dict[str, str]:
    try:
        conf = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TAAR_SPARK_CONF is not JSON: {error}") from None
    if not isinstance(conf, dict) or any(isinstance(v, (dict, list)) or v is None for v in conf.values()):
        raise ValueError(f"TAAR_SPARK_CONF must be a JSON object of settings to values, got {raw!r}")
    return {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in conf.items()}


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
    addon_metadata: str | None = None
    engine: str = "local"
    spark_master: str = "local[2]"
    spark_remote: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    gcs_emulator_host: str | None = None

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
            addon_metadata=environ.get("TAAR_ADDON_METADATA") or None,
            engine=environ.get("TAAR_ENGINE", "local"),
            spark_master=environ.get("TAAR_SPARK_MASTER", "local[2]"),
            spark_remote=environ.get("TAAR_SPARK_REMOTE") or None,
            spark_conf=_spark_conf(environ.get("TAAR_SPARK_CONF", "{}")),
            gcs_emulator_host=environ.get("STORAGE_EMULATOR_HOST") or None,
        )

    def storage_options_for(self, location: str) -> dict[str, Any]:
        """The fsspec options of `location`'s protocol: s3fs's endpoint and region for s3://
        (none when unset), gcsfs's credentials for gs://, none for a local path."""
        protocol = split_protocol(location)[0]
        if protocol == "s3":
            client_kwargs = {
                key: value
                for key, value in (("endpoint_url", self.s3_endpoint_url), ("region_name", self.s3_region))
                if value
            }
            return {"client_kwargs": client_kwargs} if client_kwargs else {}
        if protocol in ("gs", "gcs"):
            if not self.gcs_emulator_host:
                return {"token": "google_default"}  # fails at once, not anonymously, without credentials
            # gcsfs and google-cloud-storage find the emulator through STORAGE_EMULATOR_HOST itself.
            # gcsfs's experimental zonal-bucket support asks the bucket's type over gRPC, which
            # emulators do not serve (each call would wait for a 60 s timeout); it is chosen when
            # gcsfs is first imported, which happens after this, when a gs:// location is opened.
            os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
            return {"token": "anon"}
        return {}


class ClientsDailyResource(dg.ConfigurableResource):
    """Where the clients_daily dataset and the curated whitelist live."""

    root: str
    whitelist: str
    storage_options: dict[str, Any] = {}  # fsspec options for the root's object store (endpoint, credentials)
    whitelist_storage_options: dict[str, Any] = {}  # the same for the whitelist's

    def window_files(self, window: Window, require_end_day: bool) -> WindowFiles:
        return find_window_files(
            self.root, window, require_end_day=require_end_day, storage_options=self.storage_options
        )

    def load_whitelist(self) -> list[str]:
        return load_whitelist(self.whitelist, self.whitelist_storage_options)


class RecommendationInputs(dg.ConfigurableResource):
    """Optional inputs of the recommendation assets: the add-on metadata (producer signals)."""

    addon_metadata: str | None = None
    storage_options: dict[str, Any] = {}

    def load_addon_metadata(self) -> AddonMetadata:
        """{guid: AddonInfo}; empty when no location is configured."""
        return load_addon_metadata(self.addon_metadata, self.storage_options) if self.addon_metadata else {}


def build_engine(settings: Settings) -> Engine:
    if settings.engine == "local":
        return LocalEngine(memory_limit=settings.duckdb_memory_limit)
    if settings.engine == "spark":
        return SparkEngine(master=settings.spark_master, remote=settings.spark_remote, conf=settings.spark_conf)
    raise ValueError(f"TAAR_ENGINE must be 'local' or 'spark', got {settings.engine!r}")


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    from taar_assets.publishing import ModelPublisher

    settings = settings or Settings.from_env()
    storage_options = settings.storage_options_for(settings.storage)
    return {
        "clients_daily": ClientsDailyResource(
            root=settings.clients_daily,
            whitelist=settings.whitelist,
            storage_options=settings.storage_options_for(settings.clients_daily),
            whitelist_storage_options=settings.storage_options_for(settings.whitelist),
        ),
        "engine": build_engine(settings),
        "io_manager": ParquetIOManagerFactory(base_url=settings.storage, storage_options=storage_options),
        "document_io_manager": DocumentIOManagerFactory(base_url=settings.storage, storage_options=storage_options),
        "recommendation_inputs": RecommendationInputs(
            addon_metadata=settings.addon_metadata,
            storage_options=settings.storage_options_for(settings.addon_metadata or ""),
        ),
        "publisher": ModelPublisher(
            location=settings.publish,
            layout=settings.publish_layout,
            bz2=settings.publish_bz2,
            storage_options=settings.storage_options_for(settings.publish),
        ),
    }
