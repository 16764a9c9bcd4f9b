"""`taar-assets recommend` on a model published by the pipeline, and on bad input."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from taar_assets.similarity.recommender import SimilarityModel
from taar_assets.cli.recommend import main_recommend
from taar_assets_tests.conftest import run_similarity
from taar_assets_tests.dagster.test_consumer import client_profile
from taar_assets_tests.unit.similarity.test_recommender import (
    DAY,
    HAND_CURVES,
    HAND_DONORS,
    profile,
    without_nan,
    write_model,
)

CLIENTS = 6


def write_lines(path: Path, lines) -> Path:
    path.write_bytes(
        b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)
    )
    return path


@pytest.fixture
def published(settings, tmp_path):
    """(model location, profiles file, profiles): the pipeline's model and a few of its sampled clients."""
    run_similarity(settings, partition_key=DAY)
    storage = Path(settings.storage)
    samples = pq.read_table(storage / "samples" / f"{DAY}.parquet").to_pandas().set_index("client_id")
    valid = pq.read_table(storage / "addons_per_client" / f"{DAY}.parquet").to_pandas().set_index("client_id")
    profiles = [
        {
            "client_id": client_id,
            **without_nan(client_profile(samples.loc[client_id])),
            "installed_addons": list(valid.loc[client_id, "addon_ids"]),
        }
        for client_id in valid.index[:CLIENTS]
    ]
    return settings.publish, write_lines(tmp_path / "profiles.jsonl", profiles), profiles


