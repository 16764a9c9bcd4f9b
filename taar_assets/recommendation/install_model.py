"""The heavy ranker's install model: the "predicted install score" of each candidate (docs/behaviour.md §8).

Training data comes from what the pipeline has. For each training client one valid add-on is
held out at random; the candidate sources propose add-ons for the client's remaining add-ons;
a candidate is labelled 1 if it is the held-out add-on, else 0. Features per candidate are
``sources.ADDON_FEATURES`` (every source's score for the add-on, its popularity in
the client's locale and overall, co-installation strength, metadata when present), a one-hot
of the proposing source and the client's number of add-ons.

The model is a standardised logistic regression (scikit-learn), kept as its coefficients so
it serialises to a small, portable JSON document (no pickle) and predicts with numpy alone.
Clients are split into a fitting part and a validation part; the validation AUC and log-loss
are reported with the model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from taar_assets.recommendation.addon_metadata import AddonInfo
from taar_assets.recommendation.profiles import profiles_from_samples
from taar_assets.recommendation.ranker import Candidate
from taar_assets.recommendation.sources import (
    ADDON_FEATURES,
    SOURCE_TYPES,
    CandidateSources,
    Profile,
    SimilarityBatch,
)
from taar_assets.recommendation.sources.base import installed_addons

SCHEMA_VERSION = 1
PROFILE_FEATURES = ("installed_count",)
FEATURE_NAMES = (*ADDON_FEATURES, *PROFILE_FEATURES, *(f"source_is_{source}" for source in SOURCE_TYPES))


def candidate_features(candidates: Sequence[Candidate], profile: Profile) -> np.ndarray:
    """The (candidates x FEATURE_NAMES) matrix; a feature a candidate lacks is 0."""
    matrix = np.zeros((len(candidates), len(FEATURE_NAMES)))
    addon_columns = len(ADDON_FEATURES)
    source_column = {source: addon_columns + len(PROFILE_FEATURES) + i for i, source in enumerate(SOURCE_TYPES)}
    for row, candidate in enumerate(candidates):
        matrix[row, :addon_columns] = [candidate.features.get(name, 0.0) for name in ADDON_FEATURES]
        if candidate.source in source_column:
            matrix[row, source_column[candidate.source]] = 1.0
    matrix[:, addon_columns] = len(installed_addons(profile))
    return matrix


@dataclass(frozen=True)
class TrainingExamples:
    """Candidate features and labels; ``client`` is each row's client (0..clients-1)."""

    features: np.ndarray
    labels: np.ndarray
    client: np.ndarray
    clients: int


def training_examples(
    clients: pd.DataFrame,
    sources: CandidateSources,
    similarity: SimilarityBatch | None = None,
    metadata: Mapping[str, AddonInfo] | None = None,
    *,
    seed: int = 0,
) -> TrainingExamples:
    """Hold out one valid add-on per client, propose candidates for the rest, label the held-out one.

    ``clients`` has one row per training client: client_id, addon_ids and the sample features
    (the engine's bounded sample, ``Engine.client_sample``), in client id order.
    """
    rng = np.random.default_rng(seed)
    addon_lists = [list(addons) for addons in clients["addon_ids"]]
    held_out_position = [int(rng.integers(len(addons))) for addons in addon_lists]
    kept = [addons[:at] + addons[at + 1 :] for addons, at in zip(addon_lists, held_out_position)]
    held_out = [addons[at] for addons, at in zip(addon_lists, held_out_position)]
    profiles = profiles_from_samples(clients, kept)
    similar = similarity(profiles) if similarity is not None else [None] * len(profiles)

    blocks, labels, owners = [], [], []
    for index, (profile, recommendations, target) in enumerate(zip(profiles, similar, held_out)):
        candidates = sources.candidates(profile, recommendations, metadata)
        blocks.append(candidate_features(candidates, profile))
        labels.append(np.fromiter((c.addon_id == target for c in candidates), dtype=np.int8, count=len(candidates)))
        owners.append(np.full(len(candidates), index))
    return TrainingExamples(
        features=np.concatenate(blocks) if blocks else np.zeros((0, len(FEATURE_NAMES))),
        labels=np.concatenate(labels) if labels else np.zeros(0, np.int8),
        client=np.concatenate(owners) if owners else np.zeros(0, np.int64),
        clients=len(profiles),
    )


