"""What the fitted candidate sources learn from, as counts, and which clients they are counted on.

The counts grow with the catalogue, not with the clients: an engine computes them where the
clients are (`Engine.addon_counts`), and the sources are fitted from them in the run's process.
`AddonCounts.from_clients` computes the same counts in memory, for small data and tests.

The clients are split once and for all by a hash of their id (`ClientSplit`): evaluation
clients (about 20%) are never used for fitting, on any day and either engine.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse


Group = Literal["training", "evaluation"]


@dataclass(frozen=True)
class ClientSplit:
    """A client is an evaluation client when the first 8 bytes of sha256(salt:client_id), read as
    an unsigned big-endian integer, are below `share` of 2^64: a fixed split, not a draw."""

    share: float = 0.2
    salt: str = "taar-evaluation"

    def __post_init__(self) -> None:
        if not 0 < self.share < 1:
            raise ValueError(f"share must be in (0, 1), got {self.share!r}")

    @property
    def threshold_hex(self) -> str:
        """The bound as 16 lowercase hex digits: an id's digest prefix below it is an evaluation
        client (how the engines test it in SQL)."""
        return f"{int(np.uint64(self.share * 2**64)):016x}"

    def is_evaluation(self, client_ids: Sequence[str]) -> np.ndarray:
        bound = int(self.threshold_hex, 16)
        return np.fromiter(
            (int.from_bytes(hashlib.sha256(f"{self.salt}:{cid}".encode()).digest()[:8], "big") < bound
             for cid in client_ids),
            dtype=bool,
            count=len(client_ids),
        )

    def of(self, client_ids: Sequence[str], group: Group) -> np.ndarray:
        evaluation = self.is_evaluation(client_ids)
        return evaluation if group == "evaluation" else ~evaluation


@dataclass(frozen=True)
class AddonCounts:
    """Counts over a set of clients; each client counts an add-on once.

    `holders` (addon_id, clients): the clients having each add-on. `locale_clients` (locale,
    clients): the clients of each known locale. `locale_holders` (locale, addon_id, clients):
    the clients of a locale having the add-on. `pairs` (a, b, clients): the clients having both
    a and b (a != b, both orders).
    """

    clients: int
    holders: pd.DataFrame
    locale_clients: pd.DataFrame
    locale_holders: pd.DataFrame
    pairs: pd.DataFrame

    @classmethod
    def from_clients(cls, addons_per_client: pd.DataFrame, samples: pd.DataFrame) -> AddonCounts:
        """The counts of ``addons_per_client`` (client_id, addon_ids), each client's locale taken
        from ``samples`` (client_id, locale), in memory."""
        locale_of = samples.drop_duplicates("client_id").set_index("client_id")["locale"]
        locales = locale_of.reindex(addons_per_client["client_id"]).to_numpy(dtype=object)
        matrix, guids = addon_matrix(list(addons_per_client["addon_ids"]))
        holders = _frame(["addon_id"], [guids], np.asarray(matrix.sum(axis=0)).ravel())
        known = ~pd.isna(locales)
        names, codes = np.unique(locales[known].astype(str), return_inverse=True)
        locale_clients = _frame(["locale"], [names], np.bincount(codes, minlength=len(names)))
        by_locale = pd.DataFrame(matrix[np.flatnonzero(known)].toarray(), columns=guids)
        by_locale = by_locale.groupby(codes).sum()
        stacked = by_locale.stack()
        locale_holders = _frame(
            ["locale", "addon_id"],
            [names[stacked.index.get_level_values(0)], stacked.index.get_level_values(1)],
            stacked.to_numpy(),
        )
        together = (matrix.T @ matrix).tocoo()
        different = together.row != together.col
        pairs = _frame(["a", "b"], [guids[together.row[different]], guids[together.col[different]]],
                       together.data[different])
        return cls(int(matrix.shape[0]), holders, locale_clients, locale_holders, pairs)


def _frame(keys: list[str], key_values: Iterable, counts: np.ndarray) -> pd.DataFrame:
    """A count table without its zero rows, counts as integers."""
    frame = pd.DataFrame({**dict(zip(keys, key_values)), "clients": np.asarray(counts).astype(np.int64)})
    return frame[frame["clients"] > 0].reset_index(drop=True)


def addon_matrix(addon_lists: Sequence[Iterable[str]]) -> tuple[sparse.csr_array, np.ndarray]:
    """The (clients x add-ons) 0/1 matrix of ``addon_lists`` and the add-on id of each column (sorted).

    An add-on listed twice by a client counts once.
    """
    lengths = np.fromiter((len(addons) for addons in addon_lists), dtype=np.int64, count=len(addon_lists))
    flat = np.array(list(itertools.chain.from_iterable(addon_lists)), dtype=object)
    guids, columns = np.unique(flat.astype(str), return_inverse=True) if len(flat) else (np.array([], str), [])
    rows = np.repeat(np.arange(len(addon_lists)), lengths)
    matrix = sparse.csr_array(
        (np.ones(len(rows)), (rows, np.asarray(columns, dtype=np.int64))), shape=(len(addon_lists), len(guids))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, guids
