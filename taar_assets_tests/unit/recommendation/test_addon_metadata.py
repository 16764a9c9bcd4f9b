"""Add-on metadata: the schema, its validation errors, and the producer signals the ranker reads."""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taar_assets.recommendation.addon_metadata import (
    AddonInfo,
    AddonMetadataError,
    addon_metadata_json,
    load_addon_metadata,
    parse_addon_metadata,
    producer_signals,
)
from taar_assets.recommendation.ranker import ProducerQuality, ProducerQualityRule, ProducerSignals


def record(guid: str = "tabs@example.com", **overrides) -> dict:
    values = {"guid": guid, "name": "Tabs", "producer": "Example Labs", "weekly_users": 1200}
    values.update(overrides)
    return values


def write_json(tmp_path, records, **document) -> str:
    path = tmp_path / "addon_metadata.json"
    path.write_text(json.dumps({"schema_version": 1, "addons": records, **document}))
    return str(path)


def test_a_minimal_record_takes_the_documented_defaults():
    (info,) = parse_addon_metadata([record()]).values()
    assert info == AddonInfo(guid="tabs@example.com", name="Tabs", producer="Example Labs", weekly_users=1200.0)
    assert (info.average_rating, info.rating_count, info.report_rate, info.risk_score) == (0.0, 0, 0.0, 0.5)
    assert not (info.policy_violation or info.abuse_flagged or info.abuse_flagged_severe or info.subscribed)


def test_json_and_parquet_round_trips(tmp_path):
    metadata = parse_addon_metadata(
        [
            record(average_rating=4.5, rating_count=80, report_rate=1e-6, recent_updates=2, subscribed=True),
            record("ads@example.org", producer="Other", weekly_users=3, policy_violation=True, risk_score=0.95),
        ]
    )
    json_path = tmp_path / "metadata.json"
    json_path.write_bytes(addon_metadata_json(metadata.values()))
    assert load_addon_metadata(str(json_path)) == metadata

    parquet_path = tmp_path / "metadata.parquet"
    pq.write_table(pa.Table.from_pylist([info.to_record() for info in metadata.values()]), parquet_path)
    assert load_addon_metadata(str(parquet_path)) == metadata


def test_parquet_nulls_are_missing_values(tmp_path):
    path = tmp_path / "metadata.parquet"
    pq.write_table(pa.Table.from_pylist([record(average_rating=4.0), record("b@x", average_rating=None)]), path)
    assert load_addon_metadata(str(path))["b@x"].average_rating == 0.0


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"weekly_users": None}, "weekly_users", "is required"),
        ({"producer": ""}, "producer", "non-empty string"),
        ({"weekly_users": "many"}, "weekly_users", "must be a number"),
        ({"weekly_users": -1}, "weekly_users", r"in \[0, inf\]"),
        ({"average_rating": 5.5}, "average_rating", r"in \[0, 5\]"),
        ({"risk_score": float("inf")}, "risk_score", "finite"),
        ({"rating_count": 2.5}, "rating_count", "non-negative integer"),
        ({"recent_updates": True}, "recent_updates", "must be a number"),
        ({"subscribed": "yes"}, "subscribed", "true or false"),
    ],
)
def test_a_bad_value_names_file_guid_and_field(tmp_path, overrides, field, problem):
    location = write_json(tmp_path, [record("good@x"), record("bad@example.com", **overrides)])
    with pytest.raises(AddonMetadataError, match=problem) as error:
        load_addon_metadata(location)
    message = str(error.value)
    assert location in message and "'bad@example.com'" in message and f"'{field}'" in message


def test_record_problems_without_a_usable_guid_name_the_position(tmp_path):
    location = write_json(tmp_path, [record(), {"name": "x", "producer": "p", "weekly_users": 1}])
    with pytest.raises(AddonMetadataError, match=r"record 1: field 'guid' is required"):
        load_addon_metadata(location)
    with pytest.raises(AddonMetadataError, match=r"record 0 must be an object"):
        load_addon_metadata(write_json(tmp_path, ["tabs@example.com"]))


def test_unknown_fields_and_repeated_guids_are_rejected(tmp_path):
    with pytest.raises(AddonMetadataError, match=r"'tabs@example.com': unknown field\(s\) \['subscribd'\]"):
        load_addon_metadata(write_json(tmp_path, [record(subscribd=True)]))
    with pytest.raises(AddonMetadataError, match="appears more than once"):
        load_addon_metadata(write_json(tmp_path, [record(), record()]))


def test_broken_files_are_named(tmp_path):
    with pytest.raises(AddonMetadataError, match="not found"):
        load_addon_metadata(str(tmp_path / "missing.json"))
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(AddonMetadataError, match=f"{path} is not valid JSON"):
        load_addon_metadata(str(path))
    path.write_text(json.dumps([record()]))
    with pytest.raises(AddonMetadataError, match="must be a JSON object"):
        load_addon_metadata(str(path))
    with pytest.raises(AddonMetadataError, match="schema_version must be 1, got 2"):
        load_addon_metadata(write_json(tmp_path, [record()], schema_version=2))
    parquet = tmp_path / "broken.parquet"
    parquet.write_bytes(b"PAR1 not really")
    with pytest.raises(AddonMetadataError, match="not a readable parquet file"):
        load_addon_metadata(str(parquet))


def test_producer_signals_fold_a_producers_addons():
    metadata = parse_addon_metadata(
        [
            record("a@x", producer="Acme", weekly_users=1000, average_rating=4.0, rating_count=30,
                   report_rate=1e-4, risk_score=0.2, recent_updates=1),
            record("b@x", producer="Acme", weekly_users=3000, average_rating=3.0, rating_count=10,
                   report_rate=0.0, risk_score=0.6, recent_updates=2, abuse_flagged=True),
            record("c@x", producer="Solo", weekly_users=0),
        ]
    )
    signals = producer_signals(metadata)
    assert dataclasses.asdict(signals["Acme"]) == pytest.approx(
        {
            "weekly_users": 4000.0,
            "risk_score": 0.6,  # the worst add-on's
            "policy_violation": False,
            "abuse_flagged": True,  # any add-on's flag
            "abuse_flagged_severe": False,
            "recent_updates": 3,
            "average_rating": (4.0 * 30 + 3.0 * 10) / 40,  # over all ratings
            "rating_count": 40,
            "report_rate": 1e-4 * 1000 / 4000,  # over all users
        }
    )
    # No users and no ratings: the averages are 0, not a division by zero.
    assert signals["Solo"] == ProducerSignals(weekly_users=0.0, risk_score=0.5)


def test_signals_classify_with_the_rankers_rule():
    metadata = parse_addon_metadata(
        [
            record("big@x", producer="Big", weekly_users=2_000_000),
            record("bad@x", producer="Bad", weekly_users=50_000, policy_violation=True),
            record("tiny@x", producer="Tiny", weekly_users=2),
            record("mid@x", producer="Mid", weekly_users=500, average_rating=4.1, rating_count=3),
        ]
    )
    rule = ProducerQualityRule()
    verdicts = {producer: rule.classify(signals) for producer, signals in producer_signals(metadata).items()}
    assert verdicts == {
        "Big": ProducerQuality.HIGH,
        "Bad": ProducerQuality.LOW,
        "Tiny": ProducerQuality.LOW,
        "Mid": ProducerQuality.NEUTRAL,
    }
