"""Contract tests: the published model served by the TAAR services' own code paths, on demo data.

- The 2017 service: mozilla-taar 0.0.16's own `SimilarityRecommender` downloads donors.json and
  lr_curves.json from bucket `telemetry-parquet`, keys `taar/similarity/...`, with boto3, here
  from the loopback S3 server where `similarity_model` published them.
- The newest service (mozilla/taar, 2022): it downloads `taar/similarity/donors.json.bz2` and
  `lr_curves.json.bz2` from a GCS bucket with google-cloud-storage, bz2-decompresses and parses
  them; here from the GCS emulator where `similarity_model` published them (TAAR_PUBLISH=gs://).
  Its scoring is reproduced below from its documented behaviour: the same features and
  distance, the log of the likelihood ratio at the nearest grid point, donors with a positive
  log ratio vote with it for each of their add-ons, add-ons by summed votes, installed removed.

Data: the `make run` demo (20,000 clients, 120 days, seed 0), one partition through the pipeline.

**precision@10 against the planted groups.** The demo generator puts every client in a taste
group (`groups.parquet`: client_id, group) and draws every valid add-on of a client from its
group's taste. The taste of a group is taken as the data shows it: every add-on held by at
least one training client of the group (training: the clients outside the evaluation split).
Each evaluation client (the evaluation split, 30% of its add-ons held out, the rest installed,
as `recommendation_evaluation` does) that the service can serve (all eight profile fields
present: the 2017 service's `can_recommend`) gets the first 10 add-ons the service returns; an
add-on is relevant when it is in the client's group's taste and not installed;
precision@10 = relevant add-ons / 10, averaged over those clients. Locale popularity (the
locale's most common add-ons among training clients, installed removed) is scored the same way
on the same clients, and the service must reach twice its precision.
"""

from __future__ import annotations

import bz2
import dataclasses
import io
import json
from collections import Counter

import boto3
import dagster as dg
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import distance
from upath import UPath

from taar_assets.demo.generator import DemoSpec, write_demo_dataset
from taar_assets.engines.local import LocalEngine
from taar_assets.recommendation.counts import ClientSplit
from taar_assets.recommendation.evaluation import held_out_clients
from taar_assets.recommendation.sources.locale_popularity import LocalePopularity
from taar_assets.resources import Settings
from taar_assets.storage import StoredTable
from taar_assets_tests.conftest import DEMO_END, run_similarity

CATEGORICAL = ["geo_city", "locale", "os"]
CONTINUOUS = ["subsession_length", "bookmark_count", "tab_open_count", "total_uri", "unique_tlds"]
BUCKET_2017, PREFIX = "telemetry-parquet", "taar/similarity"
LIMIT = 10
# No donor may be the best match of more than this share of clients (before the model's fix one
# donor with a null field was the best match of 56% of them).
MOST_COMMON_BEST_DONOR_SHARE = 0.05


@dataclasses.dataclass(frozen=True)
class Evaluation:
    profiles: list[dict]  # the evaluation clients the service can serve
    relevant: list[set[str]]  # each one's planted group's taste, installed removed
    popularity_precision: float


def planted_group_precision(served: list[list[str]], relevant: list[set[str]]) -> float:
    return float(np.mean([len(set(top[:LIMIT]) & wanted) / LIMIT for top, wanted in zip(served, relevant)]))


@pytest.fixture(scope="module")
def published(tmp_path_factory, gcs, s3):
    """The make-run demo built for one day: the model published to gs:// (with the bz2 names) by
    the pipeline, then to s3://telemetry-parquet/taar/similarity by similarity_model alone."""
    root = tmp_path_factory.mktemp("taar_services")
    demo = write_demo_dataset(root / "demo", DemoSpec(clients=20_000, days=120, end_date=DEMO_END))
    gcs_bucket = gcs.create_bucket()
    settings = dataclasses.replace(
        Settings.from_env({"STORAGE_EMULATOR_HOST": gcs.host}),
        clients_daily=str(demo.clients_daily),
        whitelist=str(demo.whitelist),
        storage=str(root / "storage"),
        publish=f"gs://{gcs_bucket}/{PREFIX}",
        publish_bz2=True,
    )
    assert run_similarity(settings, partition_key=f"{DEMO_END}").success
    boto3.client("s3", endpoint_url=s3.endpoint_url, region_name=s3.region).create_bucket(Bucket=BUCKET_2017)
    to_s3 = dataclasses.replace(
        settings, publish=f"s3://{BUCKET_2017}/{PREFIX}", s3_endpoint_url=s3.endpoint_url, s3_region=s3.region
    )
    assert run_similarity(to_s3, partition_key=f"{DEMO_END}", asset_selection=[dg.AssetKey("similarity_model")]).success
    return demo, settings, gcs_bucket


