"""The serving-side similarity recommender: known answers by hand, the zero-density guard, both
layouts, malformed models, and agreement with the independent spec reader of test_consumer."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from taar_assets.similarity import model_files, recommender
from taar_assets.similarity.model_input import ModelError, ProfileError, validate_profile
from taar_assets.similarity.recommender import SimilarityModel, nearest_grid_points
from taar_assets_tests.conftest import run_similarity
from taar_assets_tests.dagster.test_consumer import client_profile, service_recommend

DAY = "2026-11-20"
LN2, LN3, LN4 = math.log(2), math.log(3), math.log(4)


def profile(geo_city="Paris", locale="fr", os="Linux", subsession_length=100.0, **overrides):
    """A service profile; continuous features other than the session length are 0."""
    values = {
        "geo_city": geo_city,
        "locale": locale,
        "os": os,
        "subsession_length": subsession_length,
        "bookmark_count": 0,
        "tab_open_count": 0,
        "total_uri": 0,
        "unique_tlds": 0,
    }
    return {**values, **overrides}


def donor(addons, **features):
    return {**profile(**features), "active_addons": addons}


# Distances to CLIENT = profile() by hand, d = (canberra + 0.001) * hamming (docs/behaviour.md §4):
HAND_DONORS = [
    donor(["a", "b"], subsession_length=300.0),  # same categoricals: hamming 0, d = 0
    donor(["b", "c"], geo_city="Lyon", subsession_length=300.0),  # (200/400 + 0.001) * 1/3 = 0.167
    donor(["c", "d"], geo_city="Lyon", os="Windows_NT"),  # (0 + 0.001) * 2/3 = 0.00067
    donor(["a", "e"], geo_city="Rome", locale="it", os="Darwin", subsession_length=0.0),  # (1 + 0.001) * 1
]
# LR 4 at x = 0, 2 at 0.2, 1 in the middle, 1/2 at 1.0.
HAND_CURVES = [
    [0.0, [4.0, 1.0]],
    [0.2, [2.0, 1.0]],
    [0.4, [1.0, 1.0]],
    [0.6, [1.0, 1.0]],
    [0.8, [1.0, 1.0]],
    [1.0, [1.0, 2.0]],
]
# Nearest points 0.0, 0.2, 0.0, 1.0, so llr ln4, ln2, ln4, -ln2 (the last donor does not vote).
HAND_LOG_RATIOS = [LN4, LN2, LN4, -LN2]
# b: ln4 + ln2 (donors 0, 1), c: ln2 + ln4 (donors 1, 2), a: ln4 (donor 0), d: ln4 (donor 2);
# equal weights are ordered by add-on id.
HAND_RECOMMENDATIONS = [("b", LN4 + LN2), ("c", LN2 + LN4), ("a", LN4), ("d", LN4)]


@pytest.fixture
def hand_model():
    return SimilarityModel.from_records(HAND_DONORS, HAND_CURVES)


def write_model(folder: Path, donors, curves, layout=None) -> Path:
    """donors.json and lr_curves.json in `folder`, plus a manifest with their checksums when `layout` is given."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"donors.json": model_files.to_json_bytes(donors), "lr_curves.json": model_files.to_json_bytes(curves)}
    if layout is not None:
        manifest = model_files.build_manifest(
            day=DAY, layout=layout, files=files, counts={"donors": len(donors)}, parameters={}, input_window={}
        )
        files["manifest.json"] = model_files.to_json_bytes(manifest)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def ranked(weights):
    """The oracle's Counter as recommend's list: positive weights, descending, ties by id."""
    return sorted(
        ((guid, weight) for guid, weight in weights.items() if weight > 0), key=lambda item: (-item[1], item[0])
    )


def without_nan(values: dict) -> dict:
    """pandas' missing values as the None a service profile carries."""
    return {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in values.items()}


# ------------------------------------------------------------------------------------------
# Known answers
# ------------------------------------------------------------------------------------------


