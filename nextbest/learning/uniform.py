"""Propensities drawn uniformly at random, learning nothing.

Pega's "random model control group": a small, sticky share of customers (hash of the
customer and the month) gets these instead of the models' propensities, so the models keep
seeing responses to actions they would not have picked — and lift over random can be
measured. The simulator's random arm uses it too.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from nextbest.config.compiled import CompiledConfig
from nextbest.learning.base import Features, FloatArray, IntArray, Posterior, RandomPropensities


def in_control_group(customer_id: str | None, now: datetime, share: float) -> bool:
    """Sticky for a calendar month: crc32 of customer id and month, in 10,000 buckets."""
    if not customer_id or share <= 0:
        return False
    # the month as `%Y-%m` would print it, without strftime (most of this function's time)
    bucket = zlib.crc32(f"{customer_id}|{now.year}-{now.month:02d}".encode()) % 10_000
    return bucket < share * 10_000


class UniformPropensities:
    def bind(self, config: CompiledConfig) -> None:
        pass

    def posterior(self, actions: IntArray, channel: str, x: Features | None = None) -> Posterior:
        return RandomPropensities(len(actions))

    def explain(self, action: int, channel: str, x: Features) -> dict[str, float]:
        return {}

    def positives(self, actions: IntArray, channel: str) -> FloatArray:
        return np.full(len(actions), np.inf)  # never held back as immature

    def learn_one(
        self,
        action_id: str,
        channel: str,
        positive: bool,
        x: Features | None = None,
        at: float | None = None,
    ) -> dict[str, Any]:
        return {}

    def to_state(self) -> dict[str, dict[str, Any]]:
        return {}

    def load_state(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        pass

    def describe(self) -> list[dict[str, Any]]:
        return []
