"""The published files, read the way the TAAR service reads them (docs/behaviour.md §5), give real recommendations.

The consumer below is written from the spec, on purpose independent of the project's code:
plain loops, scipy's distances, the service's field names.
"""

import collections
import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from scipy.spatial import distance

from taar_assets_tests.conftest import run_similarity

DAY = "2026-11-20"
CATEGORICAL = ["geo_city", "locale", "os"]
CONTINUOUS = ["subsession_length", "bookmark_count", "tab_open_count", "total_uri", "unique_tlds"]


def service_distance(client, donor):
    categorical = [[p.get(k) or "" for k in CATEGORICAL] for p in (client, donor)]
    continuous = [[p.get(k) or 0 for k in CONTINUOUS] for p in (client, donor)]
    return abs((distance.canberra(*continuous) + 0.001) * distance.hamming(*categorical))


def service_recommend(client, donors, curves):
    """docs/behaviour.md §5: LR at the nearest grid point, ln, donors with llr > 0 vote with weight llr."""
    grid = [x for x, _ in curves]
    weights = collections.Counter()
    llrs = []
    for donor in donors:
        d = service_distance(client, donor)
        nearest = min(range(len(grid)), key=lambda i: abs(grid[i] - d))
        numerator, denominator = curves[nearest][1]
        llr = math.log(numerator / denominator)
        llrs.append(llr)
        if llr > 0:
            for guid in donor["active_addons"]:
                weights[guid] += llr
    return weights, llrs


@pytest.fixture
def model(settings, demo_dataset):
    run_similarity(settings, partition_key=DAY)
    read = lambda name: json.loads((Path(settings.publish) / name).read_text())  # noqa: E731
    storage = Path(settings.storage)
    samples = pq.read_table(storage / "samples" / f"{DAY}.parquet").to_pandas().set_index("client_id")
    valid = pq.read_table(storage / "addons_per_client" / f"{DAY}.parquet").to_pandas().set_index("client_id")
    groups = pq.read_table(demo_dataset.groups).to_pandas().set_index("client_id")["group"]
    return read("donors.json"), read("lr_curves.json"), samples, valid, groups


def client_profile(sample):
    """A client as the service sees it: its field names, the session length in seconds."""
    return {
        "geo_city": sample.city,
        "locale": sample.locale,
        "os": sample.os,
        "subsession_length": (sample.subsession_hours_sum or 0) * 3600,
        "bookmark_count": sample.bookmark_count,
        "tab_open_count": sample.tab_open_count,
        "total_uri": sample.total_uri,
        "unique_tlds": sample.unique_tlds,
    }


def group_tastes(valid, groups):
    """The add-ons held by at least 10% of each planted group (ground truth from the generator)."""
    tastes = {}
    for group, members in valid.assign(group=groups.reindex(valid.index)).groupby("group"):
        counts = collections.Counter(guid for addons in members["addon_ids"] for guid in addons)
        tastes[group] = {guid for guid, n in counts.items() if n >= 0.1 * len(members)}
    return tastes


def test_the_service_reads_the_published_layout_and_ratios_vary(model):
    donors, curves, samples, valid, _ = model
    assert all("geo_city" in d and "subsession_length" in d for d in donors)
    client = client_profile(samples.loc[valid.index[0]])
    _, llrs = service_recommend(client, donors, curves)
    assert all(math.isfinite(llr) for llr in llrs)
    assert len({round(llr, 9) for llr in llrs}) > 50, "likelihood ratios must differ between donors"
    assert any(llr > 0 for llr in llrs) and any(llr <= 0 for llr in llrs)


def test_recommendations_come_from_donors_of_the_clients_group(model):
    donors, curves, samples, valid, groups = model
    tastes = group_tastes(valid, groups)
    # A donor's group: the planted taste its add-ons overlap most.
    donor_groups = [max(tastes, key=lambda g: len(set(d["active_addons"]) & tastes[g])) for d in donors]

    lifts, taste_shares = [], []
    for client_id in valid.index[:40]:
        group = groups[client_id]
        weights, llrs = service_recommend(client_profile(samples.loc[client_id]), donors, curves)
        voting = [(llr, g) for llr, g in zip(llrs, donor_groups) if llr > 0]
        own_share = sum(llr for llr, g in voting if g == group) / sum(llr for llr, _ in voting)
        base_share = donor_groups.count(group) / len(donor_groups)
        lifts.append(own_share / base_share)
        top = [guid for guid, _ in weights.most_common(10)]
        taste_shares.append(sum(guid in tastes[group] for guid in top) / len(top))

    mean_lift = sum(lifts) / len(lifts)
    assert mean_lift > 2, f"donors of the client's group get {mean_lift:.2f}x their share of the votes"
    assert sum(taste_shares) / len(taste_shares) > 0.5
