"""Donor profiles (join, order, privacy, rounding) and the DonorPool value (similarity/donor_profiles.py)."""

import json

import pandas as pd
import pytest

from taar_assets.similarity.donor_profiles import (
    DONOR_COLUMNS,
    GENERALISATION_ORDER,
    DonorPool,
    donor_profiles,
)
from taar_assets.similarity.features import FEATURE_NAMES, MISSING_CATEGORY, MISSING_NUMBER
from taar_assets.similarity.privacy import UNKNOWN


def features_of(*clients):
    """The samples' columns for each (client_id, city, bookmark_count): other values fixed."""
    return pd.DataFrame(
        [
            {
                "client_id": client_id,
                "city": city,
                "subsession_hours_sum": 1.2345,
                "locale": "fr",
                "os": "Linux",
                "bookmark_count": bookmarks,
                "tab_open_count": 12345.0,
                "total_uri": 987.0,
                "unique_tlds": 0.04567,
            }
            for client_id, city, bookmarks in clients
        ]
    )


CHOSEN = pd.DataFrame({"client_id": ["d", "b", "c", "a"], "cluster": [1, 0, 1, 0]})
FEATURES = features_of(("a", "Paris", 1.0), ("b", "Paris", 2.0), ("c", "Paris", 3.0), ("d", "Paris", 4.0), ("z", "Oslo", 9.0))
ADDONS = pd.DataFrame(
    {
        "client_id": ["c", "a", "d", "b", "z"],
        "addon_ids": [["c1", "c2", "c3"], ["a1", "a2", "a3"], ["d1", "d2", "d3"], ["b1", "b2", "b3"], ["z1", "z2", "z3"]],
    }
)


def profiles(chosen=CHOSEN, features=FEATURES, addons=ADDONS, k=1, significant_digits=2):
    return donor_profiles(chosen, features, addons, k=k, significant_digits=significant_digits)


# --- donor_profiles ----------------------------------------------------------------------------