def test_hand_made_model_gives_the_weights_computed_by_hand(hand_model):
    assert hand_model.donor_log_ratios(profile()) == pytest.approx(HAND_LOG_RATIOS)
    recommendations = hand_model.recommend(profile())
    assert [guid for guid, _ in recommendations] == [guid for guid, _ in HAND_RECOMMENDATIONS]
    assert [weight for _, weight in recommendations] == pytest.approx([w for _, w in HAND_RECOMMENDATIONS])


def test_limit_and_exclusions(hand_model):
    assert [guid for guid, _ in hand_model.recommend(profile(), limit=2)] == ["b", "c"]
    assert hand_model.recommend(profile(), limit=0) == []
    assert len(hand_model.recommend(profile(), limit=None)) == 4
    installed = profile(installed_addons=["b", "not-in-the-model"])
    assert [guid for guid, _ in hand_model.recommend(installed)] == ["c", "a", "d"]
    assert [guid for guid, _ in hand_model.recommend(installed, exclude=["a"])] == ["c", "d"]
    # Excluding an add-on does not change the others' weights.
    assert dict(hand_model.recommend(installed))["c"] == dict(hand_model.recommend(profile()))["c"]
    with pytest.raises(ValueError, match="limit"):
        hand_model.recommend(profile(), limit=-1)
    with pytest.raises(TypeError, match="exclude"):
        hand_model.recommend(profile(), exclude="a")


def test_nearest_grid_point_boundaries():
    grid = np.array([0.0, 1.0, 2.0])
    distances = np.array([-5.0, 0.0, 0.5, np.nextafter(0.5, 1.0), 1.0, 1.5, np.nextafter(1.5, 2.0), 2.0, 99.0])
    # Halfway (0.5, 1.5) goes to the lower point, as a first-minimum search does.
    assert nearest_grid_points(grid, distances).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert nearest_grid_points(np.array([0.3]), np.array([0.0, 7.0])).tolist() == [0, 0]


def test_nearest_grid_point_is_the_first_minimum_of_the_distance_to_the_grid():
    rng = np.random.default_rng(5)
    grid = np.sort(rng.uniform(0, 3, 50))
    distances = np.concatenate([rng.uniform(-1, 4, 500), (grid[:-1] + grid[1:]) / 2, grid])
    expected = [int(np.argmin(np.abs(grid - d))) for d in distances]  # argmin: the first minimum
    assert nearest_grid_points(grid, distances).tolist() == expected


def test_zero_densities_give_finite_weights():
    curves = [[0.0, [0.0, 1.0]], [1.0, [2.0, 0.0]], [2.0, [1.0, 2.0]], [3.0, [3.0, 1.0]], [4.0, [0.0, 0.0]]]
    model = SimilarityModel.from_records(
        [
            donor(["same"]),  # d = 0: numerator 0, never votes
            donor(["one"], geo_city="X", locale="x", os="x", subsession_length=0.0),  # d = 1.001: denominator 0
            donor(["two"], geo_city="X", locale="x", os="x", subsession_length=0.0, bookmark_count=5),  # 2.001
            donor(
                ["four"],
                geo_city="X",
                locale="x",
                os="x",
                subsession_length=0.0,
                bookmark_count=5,
                tab_open_count=5,
                total_uri=5,
            ),  # 4.001: 0/0, never votes
        ],
        curves,
    )
    # Denominator 0 takes the largest finite llr of the curve (ln 3 at x = 3).
    assert model.grid_log_ratios.tolist() == [-math.inf, LN3, -LN2, LN3, -math.inf]
    assert model.donor_log_ratios(profile()).tolist() == [-math.inf, LN3, -LN2, -math.inf]
    assert model.recommend(profile(), limit=None) == [("one", LN3)]


def test_a_curve_without_any_defined_ratio_is_rejected():
    with pytest.raises(ModelError, match="lr_curves.json: no grid point has both densities positive"):
        SimilarityModel.from_records(HAND_DONORS, [[0.0, [0.0, 1.0]], [1.0, [1.0, 0.0]]])


# ------------------------------------------------------------------------------------------
# Profiles
# ------------------------------------------------------------------------------------------


