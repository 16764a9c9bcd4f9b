"""Candidate sources on hand-made data whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from taar_assets.recommendation.addon_metadata import parse_addon_metadata
from taar_assets.recommendation.sources import (
    ADDON_FEATURES,
    CO_INSTALLATION,
    CURATED,
    LOCALE_POPULARITY,
    SIMILARITY,
    SOURCE_TYPES,
    CandidateSource,
    CandidateSources,
    Client,
    CoInstallation,
    Curated,
    LocalePopularity,
    TrainingData,
    similarity_scores,
)
from taar_assets.recommendation.profiles import profiles_from_samples
from taar_assets.recommendation.ranker import Candidate
from taar_assets.recommendation.serving import distinct_candidates
from taar_assets.recommendation.counts import AddonCounts, addon_matrix

# Six clients. Holders: A 4, B 3, C 3, E 3, D 1. Together: A-B 2, B-C 2, C-E 2, A-C 1, A-D 1,
# A-E 1, B-E 1.
ADDONS = pd.DataFrame(
    {
        "client_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
        # Parquet gives numpy arrays, not lists.
        "addon_ids": [np.array(x, dtype=object) for x in (["A", "B", "C"], ["A", "B"], ["A", "D"], ["B", "C", "E"],
                                                          ["C", "E"], ["A", "E"])],
    }
)
SAMPLES = pd.DataFrame(
    {
        "client_id": ["c6", "c5", "c4", "c3", "c2", "c1", "not-a-valid-client"],
        "locale": [None, "fr", "fr", "de", "de", "de", "de"],
    }
)


@pytest.fixture
def locale_popularity() -> LocalePopularity:
    return LocalePopularity.from_clients(ADDONS, SAMPLES, top_k=10, min_clients=2)


@pytest.fixture
def co_installation() -> CoInstallation:
    return CoInstallation.from_clients(ADDONS, top_k=10, min_co_installs=1)


def test_addon_matrix_counts_a_repeated_addon_once():
    matrix, guids = addon_matrix([["b", "a", "b"], [], ["c"]])
    assert guids.tolist() == ["a", "b", "c"]
    assert matrix.toarray().tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]


def test_locale_popularity_shares_per_locale_with_overall_fallback(locale_popularity):
    assert locale_popularity.by_locale == {
        "de": [("A", 1.0), ("B", pytest.approx(2 / 3)), ("C", pytest.approx(1 / 3)), ("D", pytest.approx(1 / 3))],
        "fr": [("C", 1.0), ("E", 1.0), ("B", 0.5)],  # C and E tie: id order
    }
    assert locale_popularity.overall == [("A", pytest.approx(4 / 6)), ("B", 0.5), ("C", 0.5), ("E", 0.5),
                                         ("D", pytest.approx(1 / 6))]
    assert locale_popularity.clients_by_locale == {"de": 3, "fr": 2} and locale_popularity.clients == 6
    # Unknown and missing locales use the overall table.
    assert locale_popularity.ranking("ja") == locale_popularity.ranking(None) == locale_popularity.overall
    assert locale_popularity.share("fr", "B") == 0.5 and locale_popularity.share("fr", "A") == 0.0
    assert locale_popularity.share("ja", "A") == pytest.approx(4 / 6)
    assert locale_popularity.overall_share("E") == 0.5


def test_locale_popularity_candidates_skip_installed_and_respect_the_limit(locale_popularity):
    profile = {"locale": "de", "installed_addons": ["A", "C"]}
    assert locale_popularity.scores(profile, limit=1) == [("B", pytest.approx(2 / 3))]
    assert [guid for guid, _ in locale_popularity.scores(profile, limit=None)] == ["B", "D"]


def test_small_locales_fall_back_and_top_k_cuts():
    fitted = LocalePopularity.from_clients(ADDONS, SAMPLES, top_k=2, min_clients=3)
    assert list(fitted.by_locale) == ["de"]  # fr has only 2 clients
    assert [guid for guid, _ in fitted.ranking("fr")] == ["A", "B"]


def test_co_installation_conditional_probability_and_lift(co_installation):
    # P(B|A) = 2/4, lift = 0.5 / P(B) = 0.5 / 0.5; C and E tie with D on P but D has more lift.
    assert co_installation.neighbours["A"] == [
        ("B", 0.5, 1.0),
        ("D", 0.25, pytest.approx(1.5)),
        ("C", 0.25, 0.5),
        ("E", 0.25, 0.5),
    ]
    assert co_installation.neighbours["D"] == [("A", 1.0, pytest.approx(1.5))]
    assert co_installation.clients == 6


def test_co_installation_minimum_support_and_top_k():
    fitted = CoInstallation.from_clients(ADDONS, top_k=1, min_co_installs=2)
    assert fitted.neighbours == {
        "A": [("B", 0.5, 1.0)],
        "B": [("C", pytest.approx(2 / 3), pytest.approx(4 / 3))],  # beats A (same P, lift 1) on lift
        "C": [("B", pytest.approx(2 / 3), pytest.approx(4 / 3))],  # B and E tie on P and lift: id order
        "E": [("C", pytest.approx(2 / 3), pytest.approx(4 / 3))],
    }


def test_co_installation_strength_averages_over_the_clients_addons(co_installation):
    strengths = co_installation.strengths(["A", "C", "unknown"])
    # Neighbours of A: B .5, D .25, E .25; of C: B 2/3, E 2/3 (A is installed). Two known add-ons.
    assert strengths == {
        "B": (pytest.approx((0.5 + 2 / 3) / 2), pytest.approx(4 / 3)),
        "E": (pytest.approx((0.25 + 2 / 3) / 2), pytest.approx(4 / 3)),
        "D": (pytest.approx(0.25 / 2), pytest.approx(1.5)),
    }
    assert [guid for guid, _ in co_installation.scores({"installed_addons": ["A", "C"]}, limit=2)] == ["B", "E"]
    assert co_installation.scores({"installed_addons": ["unknown"]}) == []


def test_curated_scores_follow_the_whitelist_order():
    curated = Curated(["X", "Y", "Z", "Y"])
    assert [curated.score(g) for g in ("X", "Y", "Z", "other")] == [1.0, 0.75, 0.5, 0.0]
    assert curated.scores({"installed_addons": ["X"]}) == [("Y", 0.75), ("Z", 0.5)]


def test_similarity_scores_sort_and_skip_installed():
    recommended = [("E", 4.0), ("A", 9.0), ("D", 4.0), ("F", 1.0)]
    assert similarity_scores(recommended, {"installed_addons": ["A"]}, limit=2) == [("D", 4.0), ("E", 4.0)]


@pytest.fixture
def sources(locale_popularity, co_installation) -> CandidateSources:
    fitted = {LOCALE_POPULARITY: locale_popularity, CO_INSTALLATION: co_installation, CURATED: Curated(["E", "B", "A", "C", "D"])}
    return CandidateSources(fitted, per_source_limit=3)


METADATA = parse_addon_metadata(
    [
        {"guid": "E", "name": "E", "producer": "Acme", "weekly_users": 5000, "subscribed": True},
        {"guid": "B", "name": "B", "producer": "Bee", "weekly_users": 10, "abuse_flagged": True},
    ]
)


def test_candidates_from_every_source(sources):
    profile = {"locale": "de", "installed_addons": ["A", "C"]}
    candidates = sources.candidates(profile, similar=[("E", 4.0), ("A", 9.0), ("D", 2.0)], metadata=METADATA)
    proposed = [(c.source, c.addon_id, round(c.source_score, 3)) for c in candidates]
    assert proposed == [
        (SIMILARITY, "E", 4.0),
        (SIMILARITY, "D", 2.0),
        (LOCALE_POPULARITY, "B", 0.667),
        (LOCALE_POPULARITY, "D", 0.333),
        (CO_INSTALLATION, "B", 0.583),
        (CO_INSTALLATION, "E", 0.458),
        (CO_INSTALLATION, "D", 0.125),
        (CURATED, "E", 1.0),
        (CURATED, "B", 0.8),
        (CURATED, "D", 0.2),
    ]
    for candidate in candidates:
        assert candidate.discovery == (candidate.source != CO_INSTALLATION)
        assert set(candidate.features) == set(ADDON_FEATURES)
    by_addon = {c.addon_id: c for c in candidates}
    assert (by_addon["E"].producer, by_addon["E"].subscribed_creator) == ("Acme", True)
    assert (by_addon["B"].producer, by_addon["B"].subscribed_creator) == ("Bee", False)
    assert by_addon["D"].producer is None and by_addon["D"].features["has_metadata"] == 0.0

    e = by_addon["E"].features
    assert e["similarity_score"] == 1.0 and by_addon["D"].features["similarity_score"] == 0.5
    assert e["locale_share"] == 0.0 and e["overall_share"] == 0.5 and e["curated_score"] == 1.0
    assert e["co_installation_score"] == pytest.approx((0.25 + 2 / 3) / 2)
    assert e["co_installation_log_lift"] == pytest.approx(np.log(4 / 3))
    assert e["log_weekly_users"] == pytest.approx(np.log1p(5000)) and e["subscribed"] == 1.0
    assert by_addon["B"].features["flagged"] == 1.0
    # Features describe the add-on, so they are the same whichever source proposed it, except
    # the position in the proposing source.
    b_candidates = [c for c in candidates if c.addon_id == "B"]
    assert [c.features["source_rank_score"] for c in b_candidates] == [1.0, 1.0, 0.5]
    assert len({tuple(sorted((k, v) for k, v in c.features.items() if k != "source_rank_score"))
                for c in b_candidates}) == 1


def test_missing_sources_propose_nothing(locale_popularity):
    sources = CandidateSources({LOCALE_POPULARITY: locale_popularity})
    candidates = sources.candidates({"locale": "fr", "installed_addons": ["C"]})
    assert [(c.source, c.addon_id) for c in candidates] == [(LOCALE_POPULARITY, "E"), (LOCALE_POPULARITY, "B")]
    assert candidates[0].features["co_installation_score"] == 0.0 and candidates[0].producer is None


def test_json_round_trip_keeps_sources_and_candidates(sources):
    again = CandidateSources.from_json(sources.to_json())
    assert again == sources
    profile = {"locale": "fr", "installed_addons": ["B"]}
    similar = [("A", 1.0)]
    assert again.candidates(profile, similar, METADATA) == sources.candidates(profile, similar, METADATA)
    assert [c.features for c in again.candidates(profile, similar)] == [
        c.features for c in sources.candidates(profile, similar)
    ]
    with pytest.raises(ValueError, match="schema_version"):
        CandidateSources.from_json(b'{"schema_version": 99}')


def test_fit_builds_every_source_from_pipeline_frames():
    fitted = CandidateSources.fit(TrainingData(AddonCounts.from_clients(ADDONS, SAMPLES), whitelist=["D", "A"]))
    assert fitted.get(CURATED) == Curated(["D", "A"])
    assert fitted.get(LOCALE_POPULARITY).clients == 6 and fitted.get(CO_INSTALLATION).clients == 6
    without_whitelist = CandidateSources.fit(TrainingData(AddonCounts.from_clients(ADDONS, SAMPLES)))
    assert without_whitelist.get(CURATED) is None and without_whitelist.get(LOCALE_POPULARITY) is not None


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError, match="per_source_limit"):
        CandidateSources(per_source_limit=0)
    with pytest.raises(ValueError, match="unknown fitted sources"):
        CandidateSources({"nope": Curated(["A"])})
    with pytest.raises(ValueError, match="top_k"):
        CoInstallation.from_clients(ADDONS, top_k=0)


def test_profiles_use_the_service_names_and_units():
    samples = pd.DataFrame(
        {
            "city": ["Berlin", None],
            "locale": ["de", "fr"],
            "os": ["Linux", np.nan],
            "subsession_hours_sum": [2.0, np.nan],
            "bookmark_count": [10.0, 1.0],
            "tab_open_count": [3.0, 4.0],
            "total_uri": [100.0, 5.0],
            "unique_tlds": [7.0, np.nan],
        }
    )
    first, second = profiles_from_samples(samples, [np.array(["A", "B"]), []])
    assert first == {
        "geo_city": "Berlin",
        "locale": "de",
        "os": "Linux",
        "subsession_length": 7200.0,
        "bookmark_count": 10.0,
        "tab_open_count": 3.0,
        "total_uri": 100.0,
        "unique_tlds": 7.0,
        "installed_addons": ["A", "B"],
    }
    assert second["geo_city"] is None and second["os"] is None and second["subsession_length"] is None
    assert second["unique_tlds"] is None and second["installed_addons"] == []
    with pytest.raises(ValueError, match="installed has 1 lists for 2 sample rows"):
        profiles_from_samples(samples, [[]])


def test_distinct_candidates_keep_each_addons_best_place():
    ranked = [Candidate(guid, source, 1.0) for guid, source in
              (("B", SIMILARITY), ("A", CURATED), ("B", CURATED), ("C", SIMILARITY))]
    assert [c.addon_id for c in distinct_candidates(ranked, 2)] == ["B", "A"]
    assert [c.addon_id for c in distinct_candidates(ranked, 10)] == ["B", "A", "C"]


def test_the_registry_finds_every_source_module_in_order():
    assert SOURCE_TYPES == (SIMILARITY, LOCALE_POPULARITY, CO_INSTALLATION, CURATED)
    # Each source contributes its own features, in source order, before the shared ones.
    assert ADDON_FEATURES[:6] == (
        "similarity_score", "locale_share", "overall_share", "co_installation_score", "co_installation_log_lift",
        "curated_score",
    )


def test_a_new_source_needs_only_the_protocol(locale_popularity):
    class Everything(CandidateSource):
        name, order, discovery, features = "everything", 99, True, ("everything_score",)

        def propose(self, client: Client, limit):
            return [(guid, 1.0) for guid in "ABCDE" if guid not in client.installed][:limit]

    client = Client({"locale": "fr", "installed_addons": ["A"]})
    assert Everything().propose(client, 2) == [("B", 1.0), ("C", 1.0)]
    assert Everything().addon_features(client, "B") == {"everything_score": 0.0}
    assert locale_popularity.propose(client, 1) == locale_popularity.scores(client.profile, 1)
