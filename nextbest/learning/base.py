"""The contract between the decision pipeline and whatever estimates propensities.

The pipeline scores all candidate actions of one decision at once, so the contract is
vectorised over action indices of the compiled configuration. A model bank also gives
cheap, conservative bounds on each propensity: the pipeline uses them to skip, in its
Monte-Carlo estimate of selection probabilities, actions that cannot win.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from nextbest.config.compiled import CompiledConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class PropensityModels(Protocol):
    """One self-learning propensity model per action × channel."""

    def bind(self, config: CompiledConfig) -> None:
        """Lay the models out for `config` (after a load or reload); keeps learned state."""

    def mean(self, actions: IntArray, channel: str) -> FloatArray:
        """Point estimate of each action's propensity on `channel`."""

    def sample(
        self, actions: IntArray, channel: str, rng: np.random.Generator, draws: int = 1
    ) -> npt.NDArray[np.float64]:
        """Thompson draws, shape (draws, len(actions))."""

    def bounds(self, actions: IntArray, channel: str) -> tuple[FloatArray, FloatArray]:
        """Lower and upper propensity bounds that a draw falls outside of almost never."""

    def learn_one(self, action_id: str, channel: str, positive: bool) -> dict[str, Any]:
        """Learn from one response; returns {model_id: new state} to persist."""

    def to_state(self) -> dict[str, dict[str, Any]]: ...

    def load_state(self, states: Mapping[str, Mapping[str, Any]]) -> None: ...

    def describe(self) -> list[dict[str, Any]]:
        """One row per model with responses, positives and current estimate."""