def test_missing_values_count_as_empty_and_zero(hand_model):
    missing = profile(geo_city=None, subsession_length=None, bookmark_count=float("nan"))
    explicit = profile(geo_city="", subsession_length=0, bookmark_count=0)
    assert hand_model.recommend(missing) == hand_model.recommend(explicit)


@pytest.mark.parametrize(
    "bad_profile, message",
    [
        (
            {key: value for key, value in profile().items() if key not in ("os", "total_uri")},
            r"missing required field\(s\) \['os', 'total_uri'\]",
        ),
        (profile(locale=3), "field 'locale' must be a string or null, got 3"),
        (profile(tab_open_count="12"), "field 'tab_open_count' must be a finite number or null"),
        (profile(unique_tlds=True), "field 'unique_tlds' must be a finite number or null"),
        (profile(total_uri=math.inf), "field 'total_uri' must be a finite number or null"),
        (profile(installed_addons="a"), "field 'installed_addons' must be a list of add-on id strings"),
        (["not", "a", "mapping"], "must be a JSON object"),
    ],
)
def test_bad_profiles_name_the_field(hand_model, bad_profile, message):
    with pytest.raises(ProfileError, match=message):
        validate_profile(bad_profile)
    with pytest.raises(ProfileError, match=message):
        hand_model.recommend(bad_profile)
    with pytest.raises(ProfileError, match=f"profile 1: {message}"):
        hand_model.recommend_batch([profile(), bad_profile])


def test_batch_gives_the_single_client_results(hand_model, monkeypatch):
    profiles = [
        profile(),
        profile(installed_addons=["c"]),
        profile(geo_city="Lyon"),
        profile(os=None),
        profile(locale="??"),
    ]
    single = [hand_model.recommend(p, limit=3) for p in profiles]
    assert hand_model.recommend_batch(profiles, limit=3) == single
    monkeypatch.setattr(recommender, "BATCH_PAIRS", 2 * hand_model.donor_count)  # chunks of 2, 2 and 1 clients
    assert hand_model.recommend_batch(profiles, limit=3) == single
    assert hand_model.recommend_batch([]) == []


# ------------------------------------------------------------------------------------------
# Layouts and files
# ------------------------------------------------------------------------------------------


def donor_pool_frame(donors) -> pd.DataFrame:
    """The pipeline's donor_pool columns (hours) for service-layout donors (seconds)."""
    return pd.DataFrame(
        {
            "city": [d["geo_city"] for d in donors],
            "subsession_hours_sum": [d["subsession_length"] / 3600 for d in donors],
            **{
                key: [d[key] for d in donors]
                for key in (
                    "locale",
                    "os",
                    "bookmark_count",
                    "tab_open_count",
                    "total_uri",
                    "unique_tlds",
                    "active_addons",
                )
            },
        }
    )


def test_both_layouts_give_identical_recommendations(tmp_path):
    pool = donor_pool_frame(HAND_DONORS)
    service = SimilarityModel.from_records(model_files.donor_records(pool, "service"), HAND_CURVES, "service")
    original_records = model_files.donor_records(pool, "original")
    original = SimilarityModel.from_records(original_records, HAND_CURVES, "original")
    assert original.donor_continuous[:, 0].tolist() == [d["subsession_length"] for d in HAND_DONORS]  # seconds
    # Without a manifest the layout is read from the keys; with one, from the manifest.
    inferred = SimilarityModel.load(write_model(tmp_path / "bare", original_records, HAND_CURVES))
    declared = SimilarityModel.load(write_model(tmp_path / "declared", original_records, HAND_CURVES, "original"))
    assert (inferred.layout, inferred.manifest, declared.layout) == ("original", None, "original")
    profiles = [profile(), profile(subsession_length=7200.0), profile(geo_city="Lyon", subsession_length=30.0)]
    expected = [service.recommend(p) for p in profiles]
    for model in (original, inferred, declared):
        assert [model.recommend(p) for p in profiles] == expected


def test_loading_a_folder_with_a_manifest(tmp_path):
    model = SimilarityModel.load(write_model(tmp_path, HAND_DONORS, HAND_CURVES, "service"))
    assert (model.layout, model.manifest["date"], model.donor_count) == ("service", DAY, 4)
    assert model.recommend(profile()) == SimilarityModel.from_records(HAND_DONORS, HAND_CURVES).recommend(profile())


