"""Contracts of the learning layer.

Two levels, like an online-learning library and the engine that hosts it:

* `Model` — one self-learning propensity model in the style of river: `learn_one(x, y)`,
  `predict_one(x)`, `explain_one(x)`, vectorised `learn_many` / `predict_many` over
  columns, state that round-trips through `to_state()` / `from_state()`, and `clone()` for
  a fresh model with the same settings. Every model passes the check suite in
  `nextbest.learning.checks`.
* `PropensityModels` — the bank the decision pipeline talks to: one model per
  action × channel, scored for all candidate actions of a decision at once and indexed by
  the action positions of the compiled configuration. A bank also gives cheap,
  conservative bounds on each propensity: the pipeline uses them to skip, in its
  Monte-Carlo estimate of selection probabilities, actions that cannot win.

`x` is a mapping of predictor name → raw value (number, text, bool, or None for missing);
columns (`X`) map a predictor name to a sequence of such values, one per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self

import numpy as np
import numpy.typing as npt

from nextbest.config.compiled import CompiledConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

Features = Mapping[str, Any]
Columns = Mapping[str, Sequence[Any] | npt.NDArray[Any]]


class Model(Protocol):
    """One propensity model: P(positive response | x)."""

    def learn_one(self, x: Features, y: bool, *, weight: float = 1.0) -> None: ...

    def learn_many(self, X: Columns, y: Sequence[bool] | BoolArray) -> None: ...

    def predict_one(self, x: Features) -> float:
        """The propensity in (0, 1); 0.5 for a model that has learned nothing."""
        ...

    def predict_many(self, X: Columns) -> FloatArray: ...

    def explain_one(self, x: Features) -> dict[str, float]:
        """Each active predictor's contribution (log odds) to the score for `x`."""
        ...

    def to_state(self) -> dict[str, Any]:
        """Everything the model knows and its settings, as JSON-able data."""
        ...

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self: ...

    def clone(self) -> Self:
        """A fresh model with the same settings and nothing learned."""
        ...


class PropensityModels(Protocol):
    """One self-learning propensity model per action × channel, scored as a bank.

    `x` in `mean`, `sample` and `bounds` is the decision's predictor values (profile and
    context); a bank that learns nothing per customer may ignore it."""

    def bind(self, config: CompiledConfig) -> None:
        """Lay the models out for `config` (after a load or reload); keeps learned state."""

    def mean(self, actions: IntArray, channel: str, x: Features | None = None) -> FloatArray:
        """Point estimate of each action's propensity on `channel`."""

    def sample(
        self,
        actions: IntArray,
        channel: str,
        rng: np.random.Generator,
        draws: int = 1,
        x: Features | None = None,
    ) -> npt.NDArray[np.float64]:
        """Thompson draws, shape (draws, len(actions))."""

    def bounds(
        self, actions: IntArray, channel: str, x: Features | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Lower and upper propensity bounds that a draw falls outside of almost never."""

    def positives(self, actions: IntArray, channel: str) -> FloatArray:
        """Each model's positive responses so far: how mature it is."""

    def explain(self, action: int, channel: str, x: Features) -> dict[str, float]:
        """Each predictor's contribution (log odds) to one action's score for `x`."""

    def learn_one(
        self,
        action_id: str,
        channel: str,
        positive: bool,
        x: Features | None = None,
        at: float | None = None,
    ) -> dict[str, Any]:
        """Learn from one response (`x`: the decision-time predictor values, `at`: epoch
        seconds of the response); returns {key: new state} to persist."""

    def to_state(self) -> dict[str, dict[str, Any]]: ...

    def load_state(self, states: Mapping[str, Mapping[str, Any]]) -> None: ...

    def describe(self) -> list[dict[str, Any]]:
        """One row per model with responses, positives and current estimate."""
