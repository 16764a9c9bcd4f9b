"""Tests of the candidate ranker (docs/behaviour.md §8).

Property tests compare the ranker with a plain-Python reference built from ``sorted`` (which
is stable), so "stable" is checked against an independent definition; boundary tests pin
every strict threshold.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taar_assets.recommendation.ranker import (
    Candidate,
    ProducerQuality,
    ProducerQualityRule,
    ProducerSignals,
    RankerConfig,
    RankerMetrics,
    heavy_scores,
    initial_rank,
    quality_adjusted_scores,
    rank,
    re_rank,
    transform_quality,
)

SOURCES = ("similarity", "locale_popularity", "co_installation", "curated")
PRODUCERS = ("alice", "bob", "carol", "dave")

# No example database: the tests must not write into the project directory.
FAST = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def ids(candidates):
    """Identities, so that equal candidates are still told apart."""
    return [id(candidate) for candidate in candidates]


def candidate(addon_id="a", source="similarity", predicted=None, **fields):
    return Candidate(addon_id=addon_id, source=source, source_score=0.0,
                     predicted_score=predicted, **fields)


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

# Few distinct values, so that ties (where stability matters) are common.
tied_scores = st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.5, 1.0]))
any_scores = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 0.5])
)


def candidates_strategy(scores=tied_scores, max_size=30):
    one = st.builds(
        Candidate,
        addon_id=st.sampled_from(["a", "b", "c"]),
        source=st.sampled_from(SOURCES),
        source_score=st.just(0.0),
        predicted_score=scores,
        quality_score=scores,
        producer=st.one_of(st.none(), st.sampled_from(PRODUCERS)),
        discovery=st.booleans(),
        subscribed_creator=st.booleans(),
    )
    # Repeating the same object checks that duplicates are neither merged nor dropped.
    return st.lists(one, max_size=max_size).flatmap(
        lambda items: st.lists(st.sampled_from(items), max_size=5).map(lambda extra: items + extra)
        if items
        else st.just(items)
    )


signals_strategy = st.builds(
    ProducerSignals,
    weekly_users=st.sampled_from([0.0, 4.0, 5.0, 10_001.0, 200_000.0, 2_000_000.0]),
    risk_score=st.sampled_from([0.1, 0.5, 0.95]),
    policy_violation=st.booleans(),
    abuse_flagged=st.booleans(),
    abuse_flagged_severe=st.booleans(),
    recent_updates=st.integers(0, 3),
    average_rating=st.sampled_from([0.0, 1.5, 4.5]),
    rating_count=st.sampled_from([0, 10, 100]),
    report_rate=st.sampled_from([0.0, 1e-6, 0.01]),
)
producer_signals_strategy = st.dictionaries(st.sampled_from(PRODUCERS[:3]), signals_strategy)
type_lists = st.lists(st.sampled_from(SOURCES), max_size=4).map(tuple)

configs = st.builds(
    RankerConfig,
    use_random_ranking=st.booleans(),
    random_seed=st.integers(0, 2**32),
    disable_all_relevance=st.booleans(),
    disable_heavy_ranking=st.booleans(),
    enable_quality_upranking=st.booleans(),
    quality_transform=st.sampled_from(["sigmoid", "linear", "identity"]),
    sigmoid_weight=st.sampled_from([-2.0, 0.0, 1.0, 5.0]),
    sigmoid_bias=st.sampled_from([-1.0, 0.0, 1.0]),
    linear_bar=st.sampled_from([-0.5, 0.5, 1.0]),
    quality_boost=st.sampled_from([0.0, 0.5, 2.0]),
    enable_producer_boosting=st.booleans(),
    producer_boost_ratio=st.sampled_from([0.0, 1.0, 1.5]),
    producer_downboost_ratio=st.sampled_from([0.0, 0.5, 1.0]),
    enable_first_degree_backfill=st.booleans(),
    first_degree_threshold=st.integers(0, 4),
    first_degree_types=type_lists,
    backfill_down_rank=st.booleans(),
    backfill_type=st.sampled_from(SOURCES),
    up_rank_types=type_lists,
    down_rank_types=type_lists,
    boost_subscribed_creators=st.booleans(),
    subscribed_mode=st.sampled_from(["hard", "soft"]),
    subscribed_soft_factor=st.sampled_from([0.5, 1.0, 2.0]),
)


# ---------------------------------------------------------------------------------------------
# Reference model: every step written with Python's stable ``sorted``
# ---------------------------------------------------------------------------------------------


def reference_rank(candidates, config, producer_signals):
    if config.use_random_ranking or config.disable_all_relevance or config.disable_heavy_ranking:
        ranked = list(candidates)  # random order is checked separately
    else:
        ranked = reference_heavy_rank(candidates, config, producer_signals)
    return reference_re_rank(ranked, config)


def score_of(candidate, config):
    """The heavy score, taken from the module for s so that float rounding cannot differ."""
    return float(heavy_scores([candidate], config)[0])


def reference_heavy_rank(candidates, config, producer_signals):
    ranked = sorted(candidates, key=lambda c: -(c.predicted_score or 0.0))
    if config.enable_quality_upranking:
        ranked = sorted(ranked, key=lambda c: -score_of(c, config))
    if config.enable_producer_boosting:
        slots = [i for i, c in enumerate(ranked) if c.discovery]

        def ratio(c):
            if c.producer is None:
                return 1.0
            quality = config.producer_quality_rule.classify(
                producer_signals.get(c.producer, ProducerSignals())
            )
            return config.producer_ratio(quality)

        resorted = sorted((ranked[i] for i in slots), key=lambda c: -score_of(c, config) * ratio(c))
        for slot, c in zip(slots, resorted):
            ranked[slot] = c
    return ranked


def reference_re_rank(ranked, config):
    ranked = list(ranked)
    first_degree = set(config.first_degree_types)
    if (
        config.enable_first_degree_backfill
        and sum(c.source in first_degree for c in ranked) > config.first_degree_threshold
    ):
        ranked = sorted(ranked, key=lambda c: c.source not in first_degree)
    if config.backfill_down_rank:
        ranked = sorted(ranked, key=lambda c: c.source == config.backfill_type)
    for source in config.up_rank_types:
        ranked = sorted(ranked, key=lambda c: c.source != source)
    for source in config.down_rank_types:
        ranked = sorted(ranked, key=lambda c: c.source == source)
    if config.boost_subscribed_creators:
        if config.subscribed_mode == "hard":
            ranked = sorted(ranked, key=lambda c: not c.subscribed_creator)
        else:
            factor = config.subscribed_soft_factor
            ranked = sorted(
                ranked,
                key=lambda c: -score_of(c, config) * (factor if c.subscribed_creator else 1.0),
            )
    return ranked


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@FAST
@given(candidates_strategy(scores=any_scores), configs, producer_signals_strategy)
def test_rank_is_always_a_permutation_of_the_input(candidates, config, producer_signals):
    ranked = rank(candidates, config, producer_signals)
    assert Counter(ids(ranked)) == Counter(ids(candidates))


@FAST
@given(candidates_strategy(), configs, producer_signals_strategy)
def test_rank_matches_the_stable_reference(candidates, config, producer_signals):
    config = dataclasses.replace(config, use_random_ranking=False)
    assert ids(rank(candidates, config, producer_signals)) == ids(
        reference_rank(candidates, config, producer_signals)
    )


@FAST
@given(candidates_strategy(), configs)
def test_each_re_rank_step_alone_is_stable(candidates, config):
    # Stability per step: only one of R1..R5 enabled at a time, against the reference.
    base = RankerConfig()
    single_steps = [
        dataclasses.replace(base, enable_first_degree_backfill=True,
                            first_degree_threshold=config.first_degree_threshold,
                            first_degree_types=config.first_degree_types),
        dataclasses.replace(base, backfill_down_rank=True, backfill_type=config.backfill_type),
        dataclasses.replace(base, up_rank_types=config.up_rank_types),
        dataclasses.replace(base, down_rank_types=config.down_rank_types),
        dataclasses.replace(base, boost_subscribed_creators=True, subscribed_mode="hard"),
        dataclasses.replace(base, boost_subscribed_creators=True, subscribed_mode="soft",
                            subscribed_soft_factor=config.subscribed_soft_factor),
    ]
    for step_config in single_steps:
        assert ids(re_rank(candidates, step_config)) == ids(
            reference_re_rank(candidates, step_config)
        )


@FAST
@given(candidates_strategy(scores=any_scores), st.integers(0, 2**32),
       st.sampled_from(["client-1", "client-2", "de", ""]))
def test_random_ranking_is_a_reproducible_seeded_shuffle(candidates, seed, key):
    config = RankerConfig(use_random_ranking=True, random_seed=seed)
    first = initial_rank(candidates, config, random_key=key)
    assert ids(first) == ids(initial_rank(candidates, config, random_key=key))
    order = np.random.default_rng(seed).permutation(len(candidates))
    assert ids(initial_rank(candidates, config)) == ids([candidates[i] for i in order])


def test_random_key_gives_different_lists_different_shuffles():
    candidates = [candidate(str(i)) for i in range(20)]
    config = RankerConfig(use_random_ranking=True, random_seed=7)
    by_key = {key: ids(initial_rank(candidates, config, random_key=key)) for key in "abcd"}
    assert len(set(map(tuple, by_key.values()))) > 1


# ---------------------------------------------------------------------------------------------
# initial_rank
# ---------------------------------------------------------------------------------------------


def test_heavy_ranking_sorts_by_predicted_score_missing_as_zero_ties_in_input_order():
    a, b, c, d, e = (
        candidate("a", predicted=0.2),
        candidate("b", predicted=None),
        candidate("c", predicted=0.9),
        candidate("d", predicted=0.2),
        candidate("e", predicted=float("nan")),
    )
    assert [x.addon_id for x in initial_rank([a, b, c, d, e], RankerConfig())] == [
        "c", "a", "d", "b", "e",
    ]


@pytest.mark.parametrize(
    ("flags", "branch"),
    [
        (dict(use_random_ranking=True, disable_all_relevance=True, disable_heavy_ranking=True),
         "random_ranking"),
        (dict(disable_all_relevance=True, disable_heavy_ranking=True), "disable_all_relevance"),
        (dict(disable_heavy_ranking=True), "disable_heavy_ranking"),
        (dict(), "heavy_ranking"),
    ],
)
def test_branch_precedence(flags, branch):
    candidates = [candidate(str(i), predicted=i / 10) for i in range(10)]
    metrics = RankerMetrics()
    ranked = initial_rank(candidates, RankerConfig(random_seed=3, **flags), metrics=metrics)
    branches = ("random_ranking", "disable_all_relevance", "disable_heavy_ranking",
                "heavy_ranking")
    assert {name: getattr(metrics, name) for name in branches} == {
        name: int(name == branch) for name in branches
    }
    expected = {
        "random_ranking": [candidates[i] for i in np.random.default_rng(3).permutation(10)],
        "disable_all_relevance": candidates,
        "disable_heavy_ranking": candidates,
        "heavy_ranking": candidates[::-1],
    }[branch]
    assert ids(ranked) == ids(expected)


def test_quality_upranking_re_sorts_by_s_breaking_ties_by_heavy_order():
    config = RankerConfig(enable_quality_upranking=True, quality_transform="identity",
                          quality_boost=1.0)
    low_quality = candidate("low", predicted=0.6, quality_score=0.0)   # s = 0.6
    high_quality = candidate("high", predicted=0.4, quality_score=1.0)  # s = 0.8
    tie_first = candidate("tie1", predicted=0.3, quality_score=1.0)    # s = 0.6
    missing_q = candidate("none", predicted=0.7)                       # s = 0.7
    ranked = initial_rank([tie_first, low_quality, high_quality, missing_q], config)
    # low (0.6, heavy rank 2) stays ahead of tie1 (0.6, heavy rank 4).
    assert [c.addon_id for c in ranked] == ["high", "none", "low", "tie1"]


def test_quality_adjusted_score_formula():
    config = RankerConfig(enable_quality_upranking=True, quality_transform="sigmoid",
                          sigmoid_weight=2.0, sigmoid_bias=-1.0, quality_boost=0.5)
    s = quality_adjusted_scores([candidate(predicted=0.4, quality_score=0.3)], config)[0]
    assert s == pytest.approx(0.4 * (1 + 0.5 / (1 + math.exp(-(2.0 * 0.3 - 1.0)))))


def test_sigmoid_transform_is_clamped_at_extreme_values():
    config = RankerConfig(quality_transform="sigmoid", sigmoid_weight=1e300, sigmoid_bias=0.0)
    extremes = np.array([-1e308, -1e6, -200.0, 0.0, 200.0, 1e6, 1e308, np.inf, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any numpy overflow warning fails the test
        transformed = transform_quality(extremes, config)
    assert np.all(np.isfinite(transformed))
    assert transformed[0] == pytest.approx(1 / (1 + math.exp(100)))  # clamped at -100 ... 100
    assert transformed[-1] == transformed[0] > 0
    assert transformed[6] == 1.0 and transformed[3] == 0.5


def test_linear_and_identity_transforms():
    q = np.array([-3.0, -0.25, 0.0, 0.5, 3.0])
    linear = transform_quality(q, RankerConfig(quality_transform="linear", linear_bar=-0.5))
    assert linear.tolist() == [-1.0, -0.5, 0.0, 1.0, 1.0]  # the bar's sign does not matter
    assert transform_quality(q, RankerConfig(quality_transform="identity")).tolist() == q.tolist()


def test_producer_boosting_re_sorts_discovery_candidates_inside_their_slots():
    config = RankerConfig(enable_producer_boosting=True, producer_boost_ratio=2.0,
                          producer_downboost_ratio=0.5)
    signals = {"big": ProducerSignals(weekly_users=5_000_000),
               "ok": ProducerSignals(weekly_users=1_000)}
    candidates = [
        candidate("in1", predicted=0.9),
        candidate("d_low", predicted=0.8, discovery=True, producer="unknown"),  # 0.8*0.5=0.4
        candidate("in2", predicted=0.7),
        candidate("d_ok", predicted=0.6, discovery=True, producer="ok"),        # 0.6
        candidate("d_none", predicted=0.5, discovery=True),                     # 0.5 (ratio 1)
        candidate("in3", predicted=0.3),
        candidate("d_big", predicted=0.3, discovery=True, producer="big"),      # 0.6 (tie)
    ]
    metrics = RankerMetrics()
    ranked = [c.addon_id for c in initial_rank(candidates, config, signals, metrics)]
    assert ranked == ["in1", "d_ok", "in2", "d_big", "d_none", "in3", "d_low"]
    assert (metrics.producer_upranking, metrics.producer_boosted_candidates,
            metrics.producer_downboosted_candidates,
            metrics.producer_signals_missing_candidates) == (1, 1, 1, 1)


@FAST
@given(candidates_strategy(), producer_signals_strategy)
def test_producer_boosting_leaves_non_discovery_candidates_in_their_slots(
    candidates, producer_signals
):
    heavy = initial_rank(candidates, RankerConfig(enable_quality_upranking=True))
    boosted = initial_rank(
        candidates,
        RankerConfig(enable_quality_upranking=True, enable_producer_boosting=True,
                     producer_boost_ratio=10.0, producer_downboost_ratio=0.0),
        producer_signals,
    )
    for before, after in zip(heavy, boosted):
        assert before.discovery == after.discovery
        if not before.discovery:
            assert before is after


def test_producer_boosting_uses_s_as_base_when_quality_upranking_ran():
    config = RankerConfig(enable_quality_upranking=True, quality_transform="identity",
                          quality_boost=1.0, enable_producer_boosting=True)
    signals = {"p": ProducerSignals(weekly_users=1_000)}  # neutral: ratio 1
    a = candidate("a", predicted=0.5, quality_score=0.0, discovery=True, producer="p")  # s 0.5
    b = candidate("b", predicted=0.4, quality_score=1.0, discovery=True, producer="p")  # s 0.8
    assert [c.addon_id for c in initial_rank([a, b], config, signals)] == ["b", "a"]


def test_producer_signals_none_judges_named_producers_as_zero_audience():
    config = RankerConfig(enable_producer_boosting=True, producer_downboost_ratio=0.1)
    named = candidate("named", predicted=0.9, discovery=True, producer="p")  # 0.09
    anonymous = candidate("anonymous", predicted=0.5, discovery=True)        # 0.5
    metrics = RankerMetrics()
    ranked = initial_rank([named, anonymous], config, None, metrics)
    assert [c.addon_id for c in ranked] == ["anonymous", "named"]
    assert metrics.producer_signals_missing_candidates == 1


# ---------------------------------------------------------------------------------------------
# Producer quality rule: every comparison is strict
# ---------------------------------------------------------------------------------------------

RULE = ProducerQualityRule()
NEUTRAL = ProducerSignals(weekly_users=1_000, risk_score=0.5)
SAFE_AND_ENGAGED = ProducerSignals(weekly_users=50_000, risk_score=0.1, recent_updates=1,
                                   average_rating=4.5, rating_count=100, report_rate=0.0)


def with_(signals, **changes):
    return dataclasses.replace(signals, **changes)


# (signals exactly at a threshold, signals just past it, verdict past it)
BOUNDARIES = {
    "high: users alone": (with_(NEUTRAL, weekly_users=1_000_000, abuse_flagged=True),
                          with_(NEUTRAL, weekly_users=1_000_001, abuse_flagged=True), "HIGH"),
    "high: users if safe": (with_(NEUTRAL, weekly_users=100_000),
                            with_(NEUTRAL, weekly_users=100_001), "HIGH"),
    "high: risk if safe": (with_(NEUTRAL, weekly_users=200_000, risk_score=0.7),
                           with_(NEUTRAL, weekly_users=200_000, risk_score=0.69), "HIGH"),
    "high: users if engaged": (with_(SAFE_AND_ENGAGED, weekly_users=10_000),
                               with_(SAFE_AND_ENGAGED, weekly_users=10_001), "HIGH"),
    "high: recent updates": (with_(SAFE_AND_ENGAGED, recent_updates=0),
                             with_(SAFE_AND_ENGAGED, recent_updates=1), "HIGH"),
    "high: rating": (with_(SAFE_AND_ENGAGED, average_rating=4.0),
                     with_(SAFE_AND_ENGAGED, average_rating=4.01), "HIGH"),
    "high: rating count": (with_(SAFE_AND_ENGAGED, rating_count=50),
                           with_(SAFE_AND_ENGAGED, rating_count=51), "HIGH"),
    "high: report rate": (with_(SAFE_AND_ENGAGED, report_rate=1e-5),
                          with_(SAFE_AND_ENGAGED, report_rate=0.9e-5), "HIGH"),
    "low: users": (with_(NEUTRAL, weekly_users=5), with_(NEUTRAL, weekly_users=4.99), "LOW"),
    "low: risk": (with_(NEUTRAL, risk_score=0.9), with_(NEUTRAL, risk_score=0.91), "LOW"),
    "low: report rate": (with_(NEUTRAL, report_rate=1e-3), with_(NEUTRAL, report_rate=1.1e-3),
                         "LOW"),
    "low: rating": (with_(NEUTRAL, average_rating=2.0, rating_count=10),
                    with_(NEUTRAL, average_rating=1.99, rating_count=10), "LOW"),
    "low: rating count": (with_(NEUTRAL, average_rating=1.0, rating_count=5),
                          with_(NEUTRAL, average_rating=1.0, rating_count=6), "LOW"),
}


@pytest.mark.parametrize("case", BOUNDARIES.values(), ids=BOUNDARIES.keys())
def test_producer_rule_comparisons_are_strict(case):
    at_threshold, past_threshold, verdict = case
    assert RULE.classify(at_threshold) is ProducerQuality.NEUTRAL
    assert RULE.classify(past_threshold) is ProducerQuality[verdict]


@pytest.mark.parametrize(
    ("signals", "verdict"),
    [
        (with_(NEUTRAL, policy_violation=True), ProducerQuality.LOW),
        (with_(NEUTRAL, abuse_flagged_severe=True), ProducerQuality.LOW),
        (with_(NEUTRAL, abuse_flagged=True), ProducerQuality.NEUTRAL),  # only blocks "safe"
        (with_(NEUTRAL, weekly_users=200_000, abuse_flagged=True), ProducerQuality.NEUTRAL),
        (with_(NEUTRAL, weekly_users=200_000, policy_violation=True), ProducerQuality.LOW),
        # The high rule is tested first: a huge audience wins over a low-quality flag.
        (with_(NEUTRAL, weekly_users=2_000_000, policy_violation=True), ProducerQuality.HIGH),
        (ProducerSignals(), ProducerQuality.LOW),  # missing signals = zero audience
    ],
)
def test_producer_rule_flags_and_precedence(signals, verdict):
    assert RULE.classify(signals) is verdict


def test_producer_rule_thresholds_are_configuration():
    rule = ProducerQualityRule(high_users_above=math.inf, safe_high_users_above=math.inf,
                               engaged_high_users_above=math.inf, low_users_below=1_000_000)
    assert rule.classify(ProducerSignals(weekly_users=5_000_000)) is ProducerQuality.NEUTRAL
    assert rule.classify(ProducerSignals(weekly_users=999_999)) is ProducerQuality.LOW


# ---------------------------------------------------------------------------------------------
# re_rank
# ---------------------------------------------------------------------------------------------


def sources(ranked):
    return [c.source for c in ranked]


@pytest.mark.parametrize(("first_degree_count", "moved"), [(2, False), (3, True)])
def test_first_degree_backfill_needs_strictly_more_than_the_threshold(first_degree_count, moved):
    candidates = [candidate(source="similarity")] * 3 + [candidate(source="co_installation")
                                                         ] * first_degree_count
    config = RankerConfig(enable_first_degree_backfill=True, first_degree_threshold=2)
    metrics = RankerMetrics()
    ranked = re_rank(candidates, config, metrics)
    first = "co_installation" if moved else "similarity"
    assert sources(ranked)[0] == first
    assert metrics.first_degree_backfill == int(moved)


def test_backfill_type_goes_to_the_bottom_keeping_order():
    a, b, c = candidate("a", "locale_popularity"), candidate("b"), candidate("c",
                                                                             "locale_popularity")
    ranked = re_rank([a, b, c], RankerConfig(backfill_down_rank=True))
    assert ids(ranked) == ids([b, a, c])


def test_last_listed_up_rank_type_ends_on_top_and_last_down_rank_type_at_the_bottom():
    candidates = [candidate(str(i), SOURCES[i % 4]) for i in range(12)]
    up = re_rank(candidates, RankerConfig(up_rank_types=("curated", "similarity")))
    assert sources(up)[:6] == ["similarity"] * 3 + ["curated"] * 3
    down = re_rank(candidates, RankerConfig(down_rank_types=("similarity", "curated")))
    assert sources(down)[-6:] == ["similarity"] * 3 + ["curated"] * 3


def test_later_re_rank_steps_override_earlier_ones():
    candidates = [
        candidate("pop", "locale_popularity", subscribed_creator=True),
        candidate("co", "co_installation"),
        candidate("sim", "similarity"),
    ]
    config = RankerConfig(enable_first_degree_backfill=True, backfill_down_rank=True,
                          up_rank_types=("locale_popularity",),
                          down_rank_types=("co_installation",))
    # R1 puts co first, R2 puts pop last, R3 puts pop back on top, R4 sends co to the bottom.
    assert [c.addon_id for c in re_rank(candidates, config)] == ["pop", "sim", "co"]
    hard = dataclasses.replace(config, down_rank_types=("locale_popularity",),
                               boost_subscribed_creators=True)
    assert [c.addon_id for c in re_rank(candidates, hard)][0] == "pop"  # R5 overrides R4


def test_hard_versus_soft_subscribed_creator_boost():
    candidates = [
        candidate("a", predicted=0.9),
        candidate("b", predicted=0.5),
        candidate("sub_low", predicted=0.1, subscribed_creator=True),
        candidate("sub_mid", predicted=0.6, subscribed_creator=True),
    ]
    hard = RankerConfig(boost_subscribed_creators=True, subscribed_mode="hard")
    assert [c.addon_id for c in re_rank(candidates, hard)] == ["sub_low", "sub_mid", "a", "b"]
    soft = dataclasses.replace(hard, subscribed_mode="soft", subscribed_soft_factor=1.6)
    # 0.6 * 1.6 = 0.96 beats 0.9; 0.1 * 1.6 = 0.16 does not beat 0.5.
    assert [c.addon_id for c in re_rank(candidates, soft)] == ["sub_mid", "a", "b", "sub_low"]


def test_soft_boost_uses_the_quality_adjusted_score_when_it_was_computed():
    candidates = [candidate("plain", predicted=0.5, quality_score=0.0),
                  candidate("sub", predicted=0.3, quality_score=1.0, subscribed_creator=True)]
    config = RankerConfig(enable_quality_upranking=True, quality_transform="identity",
                          boost_subscribed_creators=True, subscribed_mode="soft",
                          subscribed_soft_factor=1.0)
    assert [c.addon_id for c in re_rank(candidates, config)] == ["sub", "plain"]  # 0.6 > 0.5
    no_quality = dataclasses.replace(config, disable_heavy_ranking=True)
    assert [c.addon_id for c in re_rank(candidates, no_quality)] == ["plain", "sub"]


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def test_metrics_accumulate_across_calls():
    candidates = [
        candidate("co", "co_installation", predicted=0.1),
        candidate("pop", "locale_popularity", predicted=0.9, subscribed_creator=True),
        candidate("d", "similarity", predicted=0.5, discovery=True, producer="p"),
    ]
    config = RankerConfig(
        enable_quality_upranking=True, enable_producer_boosting=True,
        enable_first_degree_backfill=True, backfill_down_rank=True,
        up_rank_types=("similarity",), down_rank_types=("curated", "co_installation"),
        boost_subscribed_creators=True,
    )
    metrics = RankerMetrics()
    for _ in range(3):
        rank(candidates, config, {"p": ProducerSignals(weekly_users=2_000_000)}, metrics)
    rank(candidates, RankerConfig(use_random_ranking=True), metrics=metrics)
    assert metrics.as_dict() == {
        "random_ranking": 1, "disable_all_relevance": 0, "disable_heavy_ranking": 0,
        "heavy_ranking": 3, "candidates_ranked": 12, "heavy_ranker_candidates": 9,
        "quality_upranking": 3, "producer_upranking": 3, "producer_boosted_candidates": 3,
        "producer_downboosted_candidates": 0, "producer_signals_missing_candidates": 0,
        "first_degree_backfill": 3, "first_degree_backfilled_candidates": 3,
        "backfill_down_ranking": 3, "backfill_down_ranked_candidates": 3,
        "type_up_ranking": 3, "type_up_ranked_candidates": 3,
        "type_down_ranking": 3, "type_down_ranked_candidates": 3,
        "subscribed_boosting": 3, "subscribed_boosted_candidates": 3,
    }


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_config_round_trips_through_plain_dicts():
    config = RankerConfig(up_rank_types=("curated",), producer_quality_rule=ProducerQualityRule(
        low_users_below=10))
    plain = config.to_dict()
    assert plain["up_rank_types"] == ["curated"]
    assert plain["producer_quality_rule"]["low_users_below"] == 10.0
    assert RankerConfig.from_dict(plain) == config


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown RankerConfig key\(s\) \['quality_bost'\]"):
        RankerConfig.from_dict({"quality_bost": 1.0})
    with pytest.raises(ValueError, match=r"unknown ProducerQualityRule key\(s\) \['x'\]"):
        RankerConfig.from_dict({"producer_quality_rule": {"x": 1}})


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("linear_bar", 0.0),
        ("quality_boost", -0.1),
        ("producer_boost_ratio", -1.0),
        ("producer_downboost_ratio", -0.5),
        ("first_degree_threshold", -1),
        ("subscribed_soft_factor", 0.0),
        ("quality_transform", "log"),
        ("subscribed_mode", "medium"),
        ("random_seed", -1),
        ("sigmoid_weight", float("nan")),
        ("sigmoid_bias", float("inf")),
        ("use_random_ranking", "yes"),
        ("up_rank_types", "curated"),
        ("down_rank_types", ("curated", "")),
        ("backfill_type", ""),
        ("first_degree_threshold", 1.5),
    ],
)
def test_invalid_config_is_rejected_naming_the_field(field_name, value):
    with pytest.raises((ValueError, TypeError), match=rf"RankerConfig\.{field_name} "):
        RankerConfig(**{field_name: value})


@pytest.mark.parametrize(
    ("field_name", "value"),
    [("low_users_below", 0.0), ("safe_risk_below", -0.1), ("engaged_rating_above", math.nan)],
)
def test_invalid_producer_rule_is_rejected_naming_the_field(field_name, value):
    with pytest.raises(ValueError, match=rf"ProducerQualityRule\.{field_name} "):
        ProducerQualityRule(**{field_name: value})


def test_invalid_producer_signals_are_rejected_naming_the_field():
    with pytest.raises(ValueError, match=r"ProducerSignals\.risk_score "):
        ProducerSignals(risk_score=1.5)
    with pytest.raises(ValueError, match=r"ProducerSignals\.weekly_users "):
        ProducerSignals(weekly_users=-1)


def test_candidates_stay_hashable_with_features():
    a = candidate("a", features={"x": 1.0})
    assert a == candidate("a", features={"x": 2.0}) and len({a, candidate("a")}) == 1
