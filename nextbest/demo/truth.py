"""The hidden ground truth of the demo bank: how likely a customer accepts an action.

Only the simulator knows it. The engine must learn it from outcomes; the oracle arm of the
simulator uses it directly as the ceiling of what learning could reach.

Log-odds of acceptance = the action's base rate (drawn per action from the seed) + a
channel effect (agents and the app convert best, e-mail and SMS worst) + affinities
(frequent travellers like travel products, parents like family products, the young and
digital like digital products, wealthier customers investments and mortgages, customers
likely to churn respond to retention, customers in difficulty to hardship help, the page
being visited lifts its own product group) + fixed per-customer × action noise.
Protected attributes (gender, nationality) play no part.

How strong the affinities are is the simulated bank's *world* (`WORLDS`):

* `segmented`, the default — who the customer is decides what they accept, as banks see
  it: base rates of 2–8 %, a family product is some 30 times likelier to be taken by a
  parent than by anyone else, a digital one 25 times by the young or digitally active, an
  investment or mortgage 20 times above an income of 60,000; the product page being
  visited multiplies its group's odds by 7; little idiosyncrasy is left (noise 0.2);
* `mild` — the demo's first world: base rates spread from 0.5 % to 25 % and modest
  affinities (odds ×2–4), with more per-customer noise (0.5). A rate per action captures
  most of it: even exact knowledge of profile and context beats a learned rate by only
  10–19 % there (the simulator's `learnable` arm).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nextbest.config.compiled import CompiledConfig

FloatArray = npt.NDArray[np.float64]

CHANNEL_EFFECT = {"web": 0.0, "app": 0.3, "call_center": 0.8, "email": -0.5, "sms": -0.7}
PAGE_GROUPS = {
    "cards": "cards",
    "loans": "loans",
    "savings": "savings",
    "invest": "investments",
    "insurance": "insurance",
    "mortgage": "mortgages",
}


@dataclass(frozen=True, slots=True)
class World:
    """The strength of each part of the truth: (if so, else) pairs are log-odds."""

    base: tuple[float, float]  # range of the actions' base acceptance rates
    noise: float  # standard deviation of the per-customer × action log-odds
    travel: tuple[float, float]  # travel products: per trip a year (up to 6), and minus
    kids: tuple[float, float]  # family products: with children, without
    young: tuple[float, float]  # digital products: under 30 or digitally active, else
    wealth: tuple[float, float]  # investments and mortgages: income over 60,000, else
    page: float  # the visited page's own product group


WORLDS = {
    "segmented": World(
        base=(0.02, 0.08), noise=0.2, travel=(0.8, 2.0), kids=(2.0, -1.5),
        young=(1.8, -1.4), wealth=(1.8, -1.2), page=2.0,
    ),
    "mild": World(
        base=(0.005, 0.25), noise=0.5, travel=(0.35, 0.7), kids=(0.9, -0.5),
        young=(0.8, -0.6), wealth=(0.5, -0.3), page=1.2,
    ),
}  # fmt: skip
DEFAULT_WORLD = "segmented"


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


class GroundTruth:
    def __init__(self, config: CompiledConfig, seed: int, world: str = DEFAULT_WORLD) -> None:
        if world not in WORLDS:
            raise ValueError(f"unknown world `{world}`: one of {', '.join(WORLDS)}")
        self.world = WORLDS[world]
        rng = np.random.default_rng(seed + 101)
        self.seed = seed
        self.index = {a.id: a.index for a in config.actions}
        n = config.n_actions
        low, high = self.world.base
        self.base = rng.uniform(_logit(low), _logit(high), n)
        self.n = n

        def mask(test: Any) -> npt.NDArray[np.bool_]:
            return np.array([bool(test(a)) for a in config.actions], dtype=bool)

        self.travel = mask(lambda a: "travel" in a.tags)
        self.family = mask(lambda a: "family" in a.tags)
        self.digital = mask(lambda a: "digital" in a.tags or "young" in a.tags)
        self.retention = mask(lambda a: a.issue == "retention")
        self.resilience = mask(lambda a: a.issue == "resilience")
        self.service = mask(lambda a: a.issue == "service")
        self.wealth = mask(lambda a: a.group.endswith(("/investments", "/mortgages")))
        self.page = {
            page: mask(lambda a, g=group: a.group.endswith("/" + g))
            for page, group in PAGE_GROUPS.items()
        }

    def _noise(self, traits: Mapping[str, Any]) -> FloatArray:
        key = str(traits.get("email") or traits.get("phone") or sorted(traits.items()))
        rng = np.random.default_rng([zlib.crc32(key.encode()), self.seed])
        return np.asarray(self.world.noise * rng.standard_normal(self.n), dtype=np.float64)

    def logits(
        self,
        traits: Mapping[str, Any],
        channel: str,
        context: Mapping[str, Any],
        *,
        noise: bool = True,
    ) -> FloatArray:
        """Log-odds of every action; without the per-customer noise if `noise` is off: the
        part of the truth that profile and context can explain."""
        w = self.world
        z = self.base + CHANNEL_EFFECT.get(channel, 0.0)
        if noise:
            z = z + self._noise(traits)
        travel = float(traits.get("travel_per_year") or 0)
        z = z + self.travel * (w.travel[0] * min(travel, 6.0) - w.travel[1])
        z = z + self.family * w.kids[0 if (traits.get("kids") or 0) > 0 else 1]
        young = (traits.get("age") or 99) < 30 or bool(traits.get("digital_active"))
        z = z + self.digital * w.young[0 if young else 1]
        z = z + self.retention * 3.0 * (float(traits.get("churn_risk") or 0) - 0.3)
        z = z + self.resilience * (1.2 if traits.get("in_arrears") else 0.0)
        z = z + self.wealth * w.wealth[0 if (traits.get("income") or 0) > 60_000 else 1]
        page = context.get("page")
        if isinstance(page, str) and page in self.page:
            z = z + self.page[page] * w.page
        if page == "travel":
            z = z + self.travel * 1.0
        if page == "support":
            z = z + self.service * 0.8
        if context.get("intent") == "complaint":
            z = z + self.retention * 1.0
        return z

    def probabilities(
        self,
        traits: Mapping[str, Any],
        action_ids: Sequence[str],
        channel: str,
        context: Mapping[str, Any],
        *,
        noise: bool = True,
    ) -> FloatArray:
        """P(accept) for each of `action_ids`, in that order."""
        p = 1 / (1 + np.exp(-self.logits(traits, channel, context, noise=noise)))
        return np.asarray(p[[self.index[a] for a in action_ids]], dtype=np.float64)

    def probability(
        self, traits: Mapping[str, Any], action_id: str, channel: str, context: Mapping[str, Any]
    ) -> float:
        return float(self.probabilities(traits, [action_id], channel, context)[0])