@pytest.fixture(scope="module")
def evaluation(published) -> Evaluation:
    demo, settings, _ = published
    storage = settings.storage
    samples_path, addons_path = f"{storage}/samples/{DEMO_END}.parquet", f"{storage}/addons_per_client/{DEMO_END}.parquet"
    samples, addons = pd.read_parquet(samples_path), pd.read_parquet(addons_path)
    # Every evaluation client of the day, as the evaluation asset's engine selects them.
    every_evaluation_client = LocalEngine().client_sample(
        StoredTable(UPath(addons_path)), StoredTable(UPath(samples_path)), ClientSplit(), "evaluation", len(addons), "contract"
    )
    clients = held_out_clients(every_evaluation_client)
    servable = [i for i, p in enumerate(clients.profiles) if all(p[key] is not None for key in CATEGORICAL + CONTINUOUS)]
    profiles = [clients.profiles[i] for i in servable]

    groups = pd.read_parquet(demo.groups).set_index("client_id")["group"]
    training = addons[ClientSplit().of(addons["client_id"].tolist(), "training")]
    taste: dict[int, set[str]] = {}
    for client_id, held in zip(training["client_id"], training["addon_ids"]):
        taste.setdefault(int(groups[client_id]), set()).update(held)
    relevant = [
        taste[int(groups[clients.client_ids[i]])] - set(clients.profiles[i]["installed_addons"]) for i in servable
    ]
    popularity = LocalePopularity.from_clients(training, samples)
    baseline = planted_group_precision([[guid for guid, _ in popularity.scores(p, LIMIT)] for p in profiles], relevant)
    assert len(profiles) > 1500 and 0.2 < baseline < 0.6
    return Evaluation(profiles, relevant, baseline)


def report(served_by: str, precision: float, evaluation: Evaluation) -> None:
    """The measured figures, shown with pytest -s (the README quotes them)."""
    popularity = evaluation.popularity_precision
    print(
        f"\n{served_by}: precision@10 against the planted groups {precision:.3f}, locale popularity "
        f"{popularity:.3f} ({precision / popularity:.2f}x), {len(evaluation.profiles)} clients"
    )


def assert_not_degenerate(log_ratios: np.ndarray) -> None:
    """(clients x donors) log likelihood ratios: every donor's varies across clients, and no donor
    is the best match of more than MOST_COMMON_BEST_DONOR_SHARE of the clients."""
    assert np.isfinite(log_ratios).any(axis=0).all()
    constant = np.flatnonzero(np.ptp(log_ratios, axis=0) == 0)
    assert not len(constant), f"donors {constant[:10].tolist()} have the same likelihood ratio for every client"
    best = Counter(np.argmax(log_ratios, axis=1).tolist())
    donor, clients = best.most_common(1)[0]
    assert clients <= MOST_COMMON_BEST_DONOR_SHARE * len(log_ratios), f"donor {donor} is the best match of {clients}"


# --- The 2017 service: mozilla-taar's own SimilarityRecommender, from S3 ----------------------