def test_checksum_mismatch_is_a_model_error(tmp_path):
    folder = write_model(tmp_path, HAND_DONORS, HAND_CURVES, "service")
    (folder / "donors.json").write_bytes(model_files.to_json_bytes(HAND_DONORS[:3]))
    with pytest.raises(ModelError, match=r"donors.json does not match .*manifest.json: its sha256 is"):
        SimilarityModel.load(folder)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("lr_curves.json", None, "model file .*lr_curves.json not found"),
        ("donors.json", b'{"geo_city": "Paris"}', "donors.json must be a non-empty JSON list of donors"),
        ("donors.json", b"[]", "donors.json must be a non-empty JSON list of donors"),
        (
            "lr_curves.json",
            b"[[0.0, [1.0, 1.0]], [0.5, [1.0]]]",
            r"lr_curves.json: point 1 must be \[x, \[numerator, denominator\]\]",
        ),
        ("lr_curves.json", b"[[0.0, [1.0, 1.0]], [0.5, [NaN, 1.0]]]", "lr_curves.json is not valid JSON: NaN"),
        (
            "lr_curves.json",
            b"[[0.0, [1.0, 1.0]], [0.5, [1e999, 1.0]]]",
            "lr_curves.json: point 1 must hold finite numbers",
        ),
        ("lr_curves.json", b"[[0.0, [1.0, 1.0]], [0.0, [1.0, 1.0]]]", "lr_curves.json: x must be strictly increasing"),
        ("lr_curves.json", b"[[0.0, [1.0, -1.0]]]", "lr_curves.json: point 0 has a negative density"),
        (
            "donors.json",
            b'[{"geo_city": "Paris", "subsession_length": 1}]',
            r"donors.json: donor 0 \(service layout\): missing required field",
        ),
        ("donors.json", b"not json", "donors.json is not valid JSON"),
        ("manifest.json", b'{"layout": "sideways"}', "manifest.json: layout must be one of"),
        (
            "manifest.json",
            b'{"layout": "service", "subsession_unit": "hours"}',
            "manifest.json: layout 'service' has subsession_unit",
        ),
    ],
)
def test_malformed_files_are_model_errors_naming_the_file(tmp_path, name, content, message):
    folder = write_model(tmp_path, HAND_DONORS, HAND_CURVES)
    if content is None:
        (folder / name).unlink()
    else:
        (folder / name).write_bytes(content)
    with pytest.raises(ModelError, match=message):
        SimilarityModel.load(folder)


def test_a_donor_with_a_wrong_value_is_named():
    donors = [*HAND_DONORS[:2], {**HAND_DONORS[2], "bookmark_count": "many"}]
    with pytest.raises(ModelError, match="donors.json: donor 2 .*field 'bookmark_count'"):
        SimilarityModel.from_records(donors, HAND_CURVES)
    with pytest.raises(ModelError, match="donors.json: donor 0 .*'active_addons' must be a list"):
        SimilarityModel.from_records([{**HAND_DONORS[0], "active_addons": "a,b"}], HAND_CURVES)
    with pytest.raises(ModelError, match="unknown layout"):
        SimilarityModel.from_records(HAND_DONORS, HAND_CURVES, layout="sideways")


# ------------------------------------------------------------------------------------------
# The model the pipeline publishes
# ------------------------------------------------------------------------------------------


