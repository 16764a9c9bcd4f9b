"""The similarity recommender the way the TAAR service uses the published model (docs/behaviour.md §5), vectorised.

For a client, ``d_i`` is the docs/behaviour.md §4 distance to donor i (``taar_assets.similarity.distance``),
``llr_i = ln(numerator / denominator)`` at the grid point of ``lr_curves.json`` nearest to
``d_i``; donors with ``llr_i > 0`` add ``llr_i`` to the weight of every add-on they hold, and
add-ons are returned by weight, descending, ties by add-on id. The client's installed add-ons
are never recommended.

Zero densities. The published curves are kernel densities, so far in their tails they can
underflow to 0, where ``ln(n/d)`` is undefined. Per grid point:

- numerator 0 (whatever the denominator): llr = -inf: no evidence of a match, the donor never
  votes (``-inf`` is the only non-finite value ``donor_log_ratios`` can return);
- denominator 0 with numerator > 0 (or a ratio overflowing float64): llr = the largest finite
  llr of the curve, i.e. as strong as the strongest evidence the curve states, never infinite;
- a curve with no grid point where both densities are positive is rejected (ModelError).

Add-on weights are therefore always finite. A halfway distance between two grid points takes
the lower one (what a first-minimum search over the grid, the service's way, does).

No Dagster import: the service, the ``taar-assets recommend`` command and the benchmark use it.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np
from scipy import sparse

from taar_assets.similarity.distance import distances_to_one, paired_distances
from taar_assets.similarity.donor_profiles import DonorPool
from taar_assets.similarity.features import LAYOUTS, PROFILE_FIELDS
from taar_assets.similarity.lr_curves import LrCurves
from taar_assets.similarity.model_files import archive_name, donor_records
from taar_assets.similarity.model_input import (
    CATEGORICAL_COUNT,
    MANIFEST_FILE,
    ModelError,
    ProfileError,
    check_manifest,
    curve_columns,
    donor_features,
    inferred_layout,
    installed_addon_ids,
    log_ratios,
    parsed_json,
    profile_values,
)

DONORS_FILE, CURVES_FILE = "donors.json", "lr_curves.json"

# recommend_batch computes the distances of at most this many (client, donor) pairs at once (8
# clients at 1,000 donors): the working arrays (~0.5 MB) stay in the CPU cache. Measured on the
# demo model, 2^13 pairs gave ~6,000 clients/s and 2^18 pairs (~60 MB) ~3,500 clients/s.
BATCH_PAIRS = 1 << 13
# A client's categorical value no donor has: equal to no donor's code.
UNKNOWN_CATEGORY = -1


@dataclass(frozen=True, eq=False)
class SimilarityModel:
    """The donors and LR curves of one published model, ready to score clients.

    ``donor_categorical`` is ``(n, 3)`` str (geo_city, locale, os; missing as ""),
    ``donor_continuous`` ``(n, 5)`` float64 in service units (subsession_length in seconds;
    missing as 0), ``donor_addons`` each donor's add-on ids, ``grid`` the curves' x (strictly
    increasing) and ``grid_log_ratios`` ln LR at each grid point (zero densities: module
    docstring). ``layout`` is the layout the files were published in, ``manifest`` the parsed
    manifest.json (None without one).
    """

    donor_categorical: np.ndarray
    donor_continuous: np.ndarray
    donor_addons: tuple[tuple[str, ...], ...]
    grid: np.ndarray
    grid_log_ratios: np.ndarray
    layout: str = "service"
    manifest: Mapping[str, Any] | None = None
    # Derived in __post_init__: categoricals as integer codes (distance.py compares them much
    # faster than strings), add-on ids sorted (so index order is id order) and the
    # (add-ons x donors) incidence matrix that turns donor votes into add-on weights.
    _category_codes: dict[str, int] = field(init=False, repr=False)
    _donor_codes: np.ndarray = field(init=False, repr=False)
    _addon_ids: tuple[str, ...] = field(init=False, repr=False)
    _addon_index: dict[str, int] = field(init=False, repr=False)
    _addons_by_donor: sparse.csr_array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        donors = len(self.donor_addons)
        if self.donor_categorical.shape != (donors, CATEGORICAL_COUNT) or self.donor_continuous.shape != (
            donors,
            len(PROFILE_FIELDS) - CATEGORICAL_COUNT,
        ):
            raise ModelError(
                f"donor matrices of shapes {self.donor_categorical.shape} and {self.donor_continuous.shape} "
                f"do not fit {donors} donors"
            )
        if self.grid.ndim != 1 or self.grid.shape != self.grid_log_ratios.shape:
            raise ModelError(f"grid {self.grid.shape} and log ratios {self.grid_log_ratios.shape} differ")

        codes = {value: code for code, value in enumerate(np.unique(self.donor_categorical).tolist())}
        addon_ids = tuple(sorted({guid for addons in self.donor_addons for guid in addons}))
        addon_index = {guid: index for index, guid in enumerate(addon_ids)}
        donor_of_entry = np.repeat(np.arange(donors), [len(addons) for addons in self.donor_addons])
        addon_of_entry = [addon_index[guid] for addons in self.donor_addons for guid in addons]
        # A donor listing an add-on twice votes twice for it, as the service's Counter does.
        addons_by_donor = sparse.csr_array(
            (np.ones(len(addon_of_entry)), (addon_of_entry, donor_of_entry)), shape=(len(addon_ids), donors)
        )
        addons_by_donor.sum_duplicates()  # sorted indices: every add-on sums its voters in donor order
        derived = {
            "_category_codes": codes,
            "_donor_codes": _encoded(self.donor_categorical.tolist(), codes),
            "_addon_ids": addon_ids,
            "_addon_index": addon_index,
            "_addons_by_donor": addons_by_donor,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    # ---------------------------------------------------------------------------------------
    # Construction
    # ---------------------------------------------------------------------------------------

    @classmethod
    def load(cls, location: str, storage_options: Mapping[str, Any] | None = None) -> SimilarityModel:
        """Read the model published at ``location`` (a folder or ``s3://bucket/prefix``).

        The manifest's ``layout`` says how donors.json is written; without a manifest it is
        inferred from the donors' keys (geo_city/subsession_length: service; city/
        subsession_hours_sum: original, hours converted to seconds). The manifest's sha256 of
        each file, where present, must match; when the latest files do not (a publish is
        replacing them), the dated archive of the manifest's day is read instead, so the model
        is always one whole day. Raises ModelError naming the file otherwise.
        """
        location = str(location).rstrip("/")
        fs, base = fsspec.core.url_to_fs(location, **dict(storage_options or {}))
        base = base.rstrip("/")

        def url(name: str) -> str:
            return f"{location}/{name}"

        def read(name: str) -> bytes | None:
            try:
                return fs.cat_file(f"{base}/{name}")
            except FileNotFoundError:
                return None

        documents = {name: read(name) for name in (DONORS_FILE, CURVES_FILE)}
        for name, data in documents.items():
            if data is None:
                raise ModelError(f"model file {url(name)} not found")
        manifest_bytes = read(MANIFEST_FILE)
        manifest = None
        if manifest_bytes is not None:
            manifest = parsed_json(manifest_bytes, url(MANIFEST_FILE))
            try:
                check_manifest(manifest, documents, url)
            except ModelError as mismatch:
                documents = cls._archive_of(manifest, read, url, mismatch)
        donors = parsed_json(documents[DONORS_FILE], url(DONORS_FILE))
        curves = parsed_json(documents[CURVES_FILE], url(CURVES_FILE))
        layout = manifest["layout"] if manifest is not None else inferred_layout(donors, url(DONORS_FILE))
        return cls._from_documents(donors, curves, layout, manifest, url(DONORS_FILE), url(CURVES_FILE))

    @staticmethod
    def _archive_of(manifest, read, url, mismatch: ModelError) -> dict[str, bytes]:
        """The manifest's day from its dated archive copies, when the latest files do not match
        the manifest (a publish is replacing them, or stopped while it did): one whole day."""
        day = str(manifest.get("date", ""))
        names = {name: archive_name(name, day) for name in (DONORS_FILE, CURVES_FILE)}
        archived = {name: read(archived_name) for name, archived_name in names.items()}
        if not day or any(data is None for data in archived.values()):
            raise mismatch
        try:
            check_manifest(manifest, archived, lambda name: url(names.get(name, name)))
        except ModelError as error:
            raise ModelError(f"{mismatch}; its archive of {day} does not match either: {error}") from None
        return archived

    @classmethod
    def from_pool(cls, pool: DonorPool, curves: LrCurves) -> SimilarityModel:
        """The model the pipeline publishes for `pool` and `curves` (service layout), without files."""
        return cls.from_records(donor_records(pool.donors, "service"), curves.as_json())

    @classmethod
    def from_records(
        cls,
        donors: list[dict],
        lr_curves: list,
        layout: str = "service",
        manifest: Mapping[str, Any] | None = None,
    ) -> SimilarityModel:
        """Build from the parsed contents of donors.json and lr_curves.json in ``layout``.

        Validated as ``load`` does (ModelError naming "donors.json" or "lr_curves.json");
        ``manifest`` is kept as given.
        """
        return cls._from_documents(donors, lr_curves, layout, manifest, DONORS_FILE, CURVES_FILE)

    @classmethod
    def _from_documents(cls, donors, curves, layout, manifest, donors_source: str, curves_source: str):
        if layout not in LAYOUTS:
            raise ModelError(f"unknown layout {layout!r}; expected one of {list(LAYOUTS)}")
        categorical, continuous, addons = donor_features(donors, layout, donors_source)
        grid, numerator, denominator = curve_columns(curves, curves_source)
        return cls(
            donor_categorical=categorical,
            donor_continuous=continuous,
            donor_addons=addons,
            grid=grid,
            grid_log_ratios=log_ratios(numerator, denominator, curves_source),
            layout=layout,
            manifest=manifest,
        )

    # ---------------------------------------------------------------------------------------
    # Scoring
    # ---------------------------------------------------------------------------------------

    @property
    def donor_count(self) -> int:
        return len(self.donor_addons)

    def donor_log_ratios(self, profile: Mapping) -> np.ndarray:
        """llr of every donor for one client (float64, length donor_count; -inf: never votes)."""
        categorical, continuous = self._client_features([profile_values(profile, PROFILE_FIELDS)])
        distances = distances_to_one(categorical[0], continuous[0], self._donor_codes, self.donor_continuous)
        return self.grid_log_ratios[nearest_grid_points(self.grid, distances)]

    def recommend(
        self, profile: Mapping, limit: int | None = 10, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        """``(addon_id, weight)`` for one client, best first, at most ``limit`` (None: all).

        Leaves out the profile's ``installed_addons`` and ``exclude``. Raises ProfileError.
        """
        _check_limit(limit)
        if isinstance(exclude, str):
            raise TypeError("exclude must be a collection of add-on ids, not a string")
        weights = self._addon_weights(self.donor_log_ratios(profile)[np.newaxis, :])[0]
        return self._best_addons(weights, {*installed_addon_ids(profile), *exclude}, limit)

    def recommend_batch(self, profiles: Sequence[Mapping], limit: int | None = 10) -> list[list[tuple[str, float]]]:
        """``recommend`` for each profile (without ``exclude``), computed a chunk of clients at a time.

        Gives exactly the single-client results. A ProfileError names the profile's index.
        """
        _check_limit(limit)
        rows, installed = [], []
        for index, profile in enumerate(profiles):
            try:
                rows.append(profile_values(profile, PROFILE_FIELDS))
                installed.append(installed_addon_ids(profile))
            except ProfileError as error:
                raise ProfileError(f"profile {index}: {error}") from None
        categorical, continuous = self._client_features(rows)
        clients_per_chunk = max(1, BATCH_PAIRS // max(1, self.donor_count))
        recommendations = []
        for start in range(0, len(profiles), clients_per_chunk):
            chunk = slice(start, start + clients_per_chunk)
            weights = self._addon_weights(self._log_ratio_matrix(categorical[chunk], continuous[chunk]))
            recommendations += [
                self._best_addons(row, set(excluded), limit) for row, excluded in zip(weights, installed[chunk])
            ]
        return recommendations

    def concatenated_batch(self, profiles: Sequence[Mapping], limit: int = 10) -> list[list[str]]:
        """What the 2017 TAAR service returns for each profile (its ``SimilarityRecommender.recommend``):
        the donors whose likelihood ratio is above 1, by ratio descending (numpy's default argsort,
        as the service sorts, so equal ratios come in numpy's order), their add-on lists
        concatenated as published and cut at ``limit``: no deduplication, installed add-ons kept."""
        _check_limit(limit)
        categorical, continuous = self._client_features(
            [profile_values(profile, PROFILE_FIELDS) for profile in profiles]
        )
        clients_per_chunk = max(1, BATCH_PAIRS // max(1, self.donor_count))
        recommendations = []
        for start in range(0, len(profiles), clients_per_chunk):
            chunk = slice(start, start + clients_per_chunk)
            for client_log_ratios in self._log_ratio_matrix(categorical[chunk], continuous[chunk]):
                order = (-client_log_ratios).argsort()
                addons: list[str] = []
                for donor in order[client_log_ratios[order] > 0]:
                    addons.extend(self.donor_addons[donor])
                    if len(addons) >= limit:
                        break
                recommendations.append(addons[:limit])
        return recommendations

    def _client_features(self, rows: list[list]) -> tuple[np.ndarray, np.ndarray]:
        """(clients x 3) category codes and (clients x 5) continuous values of ``_features`` rows."""
        continuous_count = len(PROFILE_FIELDS) - CATEGORICAL_COUNT
        return (
            _encoded([row[:CATEGORICAL_COUNT] for row in rows], self._category_codes).reshape(-1, CATEGORICAL_COUNT),
            np.array([row[CATEGORICAL_COUNT:] for row in rows], dtype=np.float64).reshape(-1, continuous_count),
        )

    def _log_ratio_matrix(self, categorical: np.ndarray, continuous: np.ndarray) -> np.ndarray:
        """(clients x donors) llr; distance.py pairs row i with row i, so every client is
        repeated once per donor and the donors tiled once per client."""
        clients, donors = len(categorical), self.donor_count
        distances = paired_distances(
            np.repeat(categorical, donors, axis=0),
            np.repeat(continuous, donors, axis=0),
            np.tile(self._donor_codes, (clients, 1)),
            np.tile(self.donor_continuous, (clients, 1)),
        ).reshape(clients, donors)
        return self.grid_log_ratios[nearest_grid_points(self.grid, distances)]

    def _addon_weights(self, log_ratios: np.ndarray) -> np.ndarray:
        """(clients x add-ons) summed llr of the voting donors (llr > 0) holding each add-on."""
        votes = np.where(log_ratios > 0, log_ratios, 0.0)  # where, not a product: -inf * 0 is NaN
        return (self._addons_by_donor @ votes.T).T

    def _best_addons(self, weights: np.ndarray, excluded: set[str], limit: int | None) -> list[tuple[str, float]]:
        eligible = weights > 0
        eligible[[self._addon_index[guid] for guid in excluded if guid in self._addon_index]] = False
        candidates = np.flatnonzero(eligible)
        # Candidates are in add-on id order, so a stable sort breaks weight ties by id.
        best = candidates[np.argsort(-weights[candidates], kind="stable")][:limit]
        return [(self._addon_ids[index], float(weights[index])) for index in best]


def nearest_grid_points(grid: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Index of the point of ``grid`` (strictly increasing) nearest to each distance.

    A distance exactly halfway between two points takes the lower one, as a search for the
    first minimum of ``|grid - d|`` does; distances outside the grid take its end points.
    """
    if len(grid) == 1:
        return np.zeros(np.shape(distances), dtype=np.intp)
    upper = np.clip(np.searchsorted(grid, distances), 1, len(grid) - 1)
    lower = upper - 1
    return np.where(distances - grid[lower] <= grid[upper] - distances, lower, upper)


def _encoded(rows: list[list[str]], codes: Mapping[str, int]) -> np.ndarray:
    return np.array([[codes.get(value, UNKNOWN_CATEGORY) for value in row] for row in rows], dtype=np.int64)


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