@dataclass(frozen=True)
class InstallModel:
    """A fitted install model: P(install) = sigmoid(((x - mean) / scale) . coefficients + intercept)
    over ``FEATURE_NAMES``. ``metrics`` are its validation figures."""

    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: float
    metrics: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("mean", "scale", "coefficients"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != (len(FEATURE_NAMES),) or not np.isfinite(values).all():
                raise ValueError(f"InstallModel.{name} must hold {len(FEATURE_NAMES)} finite numbers")
            object.__setattr__(self, name, values)
        if not math.isfinite(self.intercept):
            raise ValueError(f"InstallModel.intercept must be finite, got {self.intercept!r}")

    def predict(self, candidates: Sequence[Candidate], profile: Profile) -> np.ndarray:
        """The install probability of each candidate for the client ``profile``."""
        logits = ((candidate_features(candidates, profile) - self.mean) / self.scale) @ self.coefficients
        return 1.0 / (1.0 + np.exp(-np.clip(logits + self.intercept, -500, 500)))

    def scored(self, candidates: Sequence[Candidate], profile: Profile) -> list[Candidate]:
        """The candidates with ``predicted_score`` set, ready for the ranker's heavy ranking."""
        scores = self.predict(candidates, profile)
        return [replace(candidate, predicted_score=float(score)) for candidate, score in zip(candidates, scores)]

    def weights(self) -> dict[str, float]:
        """Coefficient per feature (on standardised features: comparable across features)."""
        return dict(zip(FEATURE_NAMES, self.coefficients.tolist()))

    def to_json(self) -> bytes:
        document = {
            "schema_version": SCHEMA_VERSION,
            "model": "standardised logistic regression",
            "features": list(FEATURE_NAMES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
            "metrics": dict(self.metrics),
        }
        return json.dumps(document, indent=1, allow_nan=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> InstallModel:
        """Read ``to_json``'s document; a model over other features is rejected."""
        document = json.loads(data)
        if document.get("schema_version") != SCHEMA_VERSION:
            version = document.get("schema_version")
            raise ValueError(f"install model schema_version must be {SCHEMA_VERSION}, got {version!r}")
        if tuple(document.get("features", ())) != FEATURE_NAMES:
            raise ValueError(f"install model features {document.get('features')} differ from {list(FEATURE_NAMES)}")
        return cls(
            mean=np.array(document["mean"]),
            scale=np.array(document["scale"]),
            coefficients=np.array(document["coefficients"]),
            intercept=float(document["intercept"]),
            metrics=document.get("metrics", {}),
        )


def fit_install_model(
    examples: TrainingExamples,
    *,
    seed: int = 0,
    validation_share: float = 0.2,
    regularisation: float = 1.0,
) -> InstallModel:
    """Fit on the examples of a random ``1 - validation_share`` of the clients, validate on the rest.

    Metrics: ``validation_auc``, ``validation_log_loss``, ``validation_clients``,
    ``training_clients``, ``examples``, ``positive_rate`` and ``held_out_proposed`` (the share
    of clients whose held-out add-on was among their candidates: the ranker's ceiling).
    ``regularisation`` is scikit-learn's C (inverse strength). Raises ValueError if either
    part lacks positives or negatives.
    """
    if not 0 < validation_share < 1:
        raise ValueError(f"validation_share must be in (0, 1), got {validation_share!r}")
    rng = np.random.default_rng(seed)
    validation_clients = rng.random(examples.clients) < validation_share
    validating = validation_clients[examples.client]
    fitting = ~validating
    for part, rows in (("fitting", fitting), ("validation", validating)):
        if len(np.unique(examples.labels[rows])) < 2:
            raise ValueError(f"the {part} examples need both installed and not-installed candidates")

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, max_iter=2000))
    pipeline.fit(examples.features[fitting], examples.labels[fitting])
    scaler, regression = pipeline.named_steps["standardscaler"], pipeline.named_steps["logisticregression"]
    probabilities = pipeline.predict_proba(examples.features[validating])[:, 1]
    positives_by_client = np.bincount(examples.client, weights=examples.labels, minlength=examples.clients)
    metrics = {
        "validation_auc": float(roc_auc_score(examples.labels[validating], probabilities)),
        "validation_log_loss": float(log_loss(examples.labels[validating], probabilities, labels=[0, 1])),
        "validation_clients": int(validation_clients.sum()),
        "training_clients": int(examples.clients - validation_clients.sum()),
        "examples": len(examples.labels),
        "positive_rate": float(examples.labels.mean()),
        "held_out_proposed": float((positives_by_client > 0).mean()),
    }
    return InstallModel(
        mean=scaler.mean_,
        # A constant feature has scale 1 in scikit-learn too, so it adds nothing.
        scale=scaler.scale_,
        coefficients=regression.coef_[0],
        intercept=float(regression.intercept_[0]),
        metrics=metrics,
    )