def test_the_published_model_agrees_with_the_independent_consumer(settings, tmp_path):
    run_similarity(settings, partition_key=DAY)
    model = SimilarityModel.load(settings.publish)
    donors = json.loads((Path(settings.publish) / "donors.json").read_text())
    curves = json.loads((Path(settings.publish) / "lr_curves.json").read_text())
    assert (model.layout, model.manifest["date"], model.donor_count) == ("service", DAY, len(donors))

    samples = pq.read_table(Path(settings.storage) / "samples" / f"{DAY}.parquet").to_pandas()
    profiles = [without_nan(client_profile(sample)) for sample in samples.head(300).itertuples()]
    for client in profiles[:8]:
        weights, log_ratios = service_recommend(client, donors, curves)
        assert model.donor_log_ratios(client) == pytest.approx(log_ratios, rel=1e-12, abs=1e-12)
        expected = ranked(weights)
        recommended = model.recommend(client, limit=None)
        assert [guid for guid, _ in recommended] == [guid for guid, _ in expected]
        assert [w for _, w in recommended] == pytest.approx([w for _, w in expected], rel=1e-12)

    # The same donors in the original layout (hours) give the same recommendations.
    pool = pq.read_table(Path(settings.storage) / "donor_pool" / f"{DAY}.parquet").to_pandas()
    original = SimilarityModel.load(
        write_model(tmp_path / "original", model_files.donor_records(pool, "original"), curves)
    )
    assert original.layout == "original"
    assert [original.recommend(c) for c in profiles[:20]] == [model.recommend(c) for c in profiles[:20]]

    # Many chunks of clients (BATCH_PAIRS / 1,000 donors = 8 clients each) give the single results.
    assert model.recommend_batch(profiles * 2) == [model.recommend(c) for c in profiles * 2]


def test_loading_from_s3(s3, tmp_path):
    bucket = s3.create_bucket()
    folder = write_model(tmp_path / "model", HAND_DONORS, HAND_CURVES, "service")
    s3.filesystem().put(f"{folder}/", f"{bucket}/model/", recursive=True)
    model = SimilarityModel.load(f"s3://{bucket}/model/", storage_options=s3.storage_options)
    assert model.manifest["layout"] == "service"
    assert model.recommend(profile()) == SimilarityModel.from_records(HAND_DONORS, HAND_CURVES).recommend(profile())
    with pytest.raises(ModelError, match=f"model file s3://{bucket}/elsewhere/donors.json not found"):
        SimilarityModel.load(f"s3://{bucket}/elsewhere", storage_options=s3.storage_options)


# ------------------------------------------------------------------------------------------
# The 2017 service's formula, against its own code
# ------------------------------------------------------------------------------------------


def test_concatenated_batch_by_hand(hand_model):
    # Donors 0 and 2 tie at LR 4, then donor 1 (LR 2); donor 3 (LR 1/2) never serves.
    served = hand_model.concatenated_batch([profile(installed_addons=["a"])], limit=10)[0]
    assert sorted(served[:4]) == ["a", "b", "c", "d"] and served[4:] == ["b", "c"]  # installed and repeated kept
    assert hand_model.concatenated_batch([profile()], limit=3)[0] == served[:3]


def test_concatenated_batch_is_what_the_2017_service_returns():
    """The 2017 package's own SimilarityRecommender (mozilla-taar 0.0.16) on the same files and
    profiles, its S3 download bypassed: equal ratios included, same lists, same order."""
    similarity = pytest.importorskip("taar.recommenders.similarity_recommender")
    rng = np.random.default_rng(3)
    cities, locales, systems = ["Paris", "Lyon", "??"], ["fr", "de"], ["Linux", "Darwin"]

    def features():
        return {
            "geo_city": str(rng.choice(cities)), "locale": str(rng.choice(locales)), "os": str(rng.choice(systems)),
            **{key: float(rng.choice([0.0, 10.0, 20.0, 40.0])) for key in
               ("subsession_length", "bookmark_count", "tab_open_count", "total_uri", "unique_tlds")},
        }

    donors = [{**features(), "active_addons": [f"addon-{i}", f"addon-{(i * 7) % 11}", "shared"]} for i in range(60)]
    x = np.linspace(0.0, 4.0, 50)
    curves = [[float(v), [float(2.0 * np.exp(-v) + 0.1), 0.5]] for v in x]
    service = similarity.SimilarityRecommender.__new__(similarity.SimilarityRecommender)
    service.donors_pool, service.lr_curves = donors, curves
    service.build_features_caches()

    profiles = [features() for _ in range(40)]
    ours = SimilarityModel.from_records(donors, curves).concatenated_batch(profiles, limit=10)
    assert ours == [service.recommend(p, 10) for p in profiles]
    assert any(len(set(served)) < len(served) for served in ours)  # repeats are part of the contract