def test_the_2017_service_serves_the_model_from_s3_at_twice_locale_popularity(published, evaluation, s3, monkeypatch):
    similarity = pytest.importorskip("taar.recommenders.similarity_recommender")
    # boto3.resource('s3') in the package's constructor: the loopback server, dummy credentials, no
    # instance-metadata lookup, no profile files.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint_url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")

    service = similarity.SimilarityRecommender()
    assert (similarity.S3_BUCKET, similarity.DONOR_LIST_KEY) == (BUCKET_2017, f"{PREFIX}/donors.json")
    assert service.donors_pool is not None and service.lr_curves is not None, "the package found no model on S3"
    assert len(service.donors_pool) == 1000 and np.isfinite(service.continuous_features).all()

    served = []
    for profile in evaluation.profiles:
        assert service.can_recommend(profile)
        served.append(service.recommend(profile, LIMIT))
    precision = planted_group_precision(served, evaluation.relevant)
    report("2017 service (mozilla-taar 0.0.16, from S3)", precision, evaluation)
    assert precision >= 2 * evaluation.popularity_precision, (precision, evaluation.popularity_precision)

    # The ratios the package itself computes, for every fourth client (its get_similar_donors sorts them).
    rows = []
    for profile in evaluation.profiles[::4]:
        ranking, donors = service.get_similar_donors(profile)
        row = np.empty(len(donors))
        row[donors] = ranking
        rows.append(row)
    with np.errstate(divide="ignore"):
        assert_not_degenerate(np.log(np.array(rows)))


# --- The newest service's loading path: bz2 JSON from GCS -------------------------------------


def download_json(bucket: str, key: str):
    """As the newest service's cache does: google-cloud-storage's client (an emulator named by
    STORAGE_EMULATOR_HOST is used anonymously), the blob's bytes, bz2 for a .bz2 key, JSON."""
    from google.cloud import storage

    buffer = io.BytesIO()
    storage.Client().get_bucket(bucket).blob(key).download_to_file(buffer)
    payload = buffer.getvalue()
    return json.loads((bz2.decompress(payload) if key.endswith(".bz2") else payload).decode("utf-8"))


class VotingScorer:
    """The newest service's similarity scoring, from its description (not its code)."""

    def __init__(self, donors: list[dict], curves: list):
        self.categorical = np.array([[donor.get(key) for key in CATEGORICAL] for donor in donors], dtype=object)
        self.continuous = np.array([[donor.get(key) for key in CONTINUOUS] for donor in donors], dtype=float)
        self.addons = [donor["active_addons"] for donor in donors]
        self.grid = np.array([point[0] for point in curves])
        self.ratios = np.array([point[1][0] / point[1][1] for point in curves])

    def log_ratios(self, profile: dict) -> np.ndarray:
        client_categorical = np.array([[profile.get(key) for key in CATEGORICAL]], dtype=object)
        client_continuous = np.array([[profile.get(key) for key in CONTINUOUS]], dtype=float)
        canberra = distance.cdist(self.continuous, client_continuous, "canberra")[:, 0]
        hamming = distance.cdist(self.categorical, client_categorical, lambda x, y: distance.hamming(x, y))[:, 0]
        scores = (canberra + 0.001) * hamming
        nearest = np.argmin(np.abs(scores[:, np.newaxis] - self.grid[np.newaxis, :]), axis=1)
        return np.log(self.ratios[nearest])

    def recommend(self, profile: dict, log_ratios: np.ndarray) -> list[str]:
        weights: Counter = Counter()
        for donor in np.flatnonzero(log_ratios > 0):
            for guid in self.addons[donor]:
                weights[guid] += log_ratios[donor]
        installed = set(profile["installed_addons"])
        return [guid for guid, _ in weights.most_common() if guid not in installed][:LIMIT]


def test_the_newest_service_reads_bz2_from_gcs_and_serves_at_twice_locale_popularity(published, evaluation):
    _, settings, bucket = published
    donors = download_json(bucket, f"{PREFIX}/donors.json.bz2")
    curves = download_json(bucket, f"{PREFIX}/lr_curves.json.bz2")
    manifest = download_json(bucket, f"{PREFIX}/manifest.json")
    assert manifest["layout"] == "service" and manifest["date"] == f"{DEMO_END}"
    assert len(donors) == manifest["counts"]["donors"] == 1000
    assert all(donor[key] is not None for donor in donors for key in CATEGORICAL + CONTINUOUS)

    scorer = VotingScorer(donors, curves)
    log_ratios = np.array([scorer.log_ratios(profile) for profile in evaluation.profiles])
    assert_not_degenerate(log_ratios)
    served = [scorer.recommend(profile, row) for profile, row in zip(evaluation.profiles, log_ratios)]
    precision = planted_group_precision(served, evaluation.relevant)
    report("newest service's path (bz2 from GCS)", precision, evaluation)
    assert precision >= 2 * evaluation.popularity_precision, (precision, evaluation.popularity_precision)
