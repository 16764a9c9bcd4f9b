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
| TAAR_DUCKDB_TEMP_DIRECTORY| engine.temp_directory: where it spills | <system temp>/taar_assets-duckdb |
| TAAR_ADDON_METADATA       | recommendation_inputs.addon_metadata   | unset: producer boosting off     |
| TAAR_ENGINE               | engine: local or spark (**)            | local                            |
| TAAR_SPARK_MASTER         | engine.master (spark-submit's wins)    | local[2]                         |
| TAAR_SPARK_REMOTE         | engine.remote (Spark Connect sc://...) | unset: use the master            |
| TAAR_SPARK_CONF           | engine.conf (JSON object of settings)  | {}                               |
| TAAR_INPUT_DONE_MARKER    | clients_daily.done_marker (***)        | _SUCCESS; empty: no marker       |
| TAAR_INPUT_QUIET_MINUTES  | clients_daily.quiet_minutes (***)      | 60; empty: marker only           |
| TAAR_MODEL_MAX_AGE_HOURS  | similarity_model's freshness policy    | 36                               |
| TAAR_DRIFT_PANEL          | drift_panel.location (JSON-lines)      | the packaged panel               |
| TAAR_ALERT_WEBHOOK        | alert_webhook.url (run failures)       | unset: no notification           |
| TAAR_UI_URL               | alert_webhook.ui_url (links to runs)   | unset: no link                   |
| TAAR_S3_ENDPOINT_URL      | storage_options endpoint_url (*)       | AWS_ENDPOINT_URL, else real AWS  |
| TAAR_S3_REGION            | storage_options region_name (*)        | AWS_REGION / AWS_DEFAULT_REGION  |
| TAAR_S3_CONNECT_TIMEOUT   | storage_options connect_timeout (*), s | 5                                |
| TAAR_S3_READ_TIMEOUT      | storage_options read_timeout (*), s    | 20                               |
| TAAR_S3_MAX_ATTEMPTS      | storage_options retries (*): attempts  | 3                                |
| TAAR_OBJECT_TIMEOUT       | one object operation in all (****), s  | 120                              |
| TAAR_PUBLISH_TIME_LIMIT   | publisher.time_limit: the publish step | 600                              |
| TAAR_LEASE_SECONDS        | leases of a partition and of publishing| 120                              |
| AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE | S3 credentials, read by botocore | unset |
| STORAGE_EMULATOR_HOST     | gs:// goes to this GCS emulator, anonymously (*) | unset: real GCS, Google's default credentials |

(*) Each location gets the options of its own protocol (`Settings.storage_options_for`): for
s3://, s3fs `client_kwargs` (endpoint, region) and `config_kwargs` (botocore's connect and read
time-outs, and its retries: that many attempts per request, "standard" mode); for gs://, gcsfs's
`token` (Google's default credentials, or anonymous for an emulator); none for a local path.
Relative paths are resolved against the working directory (the project root when launched with
`dg` or `dagster dev` from there).

(**) LocalEngine or SparkEngine (taar_assets/engines/). The TAAR_SPARK_* variables apply to
the Spark engine only, which reads and writes s3:// locations as s3a:// through Hadoop: its
S3 settings (endpoint, credentials provider) go in TAAR_SPARK_CONF as spark.hadoop.fs.s3a.*.

(***) A day of clients_daily is complete, and the sensor starts its partition, when its folder
holds the marker file or when none of its files changed for the quiet period
(taar_assets/monitoring/arrival.py). TAAR_MODEL_MAX_AGE_HOURS is read when the definitions load.
(****) The whole of one object write or read of the publisher, the IO managers' uploads and the
leases, every attempt included: a request the store accepts and never answers ends there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from fsspec.core import split_protocol

from taar_assets.engines import Engine
from taar_assets.engines.local import LocalEngine
from taar_assets.engines.spark import SparkEngine
from taar_assets.io_managers import DocumentIOManagerFactory, ParquetIOManagerFactory
from taar_assets.monitoring.arrival import CompletenessRule, DayStatus, day_statuses, present_days
from taar_assets.monitoring.notify import failure_notification, post_json
from taar_assets.monitoring.panel import load_panel
from taar_assets.recommendation.addon_metadata import AddonMetadata, load_addon_metadata
from taar_assets.similarity.input_contract import Window, WindowFiles, find_window_files, list_days
from taar_assets.similarity.whitelist import load_whitelist

DEMO_ROOT = "data/demo"


def _first_set(environ: Mapping[str, str], *names: str) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)


def _optional_number(environ: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A number from the environment; an empty value means "none"."""
    raw = environ.get(name)
    if raw is None:
        return default
    if not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
def _positive(environ: Mapping[str, str], name: str, default: float, whole: bool = False) -> float:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = 0
    if value <= 0:
        kind = "a whole number" if whole else "a number of seconds"
        raise ValueError(f"{name} must be {kind} above 0, got {raw!r}")
    return value


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
    duckdb_temp_directory: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    publish_layout: str = "service"
    publish_bz2: bool = False
    addon_metadata: str | None = None
    engine: str = "local"
    spark_master: str = "local[2]"
    spark_remote: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    input_done_marker: str | None = "_SUCCESS"
    input_quiet_minutes: float | None = 60
    model_max_age_hours: float = 36
    drift_panel: str | None = None
    alert_webhook: str | None = None
    ui_url: str | None = None
    s3_connect_timeout: float = 5.0
    s3_read_timeout: float = 20.0
    s3_max_attempts: int = 3
    object_timeout: float = 120.0
    publish_time_limit: float = 600.0
    lease_seconds: float = 120.0
    gcs_emulator_host: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            clients_daily=environ.get("TAAR_CLIENTS_DAILY", f"{DEMO_ROOT}/clients_daily"),
            whitelist=environ.get("TAAR_WHITELIST", f"{DEMO_ROOT}/whitelist.json"),
            storage=environ.get("TAAR_STORAGE", "data/storage"),
            publish=environ.get("TAAR_PUBLISH", "data/published"),
            duckdb_memory_limit=environ.get("TAAR_DUCKDB_MEMORY_LIMIT", "3GB"),
            duckdb_temp_directory=environ.get("TAAR_DUCKDB_TEMP_DIRECTORY") or None,
            s3_endpoint_url=_first_set(environ, "TAAR_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
            s3_region=_first_set(environ, "TAAR_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
            publish_layout=environ.get("TAAR_PUBLISH_LAYOUT", "service"),
            publish_bz2=environ.get("TAAR_PUBLISH_BZ2", "").lower() in ("1", "true", "yes"),
            addon_metadata=environ.get("TAAR_ADDON_METADATA") or None,
            engine=environ.get("TAAR_ENGINE", "local"),
            spark_master=environ.get("TAAR_SPARK_MASTER", "local[2]"),
            spark_remote=environ.get("TAAR_SPARK_REMOTE") or None,
            spark_conf=_spark_conf(environ.get("TAAR_SPARK_CONF", "{}")),
            input_done_marker=environ.get("TAAR_INPUT_DONE_MARKER", "_SUCCESS") or None,
            input_quiet_minutes=_optional_number(environ, "TAAR_INPUT_QUIET_MINUTES", 60),
            model_max_age_hours=_optional_number(environ, "TAAR_MODEL_MAX_AGE_HOURS", 36) or 36,
            drift_panel=environ.get("TAAR_DRIFT_PANEL") or None,
            alert_webhook=environ.get("TAAR_ALERT_WEBHOOK") or None,
            ui_url=environ.get("TAAR_UI_URL") or None,
            s3_connect_timeout=_positive(environ, "TAAR_S3_CONNECT_TIMEOUT", 5.0),
            s3_read_timeout=_positive(environ, "TAAR_S3_READ_TIMEOUT", 20.0),
            s3_max_attempts=int(_positive(environ, "TAAR_S3_MAX_ATTEMPTS", 3, whole=True)),
            object_timeout=_positive(environ, "TAAR_OBJECT_TIMEOUT", 120.0),
            publish_time_limit=_positive(environ, "TAAR_PUBLISH_TIME_LIMIT", 600.0),
            lease_seconds=_positive(environ, "TAAR_LEASE_SECONDS", 120.0),
            gcs_emulator_host=environ.get("STORAGE_EMULATOR_HOST") or None,
        )

    def storage_options_for(self, location: str) -> dict[str, Any]:
        """The fsspec options of `location`'s protocol: for s3://, the endpoint and region when set
        and always the time-outs and retries of every request (botocore's defaults would wait
        minutes); for gs://, gcsfs's credentials; none for a local path."""
        protocol = split_protocol(location)[0]
        if protocol == "s3":
            client_kwargs = {
                key: value
                for key, value in (("endpoint_url", self.s3_endpoint_url), ("region_name", self.s3_region))
                if value
            }
            config_kwargs = {
                "connect_timeout": self.s3_connect_timeout,
                "read_timeout": self.s3_read_timeout,
                "retries": {"total_max_attempts": self.s3_max_attempts, "mode": "standard"},
            }
            return {"config_kwargs": config_kwargs, **({"client_kwargs": client_kwargs} if client_kwargs else {})}
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
    storage_options: dict[str, Any] = {}  # fsspec options for the root's object store (endpoint, time-outs)
    whitelist_storage_options: dict[str, Any] = {}  # the same for the whitelist's
    done_marker: str | None = "_SUCCESS"  # a day folder holding it is complete
    quiet_minutes: float | None = 60  # ... as is one whose files have not changed for this long

    def present_days(self) -> set[dt.date]:
        return present_days(self.root, self.storage_options)

    def day_statuses(self, days: Iterable[dt.date], now: dt.datetime) -> list[DayStatus]:
        rule = CompletenessRule(marker=self.done_marker, quiet_minutes=self.quiet_minutes)
        return day_statuses(self.root, days, rule, now, self.storage_options)

    def window_files(self, window: Window, require_end_day: bool, read_days: list | None = None) -> WindowFiles:
        return find_window_files(
            self.root, window, require_end_day=require_end_day, storage_options=self.storage_options,
            read_days=read_days,
        )

    def list_days(self, days: list) -> dict:
        """{day: DayFiles} of the days that have visible parquet files (no footer read)."""
        return list_days(self.root, days, self.storage_options)[1]

    def load_whitelist(self) -> list[str]:
        return load_whitelist(self.whitelist, self.whitelist_storage_options)


class RecommendationInputs(dg.ConfigurableResource):
    """Optional inputs of the recommendation assets: the add-on metadata (producer signals)."""

    addon_metadata: str | None = None
    storage_options: dict[str, Any] = {}

    def load_addon_metadata(self) -> AddonMetadata:
        """{guid: AddonInfo}; empty when no location is configured."""
        return load_addon_metadata(self.addon_metadata, self.storage_options) if self.addon_metadata else {}


class DriftPanel(dg.ConfigurableResource):
    """The fixed client profiles the drift monitor scores every day (JSON lines)."""

    location: str | None = None  # path or URL; None: the panel shipped in the package
    storage_options: dict[str, Any] = {}

    def load(self) -> list[dict]:
        return load_panel(self.location, self.storage_options)


class AlertWebhook(dg.ConfigurableResource):
    """Where run failures are announced: a URL that takes a JSON POST (e.g. a Slack incoming webhook)."""

    url: str | None = None  # None: failures are not announced
    ui_url: str | None = None  # the Dagster UI's address, for a link to the failed run

    def announce_failure(self, job: str, run_id: str, partition: str | None, error: str) -> bool:
        """POST the failure; False when no webhook is configured. Raises WebhookError."""
        if not self.url:
            return False
        post_json(self.url, failure_notification(job, run_id, partition, error, self.ui_url))
        return True


def build_engine(settings: Settings) -> Engine:
    if settings.engine == "local":
        spill = {"temp_directory": settings.duckdb_temp_directory} if settings.duckdb_temp_directory else {}
        return LocalEngine(memory_limit=settings.duckdb_memory_limit, **spill)
    if settings.engine == "spark":
        return SparkEngine(master=settings.spark_master, remote=settings.spark_remote, conf=settings.spark_conf)
    raise ValueError(f"TAAR_ENGINE must be 'local' or 'spark', got {settings.engine!r}")


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    from taar_assets.publishing import ModelPublisher

    settings = settings or Settings.from_env()
    stored_days = {
        "storage_options": settings.storage_options_for(settings.storage),
        "object_timeout": settings.object_timeout,
        "lease_seconds": settings.lease_seconds,
    }
    return {
        "clients_daily": ClientsDailyResource(
            root=settings.clients_daily,
            whitelist=settings.whitelist,
            storage_options=settings.storage_options_for(settings.clients_daily),
            whitelist_storage_options=settings.storage_options_for(settings.whitelist),
            done_marker=settings.input_done_marker,
            quiet_minutes=settings.input_quiet_minutes,
        ),
        "engine": build_engine(settings),
        "io_manager": ParquetIOManagerFactory(base_url=settings.storage, **stored_days),
        "document_io_manager": DocumentIOManagerFactory(base_url=settings.storage, **stored_days),
        "recommendation_inputs": RecommendationInputs(
            addon_metadata=settings.addon_metadata,
            storage_options=settings.storage_options_for(settings.addon_metadata or ""),
        ),
        "drift_panel": DriftPanel(location=settings.drift_panel, storage_options=settings.storage_options_for(settings.drift_panel or "")),
        "alert_webhook": AlertWebhook(url=settings.alert_webhook, ui_url=settings.ui_url),
        "publisher": ModelPublisher(
            location=settings.publish,
            layout=settings.publish_layout,
            bz2=settings.publish_bz2,
            storage_options=settings.storage_options_for(settings.publish),
            object_timeout=settings.object_timeout,
            time_limit=settings.publish_time_limit,
            lease_seconds=settings.lease_seconds,
        ),
    }
