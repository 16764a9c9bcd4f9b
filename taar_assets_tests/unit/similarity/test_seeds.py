"""Seeds derived from the partition day, one random stream per stage (similarity/seeds.py).

The recorded values pin the derivation: changing it changes every published model (the
golden test would fail too), so it must only change on purpose.
"""

import datetime as dt
import hashlib

import numpy as np
import pytest

from taar_assets.similarity.seeds import partition_seed, stage_rng, stage_seed

DAY = "2026-11-20"
STAGES = ("clusters", "donor_pool", "lr_curves")  # the stages that draw random numbers


# --- partition_seed ------------------------------------------------------------------------------


def test_partition_seed_is_a_stable_hash_of_the_partition_key():
    assert partition_seed(DAY) == 3244477783
    assert partition_seed("2026-11-19") == 3186142038
    digest = hashlib.sha256(f"taar:{DAY}".encode()).digest()
    assert partition_seed(DAY) == int.from_bytes(digest[:4], "little")
    assert partition_seed(DAY) == partition_seed(DAY)


@pytest.mark.parametrize("configured", [0, 7, 2**40])
def test_a_configured_seed_wins_even_zero(configured):
    assert partition_seed(DAY, configured) == configured
    assert partition_seed("2026-11-19", configured) == configured


def test_partition_seed_differs_between_days_and_fits_32_bits():
    days = [f"{dt.date(2025, 1, 1) + dt.timedelta(days=offset)}" for offset in range(730)]
    seeds = [partition_seed(day) for day in days]
    assert len(set(seeds)) == len(days)
    assert all(0 <= seed < 2**32 for seed in seeds)  # what cluster_clients accepts


def test_partition_seed_configured_none_is_the_derived_one():
    assert partition_seed(DAY, None) == partition_seed(DAY)


# --- stage_rng and stage_seed --------------------------------------------------------------------


def test_stage_rng_is_reproducible():
    root = partition_seed(DAY)
    first, second = stage_rng(root, "donor_pool"), stage_rng(root, "donor_pool")
    assert isinstance(first, np.random.Generator)
    np.testing.assert_array_equal(first.random(100), second.random(100))
    assert stage_rng(root, "donor_pool").random(3).tolist() == [
        0.4502879551240908,
        0.4117004933522328,
        0.2017794113114868,
    ]


def test_each_stage_has_its_own_stream():
    root = partition_seed(DAY)
    draws = {stage: tuple(stage_rng(root, stage).random(20)) for stage in STAGES}
    assert len(set(draws.values())) == len(STAGES)
    # A fresh generator per call: drawing for one stage never moves another stage's stream.
    used = stage_rng(root, "clusters")
    used.random(1000)
    assert tuple(stage_rng(root, "lr_curves").random(20)) == draws["lr_curves"]


def test_streams_differ_between_roots_and_do_not_shift_between_stages():
    assert stage_rng(1, "clusters").random(5).tolist() != stage_rng(2, "clusters").random(5).tolist()
    # Not one stream offset for another: no window of one stage's draws starts the other's.
    clusters = stage_rng(7, "clusters").random(2000)
    donors = stage_rng(7, "donor_pool").random(5)
    assert not np.isin(donors, clusters).any()


def test_stage_seed_is_reproducible_per_stage_and_in_range():
    root = partition_seed(DAY)
    assert [stage_seed(root, stage) for stage in STAGES] == [1812265078, 87372297, 791550342]
    assert stage_seed(root, "clusters") == stage_seed(root, "clusters")
    assert stage_seed(root, "clusters") == int(stage_rng(root, "clusters").integers(0, 2**31 - 1))
    assert all(0 <= stage_seed(seed, "clusters") < 2**31 - 1 for seed in range(200))
