"""Beta-Bernoulli propensity per action × channel, with Thompson sampling.

The stand-in until the ADM-class models land: each model is a Beta(α, β) posterior over
the action's acceptance rate on one channel, starting from Beta(1, 1). A positive
response adds one to α, a negative one to β. Thompson sampling draws a propensity from
the posterior, so uncertain (new) actions get explored and mature ones exploited.

State is kept in two dense arrays (actions × channels) for vectorised scoring, and in a
dict keyed by model id (`action@channel`) so that learning survives config reloads that
add, remove or reorder actions. The store keys it under `STATE_PREFIX` (see there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import betaincinv

from nextbest.config.compiled import CompiledConfig
from nextbest.learning.base import BOUND_TAIL, Features, Posterior

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: the store key of a model's state is `beta/<model id>`: the model id alone is also the key
#: of an ADM bank's model with `pool_channels` off, so a switch of `learning.model` and back
#: would find the other kind's state in its place
STATE_PREFIX = "beta/"


def model_id(action_id: str, channel: str) -> str:
    return f"{action_id}@{channel}"


class BetaBernoulliModels:
    def __init__(self, prior_alpha: float = 1.0, prior_beta: float = 1.0) -> None:
        self.prior = (prior_alpha, prior_beta)
        self._state: dict[str, tuple[float, float]] = {}
        self._unprefixed: set[str] = set()  # loaded from a key without STATE_PREFIX
        self._action_ids: list[str] = []
        self._action_pos: dict[str, int] = {}
        self._channel_pos: dict[str, int] = {}
        self._alpha = np.ones((0, 0))
        self._beta = np.ones((0, 0))
        self._lo = np.zeros((0, 0))
        self._hi = np.ones((0, 0))

    def bind(self, config: CompiledConfig) -> None:
        self._action_ids = [a.id for a in config.actions]
        self._action_pos = {a: i for i, a in enumerate(self._action_ids)}
        self._channel_pos = {c: i for i, c in enumerate(config.channels)}
        shape = (len(self._action_ids), len(self._channel_pos))
        self._alpha = np.full(shape, self.prior[0])
        self._beta = np.full(shape, self.prior[1])
        for key, (a, b) in self._state.items():
            self._write(key, a, b, refresh=False)
        self._refresh_bounds()

    def _refresh_bounds(self) -> None:
        self._lo = np.asarray(betaincinv(self._alpha, self._beta, BOUND_TAIL), dtype=np.float64)
        self._hi = np.asarray(betaincinv(self._alpha, self._beta, 1 - BOUND_TAIL), dtype=np.float64)

    def _write(self, key: str, a: float, b: float, *, refresh: bool = True) -> None:
        action_id, _, channel = key.rpartition("@")
        i = self._action_pos.get(action_id)
        j = self._channel_pos.get(channel)
        if i is None or j is None:
            return  # a model of an action or channel the current config does not have
        self._alpha[i, j] = a
        self._beta[i, j] = b
        if refresh:
            self._lo[i, j] = float(betaincinv(a, b, BOUND_TAIL))
            self._hi[i, j] = float(betaincinv(a, b, 1 - BOUND_TAIL))

    def posterior(self, actions: IntArray, channel: str, x: Features | None = None) -> Posterior:
        # the exact quantiles are kept up to date per model as it learns
        j = self._channel_pos[channel]
        return Posterior(
            self._alpha[actions, j],
            self._beta[actions, j],
            self._lo[actions, j],
            self._hi[actions, j],
        )

    def explain(self, action: int, channel: str, x: Features) -> dict[str, float]:
        return {}  # a rate per action × channel: nothing about the customer

    def positives(self, actions: IntArray, channel: str) -> FloatArray:
        j = self._channel_pos[channel]
        return np.asarray(self._alpha[actions, j] - self.prior[0], dtype=np.float64)

    def learn_one(
        self,
        action_id: str,
        channel: str,
        positive: bool,
        x: Features | None = None,
        at: float | None = None,
    ) -> dict[str, Any]:
        key = model_id(action_id, channel)
        a, b = self._state.get(key, self.prior)
        if positive:
            a += 1.0
        else:
            b += 1.0
        self._state[key] = (a, b)
        self._write(key, a, b)
        # states saved before STATE_PREFIX go under it with the first response, out of the
        # reach of an ADM bank that would overwrite them
        moved, self._unprefixed = self._unprefixed | {key}, set()
        return {STATE_PREFIX + k: self._saved(k) for k in moved}

    def _saved(self, key: str) -> dict[str, Any]:
        a, b = self._state[key]
        return {"alpha": a, "beta": b}

    def to_state(self) -> dict[str, dict[str, Any]]:
        return {STATE_PREFIX + k: self._saved(k) for k in self._state}

    def load_state(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Take the saved Beta states; those of another model kind (an ADM bank's models
        and encoder, left by a switch of `learning.model`) are passed over. A state saved
        before `STATE_PREFIX`, under the model id, counts unless one under the prefix does."""
        for key, state in states.items():
            if "alpha" not in state or "beta" not in state:
                continue
            model = key.removeprefix(STATE_PREFIX)
            if model == key:
                if STATE_PREFIX + key in states:
                    continue
                self._unprefixed.add(key)
            self._state[model] = (float(state["alpha"]), float(state["beta"]))
        for key, (a, b) in self._state.items():
            self._write(key, a, b, refresh=False)
        self._refresh_bounds()

    def describe(self) -> list[dict[str, Any]]:
        rows = []
        for key, (a, b) in sorted(self._state.items()):
            action_id, _, channel = key.rpartition("@")
            positives = a - self.prior[0]
            responses = positives + b - self.prior[1]
            rows.append(
                {
                    "model_id": key,
                    "action_id": action_id,
                    "channel": channel,
                    "responses": responses,
                    "positives": positives,
                    "propensity": a / (a + b),
                }
            )
        return rows
