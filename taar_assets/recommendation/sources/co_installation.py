"""Co-installation: add-ons often installed together with the client's own add-ons."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from taar_assets.recommendation.counts import AddonCounts
from taar_assets.recommendation.sources.base import (
    CandidateSource,
    Client,
    Profile,
    Scored,
    TrainingData,
    check_positive,
    installed_addons,
)


@dataclass(frozen=True)
class CoInstallation(CandidateSource):
    """For each add-on a, its ``top_k`` neighbours b as ``(b, P(b | a), lift)``, best first.

    P(b | a) is the share of the clients having a that also have b; lift = P(b | a) / P(b)
    (above 1: more often together than chance). Pairs seen together by fewer than
    ``min_co_installs`` clients are left out when fitting (too few to trust).
    """

    name: ClassVar[str] = "co_installation"
    order: ClassVar[int] = 2
    discovery: ClassVar[bool] = False  # derived from the client's own add-ons: first-degree
    features: ClassVar[tuple[str, ...]] = (
        "co_installation_score",  # mean over the client's add-ons of P(it | that add-on)
        "co_installation_log_lift",  # ln of the largest lift over the client's add-ons, 0 if none
    )

    neighbours: dict[str, list[tuple[str, float, float]]]
    clients: int

    @classmethod
    def fit(cls, data: TrainingData) -> CoInstallation:
        return cls.from_counts(data.counts)

    @classmethod
    def from_counts(cls, counts: AddonCounts, top_k: int = 20, min_co_installs: int = 5) -> CoInstallation:
        """Each add-on's ``top_k`` neighbours by P(b | a) (ties: lift, id), from the clients having
        both (pairs seen together by fewer than ``min_co_installs`` clients are left out)."""
        check_positive("top_k", top_k)
        holders = counts.holders.set_index("addon_id")["clients"]
        pairs = counts.pairs[counts.pairs["clients"] >= min_co_installs]
        a, b = pairs["a"].to_numpy(dtype=object), pairs["b"].to_numpy(dtype=object)
        conditional = pairs["clients"].to_numpy(dtype=np.float64) / holders.loc[a].to_numpy(dtype=np.float64)
        lift = conditional / (holders.loc[b].to_numpy(dtype=np.float64) / counts.clients)
        ranked = pd.DataFrame({"a": a, "b": b, "conditional": conditional, "lift": lift}).sort_values(
            ["a", "conditional", "lift", "b"], ascending=[True, False, False, True]
        )
        ranked = ranked[ranked.groupby("a", sort=False).cumcount() < top_k]
        neighbours: dict[str, list[tuple[str, float, float]]] = {}
        for row in ranked.itertuples(index=False):
            neighbours.setdefault(str(row.a), []).append((str(row.b), float(row.conditional), float(row.lift)))
        return cls(neighbours, counts.clients)

    @classmethod
    def from_clients(cls, addons_per_client: pd.DataFrame, top_k: int = 20, min_co_installs: int = 5) -> CoInstallation:
        """Counted in memory from the valid add-on lists of ``addons_per_client``."""
        samples = pd.DataFrame({"client_id": addons_per_client["client_id"], "locale": None})
        return cls.from_counts(AddonCounts.from_clients(addons_per_client, samples), top_k, min_co_installs)

    def strengths(self, installed: Iterable[str]) -> dict[str, tuple[float, float]]:
        """For each neighbour b of the installed add-ons (not itself installed):
        ``(mean over the installed add-ons known here of P(b | a), largest lift)``."""
        # In the client's order, not a set's: the sums below must not depend on string hashing.
        installed = dict.fromkeys(installed)
        known = [guid for guid in installed if guid in self.neighbours]
        totals: dict[str, list[float]] = {}
        for guid in known:
            for neighbour, probability, lift in self.neighbours[guid]:
                if neighbour in installed:
                    continue
                total = totals.setdefault(neighbour, [0.0, 0.0])
                total[0] += probability
                total[1] = max(total[1], lift)
        return {neighbour: (total / len(known), lift) for neighbour, (total, lift) in totals.items()}

    def scores(self, profile: Profile, limit: int | None = 10) -> Scored:
        """Neighbours of the client's add-ons by mean P(b | a), best first (ties: id)."""
        return _strongest(self.strengths(installed_addons(profile)), limit)

    def client_strengths(self, client: Client) -> dict[str, tuple[float, float]]:
        """`strengths` of the client's installed add-ons, computed once per client."""
        return client.remembered(self.name, lambda: self.strengths(client.installed))

    def propose(self, client: Client, limit: int | None) -> Scored:
        return _strongest(self.client_strengths(client), limit)

    def addon_features(self, client: Client, addon_id: str) -> dict[str, float]:
        co_score, lift = self.client_strengths(client).get(addon_id, (0.0, 0.0))
        return {"co_installation_score": co_score, "co_installation_log_lift": math.log(lift) if lift > 0 else 0.0}

    def to_dict(self) -> dict[str, Any]:
        return {
            "neighbours": {guid: [list(entry) for entry in entries] for guid, entries in self.neighbours.items()},
            "clients": self.clients,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CoInstallation:
        return cls(
            neighbours={
                guid: [(str(b), float(p), float(lift)) for b, p, lift in entries]
                for guid, entries in values["neighbours"].items()
            },
            clients=int(values["clients"]),
        )



def _strongest(strengths: Mapping[str, tuple[float, float]], limit: int | None) -> Scored:
    """Co-installation strengths as (addon_id, mean P(b | a)), best first (ties: id)."""
    ranked = sorted(strengths.items(), key=lambda item: (-item[1][0], item[0]))
    return [(guid, score) for guid, (score, _) in ranked[:limit]]


