"""`taar-assets recommend`: similarity recommendations for a file of client profiles.

    taar-assets recommend --model data/published --profiles clients.jsonl [--limit 10] [--ranker-config ranker.json]

Input: one JSON object per line with the service's profile fields (``PROFILE_FIELDS`` of
``taar_assets.similarity.recommender``), optionally ``installed_addons`` (never recommended) and
``client_id`` (a string, echoed back). Blank lines are ignored.

Output: one JSON line per client on stdout, in input order:
``{"client_id": ..., "recommendations": [{"addon_id": ..., "source": "similarity", "weight": ...}, ...]}``.

With ``--ranker-config`` (a JSON object for ``RankerConfig.from_dict``) every client's
candidates (all of them, the limit applies after ranking) go through
``taar_assets.recommendation.ranker.rank``, shuffled per client_id when random ranking is on; a final
stderr line reports ``{"ranker_metrics": {...}}``. Without more sources the candidates are the
similarity recommendations, with no predicted score, so heavy ranking keeps their order.

With ``--sources`` (the ``candidate_sources`` asset's JSON) the locale-popularity,
co-installation and curated candidates join them, ``--install-model`` (the ``install_model``
asset's JSON) scores every candidate for heavy ranking and ``--addon-metadata`` turns producer
boosting on; the ranker then runs even without ``--ranker-config`` (its defaults). An add-on
proposed by several sources is listed once, at its best place, with that candidate's source
and weight (the install score when there is one).

A bad line stops the command: the clients before it have been printed, the error names the
line number and the problem, and the exit code is 2. Stopping rather than skipping keeps the
output an exact prefix of the input, so nothing is silently missing and a caller can resume
after fixing the line (a wrong file also gives one error, not one per line).

An ``s3://`` model is read with the pipeline's S3 settings (``TAAR_S3_ENDPOINT_URL``,
``TAAR_S3_REGION`` and the usual ``AWS_*`` variables), a ``gs://`` model with its GCS settings
(Google's default credentials, or the emulator named by ``STORAGE_EMULATOR_HOST``).

Exit codes: 0 done; 1 the model cannot be loaded; 2 bad input (arguments, the profiles file,
a line, the ranker configuration).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from taar_assets.recommendation.addon_metadata import load_addon_metadata
from taar_assets.recommendation.install_model import InstallModel
from taar_assets.recommendation.profiles import profile_from_json
from taar_assets.recommendation.ranker import RankerConfig
from taar_assets.recommendation.serving import Recommender, weight
from taar_assets.recommendation.sources import CandidateSources
from taar_assets.similarity.model_input import ModelError
from taar_assets.similarity.recommender import SimilarityModel

# Clients scored together by recommend_batch; the output of a block is printed before the next is read.
BLOCK_CLIENTS = 1024


class ProfilesFileError(ValueError):
    """The profiles file cannot be opened, or one of its lines cannot be scored."""


def main_recommend(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: sys.argv); returns the exit code."""
    args = _parser().parse_args(argv)
    ranker = None
    if args.ranker_config:
        try:
            with open(args.ranker_config, encoding="utf-8") as handle:
                ranker = RankerConfig.from_dict(json.load(handle))
        except (OSError, ValueError, TypeError) as error:
            return _fail(f"ranker config {args.ranker_config}: {error}", 2)
    recommender = Recommender(ranker=ranker)
    if args.sources:
        try:
            recommender = _with_sources(args, ranker)
        except (OSError, ValueError, TypeError, KeyError) as error:
            return _fail(f"candidate sources: {error}", 2)
    try:
        recommender.model = SimilarityModel.load(args.model, _storage_options(args.model))
    except (ModelError, OSError) as error:
        return _fail(f"cannot load the model at {args.model}: {error}", 1)

    try:
        for block in _blocks(args.profiles):
            _print_block(recommender, block, args.limit)
    except ProfilesFileError as error:
        return _fail(str(error), 2)
    finally:
        if recommender.ranker is not None:
            print(json.dumps({"ranker_metrics": recommender.metrics.as_dict()}), file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taar-assets recommend",
        description="Similarity recommendations, one JSON line per client of a JSON-lines profiles file.",
    )
    parser.add_argument("--model", required=True, help="where the model is published: a folder or s3://bucket/prefix")
    parser.add_argument("--profiles", required=True, help="JSON-lines file, one client profile per line")
    parser.add_argument("--limit", type=_non_negative, default=10, help="recommendations per client (default 10)")
    parser.add_argument("--ranker-config", help="JSON file of RankerConfig settings; ranks the candidates")
    parser.add_argument(
        "--sources",
        help="candidate_sources JSON (<storage>/candidate_sources/<day>.json): adds locale popularity, "
        "co-installation and curated candidates, ranked together with similarity",
    )
    parser.add_argument(
        "--install-model", help="install_model JSON (<storage>/install_model/<day>.json): the heavy ranking score"
    )
    parser.add_argument("--addon-metadata", help="add-on metadata (TAAR_ADDON_METADATA's format): producer signals")
    return parser


def _with_sources(args: argparse.Namespace, ranker: RankerConfig | None) -> Recommender:
    """Every source, the install model and the metadata; ranked (by default settings without --ranker-config)."""

    def read(path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    metadata = load_addon_metadata(args.addon_metadata) if args.addon_metadata else None
    return Recommender(
        sources=CandidateSources.from_json(read(args.sources)),
        install_model=InstallModel.from_json(read(args.install_model)) if args.install_model else None,
        metadata=metadata,
        ranker=ranker or RankerConfig(enable_producer_boosting=metadata is not None),
    )


def _storage_options(location: str) -> dict:
    """The options the pipeline uses for a model in an object store (s3://, gs://)."""
    if "://" not in location:
        return {}
    from taar_assets.resources import Settings  # imports Dagster: only when an object store needs it

    return Settings.from_env().storage_options_for(location)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _blocks(path: str) -> Iterator[list[tuple[str | None, dict]]]:
    """(client_id, profile) of the lines, BLOCK_CLIENTS at a time; the block before a bad line
    is yielded before ProfilesFileError is raised, so its clients are printed."""
    block: list[tuple[str | None, dict]] = []
    # Opened apart from the `with` so that only opening errors (not output ones) are reported as
    # the file's; bytes, so that a line that is not UTF-8 is reported with its number.
    try:
        lines = open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise ProfilesFileError(f"cannot read profiles {path}: {error}") from None
    with lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                block.append(profile_from_json(line))
            except (TypeError, ValueError) as error:  # ValueError: also ProfileError, JSON and UTF-8 errors
                if block:
                    yield block
                raise ProfilesFileError(f"{path} line {number}: {error}") from None
            if len(block) == BLOCK_CLIENTS:
                yield block
                block = []
    if block:
        yield block


def _print_block(recommender: Recommender, block: list[tuple[str | None, dict]], limit: int) -> None:
    served = recommender.recommend_batch([profile for _, profile in block], [client_id for client_id, _ in block], limit)
    for (client_id, _), recommendations in zip(block, served):
        output = {
            "client_id": client_id,
            "recommendations": [
                {"addon_id": c.addon_id, "source": c.source, "weight": weight(c)} for c in recommendations
            ],
        }
        print(json.dumps(output))


def _fail(message: str, code: int) -> int:
    print(f"taar-assets recommend: {message}", file=sys.stderr)
    return code