def run(capsys, *argv) -> tuple[int, list[dict], list[str]]:
    """Exit code, stdout as parsed JSON lines, stderr lines."""
    code = main_recommend([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err.splitlines()


def test_one_json_line_per_client_with_the_libraries_recommendations(published, capsys):
    model_location, profiles_file, profiles = published
    code, lines, errors = run(capsys, "--model", model_location, "--profiles", profiles_file)
    assert (code, errors) == (0, [])

    model = SimilarityModel.load(model_location)
    assert [line["client_id"] for line in lines] == [p["client_id"] for p in profiles]
    for line, client in zip(lines, profiles):
        assert set(line) == {"client_id", "recommendations"}
        assert all(
            set(r) == {"addon_id", "source", "weight"} and r["source"] == "similarity" for r in line["recommendations"]
        )
        recommended = [(r["addon_id"], r["weight"]) for r in line["recommendations"]]
        assert recommended == model.recommend(client, limit=10)
        assert len(recommended) == 10 and not set(client["installed_addons"]) & {guid for guid, _ in recommended}

    code, limited, _ = run(capsys, "--model", model_location, "--profiles", profiles_file, "--limit", 3)
    assert code == 0
    assert [line["recommendations"] for line in limited] == [line["recommendations"][:3] for line in lines]


def test_a_ranker_config_reorders_the_candidates_and_reports_metrics(published, tmp_path, capsys):
    model_location, profiles_file, _ = published
    arguments = ("--model", model_location, "--profiles", profiles_file)
    _, plain, _ = run(capsys, *arguments)

    # Default ranker: heavy ranking with no predicted scores keeps the similarity order.
    default = write_lines(tmp_path / "default.json", [{}])
    code, ranked, errors = run(capsys, *arguments, "--ranker-config", default)
    assert code == 0 and ranked == plain
    assert json.loads(errors[-1])["ranker_metrics"]["heavy_ranking"] == CLIENTS

    # Random ranking shuffles each client's whole candidate list, then keeps the top 10.
    shuffle = write_lines(tmp_path / "shuffle.json", [{"use_random_ranking": True, "random_seed": 3}])
    code, shuffled, errors = run(capsys, *arguments, "--ranker-config", shuffle, "--limit", 1000)
    assert code == 0 and json.loads(errors[-1])["ranker_metrics"]["random_ranking"] == CLIENTS
    _, everything, _ = run(capsys, *arguments, "--limit", 1000)
    for line, full in zip(shuffled, everything):
        assert sorted(line["recommendations"], key=json.dumps) == sorted(full["recommendations"], key=json.dumps)
    assert any(line != full for line, full in zip(shuffled, everything))

    unknown = write_lines(tmp_path / "unknown.json", [{"use_random_rankin": True}])
    code, lines, errors = run(capsys, *arguments, "--ranker-config", unknown)
    assert (code, lines) == (2, [])
    assert "unknown RankerConfig key(s) ['use_random_rankin']" in errors[-1]


@pytest.mark.parametrize(
    "bad_line, problem",
    [
        (b"{not json", "Expecting property name"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (json.dumps({k: v for k, v in profile().items() if k != "os"}).encode(), r"missing required field(s) ['os']"),
        (json.dumps(profile(locale=7)).encode(), "field 'locale' must be a string or null, got 7"),
        (json.dumps({**profile(), "client_id": 12}).encode(), "client_id must be a string, got 12"),
        (b'{"geo_city": "\xff"}', "can't decode byte 0xff"),
    ],
)
def test_a_bad_line_stops_the_command_naming_its_number(tmp_path, capsys, bad_line, problem):
    model = write_model(tmp_path / "model", HAND_DONORS, HAND_CURVES)
    profiles = write_lines(
        tmp_path / "profiles.jsonl",
        [
            {**profile(), "client_id": "first"},
            b"",
            {**profile(), "client_id": "second"},
            bad_line,
            {**profile(), "client_id": "never"},
        ],
    )
    code, lines, errors = run(capsys, "--model", model, "--profiles", profiles)
    assert code == 2
    # The clients before the bad line are printed; none after it.
    assert [line["client_id"] for line in lines] == ["first", "second"]
    assert errors[-1].startswith(f"taar-assets recommend: {profiles} line 4: ")
    assert problem in errors[-1]


def test_a_model_that_cannot_be_loaded_exits_1(tmp_path, capsys):
    profiles = write_lines(tmp_path / "profiles.jsonl", [profile()])
    code, lines, errors = run(capsys, "--model", tmp_path / "nowhere", "--profiles", profiles)
    assert (code, lines) == (1, [])
    assert "model file" in errors[-1] and "donors.json not found" in errors[-1]


def test_missing_profiles_file_and_bad_limit_exit_2(tmp_path, capsys):
    model = write_model(tmp_path / "model", HAND_DONORS, HAND_CURVES)
    code, _, errors = run(capsys, "--model", model, "--profiles", tmp_path / "absent.jsonl")
    assert code == 2 and "cannot read profiles" in errors[-1]
    with pytest.raises(SystemExit) as exit_:
        main_recommend(["--model", str(model), "--profiles", str(tmp_path / "absent.jsonl"), "--limit", "-1"])
    assert exit_.value.code == 2


def test_a_model_on_s3_is_read_with_the_pipelines_s3_settings(s3, tmp_path, capsys, monkeypatch):
    bucket = s3.create_bucket()
    folder = write_model(tmp_path / "model", HAND_DONORS, HAND_CURVES, "service")
    s3.filesystem().put(f"{folder}/", f"{bucket}/model/", recursive=True)
    monkeypatch.setenv("TAAR_S3_ENDPOINT_URL", s3.endpoint_url)
    profiles = write_lines(tmp_path / "profiles.jsonl", [{**profile(), "client_id": "c1"}])
    code, lines, errors = run(capsys, "--model", f"s3://{bucket}/model", "--profiles", profiles, "--limit", 2)
    assert (code, errors) == (0, [])
    assert lines == [
        {
            "client_id": "c1",
            "recommendations": [
                {"addon_id": guid, "source": "similarity", "weight": weight}
                for guid, weight in SimilarityModel.from_records(HAND_DONORS, HAND_CURVES).recommend(profile(), limit=2)
            ],
        }
    ]


def test_all_sources_ranked_with_the_install_model(published, settings, demo_dataset, capsys):
    from taar_assets.definitions import build_definitions
    from taar_assets.resources import build_resources

    build_definitions(build_resources(settings)).resolve_job_def("recommendation_job").execute_in_process(
        partition_key=DAY
    )
    model_location, profiles_file, profiles = published
    storage = Path(settings.storage)
    code, lines, errors = run(
        capsys, "--model", model_location, "--profiles", profiles_file, "--limit", 10,
        "--sources", storage / "candidate_sources" / f"{DAY}.json",
        "--install-model", storage / "install_model" / f"{DAY}.json",
        "--addon-metadata", demo_dataset.addon_metadata,
    )
    assert code == 0
    metrics = json.loads(errors[-1])["ranker_metrics"]
    assert metrics["heavy_ranking"] == len(profiles) and metrics["producer_upranking"] == len(profiles)
    sources = {r["source"] for line in lines for r in line["recommendations"]}
    assert len(sources) >= 2, sources
    for line, sent in zip(lines, profiles):
        addons = [r["addon_id"] for r in line["recommendations"]]
        assert len(addons) == len(set(addons)) == 10
        assert not set(addons) & set(sent["installed_addons"])
        weights = [r["weight"] for r in line["recommendations"]]
        assert all(0 <= w <= 1 for w in weights), "install-model probabilities"