def test_donors_join_features_and_addons_by_client_and_keep_no_client_id():
    donors, replaced = profiles()
    assert list(donors.columns) == list(DONOR_COLUMNS) == [*FEATURE_NAMES, "active_addons", "cluster"]
    assert "client_id" not in donors.columns
    # Ordered by cluster, then client id (a, b in cluster 0; c, d in cluster 1); each donor
    # carries its own features and add-ons, the unchosen client z is left out.
    assert donors["cluster"].tolist() == [0, 0, 1, 1]
    assert donors["bookmark_count"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert donors["active_addons"].tolist() == [["a1", "a2", "a3"], ["b1", "b2", "b3"], ["c1", "c2", "c3"], ["d1", "d2", "d3"]]
    assert all(type(addons) is list for addons in donors["active_addons"])
    assert list(donors.index) == [0, 1, 2, 3]
    assert replaced == {"city": 0, "os": 0, "locale": 0}


def test_order_does_not_depend_on_the_input_row_order():
    shuffled = profiles(
        CHOSEN.iloc[::-1].reset_index(drop=True), FEATURES.sample(frac=1, random_state=3), ADDONS.iloc[::-1]
    )[0]
    pd.testing.assert_frame_equal(shuffled, profiles()[0])


def test_continuous_values_are_rounded_and_categoricals_kept():
    donors, _ = profiles(significant_digits=2)
    first = donors.iloc[0]
    assert (first["city"], first["locale"], first["os"]) == ("Paris", "fr", "Linux")
    assert first["subsession_hours_sum"] == 1.2
    assert first["tab_open_count"] == 12000.0
    assert first["total_uri"] == 990.0
    assert first["unique_tlds"] == 0.046
    assert profiles(significant_digits=3)[0].iloc[0]["tab_open_count"] == 12300.0


def test_rare_categoricals_are_generalised_in_city_os_locale_order():
    assert GENERALISATION_ORDER == ("city", "os", "locale")
    features = features_of(("a", "Paris", 1.0), ("b", "Paris", 2.0), ("c", "Lyon", 3.0), ("d", "Nice", 4.0))
    donors, replaced = profiles(features=features, k=2)
    assert donors["city"].tolist() == ["Paris", "Paris", UNKNOWN, UNKNOWN]  # rows a, b | c, d
    assert donors["os"].tolist() == ["Linux"] * 4
    assert replaced == {"city": 2, "os": 0, "locale": 0}


def test_missing_values_are_written_as_the_distance_reads_them():
    features = features_of(("a", None, None), ("b", float("nan"), 2.0), ("c", "Lyon", float("nan")), ("d", "Lyon", 4.0))
    features.loc[0, "locale"] = None
    donors, _ = profiles(features=features)
    assert donors["city"].tolist() == [MISSING_CATEGORY, MISSING_CATEGORY, "Lyon", "Lyon"]
    assert donors["locale"].tolist() == [MISSING_CATEGORY, "fr", "fr", "fr"]
    assert donors["bookmark_count"].tolist() == [MISSING_NUMBER, 2.0, MISSING_NUMBER, 4.0]
    assert not donors[list(FEATURE_NAMES)].isna().any().any()


def test_a_filled_missing_value_is_a_category_like_any_other_for_k_anonymity():
    features = features_of(("a", None, 1.0), ("b", float("nan"), 2.0), ("c", "Lyon", 3.0), ("d", "Lyon", 4.0))
    donors, replaced = profiles(features=features, k=2)
    assert donors["city"].tolist() == [MISSING_CATEGORY, MISSING_CATEGORY, "Lyon", "Lyon"]
    assert replaced == {"city": 0, "os": 0, "locale": 0}


def test_a_donor_without_an_addon_list_raises_naming_the_count():
    addons = ADDONS[~ADDONS["client_id"].isin(["b", "d"])]
    with pytest.raises(ValueError, match="^2 donors have no add-on list: clusters and addons_per_client disagree$"):
        profiles(addons=addons)


def test_a_client_listed_twice_in_the_features_is_refused():
    with pytest.raises(pd.errors.MergeError):
        profiles(features=pd.concat([FEATURES, FEATURES.iloc[:1]]))


def test_fewer_donors_than_k_raises():
    with pytest.raises(ValueError, match="fewer rows than k"):
        profiles(k=5)


# --- DonorPool -----------------------------------------------------------------------------------


@pytest.fixture
def pool() -> DonorPool:
    donors, replaced = profiles(
        features=features_of(("a", "Paris", 1.0), ("b", None, 2.0), ("c", "Lyon", 3.0), ("d", "Paris", 4.0))
    )
    return DonorPool(
        donors=donors,
        num_donors=100,
        k_anonymity=1,
        significant_digits=2,
        num_clusters=3,
        cluster_sizes={0: 40, 1: 25, 2: 0},
        generalised={"city": 3, "os": 1, "locale": 0},
        input_window={"start": "2026-08-23", "end": "2026-11-20", "days": 90},
    )


def plain(donors: pd.DataFrame) -> list[dict]:
    """Rows as plain values: add-on arrays as lists, missing values as None."""
    return [
        {key: list(value) if key == "active_addons" else (None if pd.isna(value) else value) for key, value in row.items()}
        for row in donors.to_dict("records")
    ]


def test_to_table_and_from_table_keep_the_donors_and_every_fact(pool):
    table = pool.to_table()
    assert table.column_names == list(DONOR_COLUMNS)
    facts = json.loads(table.schema.metadata[b"taar.donor_pool"])
    assert facts["cluster_sizes"] == {"0": 40, "1": 25, "2": 0}

    restored = DonorPool.from_table(table)
    assert plain(restored.donors) == plain(pool.donors)
    assert restored.donors["city"].tolist() == ["Paris", MISSING_CATEGORY, "Lyon", "Paris"]
    assert restored.num_donors == 100
    assert restored.k_anonymity == 1
    assert restored.significant_digits == 2
    assert restored.num_clusters == 3
    assert restored.cluster_sizes == {0: 40, 1: 25, 2: 0}
    assert all(type(cluster) is int for cluster in restored.cluster_sizes)
    assert restored.generalised == {"city": 3, "os": 1, "locale": 0}
    assert restored.input_window == {"start": "2026-08-23", "end": "2026-11-20", "days": 90}
    assert restored.parameters == pool.parameters and restored.clients == pool.clients


def test_clients_counts_every_clustered_client(pool):
    assert pool.clients == 65


def test_parameters_are_what_was_asked_for_in_manifest_order(pool):
    assert list(pool.parameters.items()) == [
        ("num_clusters", 3),
        ("num_donors", 100),
        ("k_anonymity", 1),
        ("significant_digits", 2),
    ]


def test_defaults_are_empty_facts():
    empty = DonorPool(pd.DataFrame(columns=list(DONOR_COLUMNS)), 100, 5, 2, 20, {})
    assert (empty.generalised, empty.input_window, empty.clients) == ({}, {}, 0)
    restored = DonorPool.from_table(DonorPool(profiles()[0], 100, 5, 2, 20, {0: 2, 1: 2}).to_table())
    assert (restored.generalised, restored.input_window, restored.cluster_sizes) == ({}, {}, {0: 2, 1: 2})
