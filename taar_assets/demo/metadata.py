"""The records of `addon_metadata.json`: producer, audience, ratings and flags per extension."""

from __future__ import annotations

import numpy as np

from taar_assets.demo.catalog import _Catalog, _non_whitelisted_popularity
from taar_assets.demo.population import _Groups
from taar_assets.demo.sampling import _rng
from taar_assets.demo.spec import DemoSpec
from taar_assets.demo.tables import (
    ACCOUNT_RANK_SHIFT,
    ACCOUNT_SHARE,
    ACCOUNT_SUFFIXES,
    LOW_QUALITY_PRODUCER_SHARE,
    NON_WHITELISTED_PER_CLIENT,
    RECENT_DAYS,
    STREAM_METADATA,
    SUBSCRIBED_PRODUCER_SHARE,
    USERS_REPRESENTED,
    VALID_COUNT_WEIGHTS,
    VENDOR_SYLLABLES,
)
from taar_assets.recommendation.addon_metadata import AddonInfo


def _expected_install_share(spec: DemoSpec, catalog: _Catalog, groups: _Groups) -> np.ndarray:
    """For each extension (whitelisted, then the others), the expected share of clients having it."""
    counts, count_weights = zip(*VALID_COUNT_WEIGHTS.items())
    mean_valid = np.average(counts, weights=count_weights)
    taste_weight = np.exp(groups.taste_log_weight.astype(np.float64))
    draw_probability = taste_weight / taste_weight.sum(axis=1, keepdims=True)
    whitelisted = np.zeros(catalog.non_whitelisted_start)
    np.add.at(whitelisted, groups.taste, groups.share[:, None] * np.minimum(1.0, mean_valid * draw_probability))
    others = np.minimum(1.0, NON_WHITELISTED_PER_CLIENT * _non_whitelisted_popularity())
    return np.concatenate([whitelisted, others])


def _producers(rng: np.random.Generator, guids: list[str]) -> np.ndarray:
    """Each extension's producer: the vendor domain of ``name@vendor.tld`` GUIDs, else one of a
    pool of developer accounts, a few of which publish many add-ons (a shifted Zipf)."""
    vendor = np.array(
        [guid.rpartition("@")[2] if "@" in guid and not guid.endswith("@jetpack") else "" for guid in guids],
        dtype=object,
    )
    accounts = max(1, int((vendor == "").sum() * ACCOUNT_SHARE))
    names = set()
    while len(names) < accounts:
        syllables = rng.integers(len(VENDOR_SYLLABLES), size=rng.integers(2, 4))
        stem = "".join(VENDOR_SYLLABLES[i] for i in syllables).capitalize()
        names.add(stem + ACCOUNT_SUFFIXES[rng.integers(len(ACCOUNT_SUFFIXES))])
    pool = np.array(sorted(names), dtype=object)[rng.permutation(accounts)]
    weights = 1.0 / (np.arange(accounts) + ACCOUNT_RANK_SHIFT)
    account = rng.choice(accounts, size=len(guids), p=weights / weights.sum())
    return np.where(vendor != "", vendor, pool[account])


def _addon_metadata(spec: DemoSpec, catalog: _Catalog, groups: _Groups) -> list[AddonInfo]:
    """A metadata record for every whitelisted and non-whitelisted extension (catalog order).

    Audiences follow the add-ons' popularity in the generated telemetry, with noise (heavily
    skewed); a few producers are low quality (poor ratings, many reports, policy or abuse
    flags) and a few larger ones are subscribed creators. Release counts come from the
    catalog's release schedule.
    """
    rng = _rng(spec.seed, STREAM_METADATA)
    count = catalog.system_start
    guids = catalog.ids.slice(0, count).to_pylist()
    names = catalog.names.slice(0, count).to_pylist()
    producer = _producers(rng, guids)
    noise = rng.lognormal(0.0, 0.8, count)
    users = np.round(USERS_REPRESENTED * _expected_install_share(spec, catalog, groups) * noise)

    producers, producer_of = np.unique(producer, return_inverse=True)
    low_quality = (rng.random(len(producers)) < LOW_QUALITY_PRODUCER_SHARE)[producer_of]
    audience = np.bincount(producer_of, weights=users)
    big = audience >= np.quantile(audience, 0.8)  # subscribed creators come from the top fifth
    subscribed = (big & (rng.random(len(producers)) < SUBSCRIBED_PRODUCER_SHARE / 0.2))[producer_of] & ~low_quality

    rating = np.where(low_quality, rng.uniform(1.0, 2.4, count), np.clip(rng.normal(4.2, 0.45, count), 1.0, 5.0))
    rating_count = rng.poisson(users * np.where(low_quality, 0.004, 0.001))
    report_rate = np.where(low_quality, rng.uniform(2e-3, 1e-2, count), rng.lognormal(np.log(2e-6), 1.0, count))
    risk = np.where(low_quality, rng.uniform(0.9, 1.0, count), rng.beta(2.0, 8.0, count))
    policy_violation = low_quality & (rng.random(count) < 0.5)
    abuse_flagged = low_quality & (rng.random(count) < 0.6)
    abuse_severe = abuse_flagged & (rng.random(count) < 0.5)
    # Releases in the last RECENT_DAYS days of the window, from the catalog's release schedule.
    period = catalog.release_period[:count].astype(np.int64)
    shift = catalog.release_offset[:count].astype(np.int64)
    last_day = spec.days - 1
    recent = (last_day + shift) // period - (last_day - RECENT_DAYS + shift) // period
    return [
        AddonInfo(
            guid=guids[i],
            name=names[i],
            producer=str(producer[i]),
            weekly_users=float(users[i]),
            average_rating=round(float(rating[i]), 2) if rating_count[i] else 0.0,
            rating_count=int(rating_count[i]),
            report_rate=float(f"{report_rate[i]:.3g}"),
            risk_score=round(float(risk[i]), 3),
            policy_violation=bool(policy_violation[i]),
            abuse_flagged=bool(abuse_flagged[i]),
            abuse_flagged_severe=bool(abuse_severe[i]),
            recent_updates=int(recent[i]),
            subscribed=bool(subscribed[i]),
        )
        for i in range(count)
    ]
