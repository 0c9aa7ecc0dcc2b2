"""Contracts of the learning layer.

Two levels, like an online-learning library and the engine that hosts it:

* `Model` — one self-learning propensity model in the style of river: `learn_one(x, y)`,
  `predict_one(x)`, `explain_one(x)`, vectorised `learn_many` / `predict_many` over
  columns, state that round-trips through `to_state()` / `from_state()`, and `clone()` for
  a fresh model with the same settings. Every model passes the check suite in
  `nextbest.learning.checks`.
* `PropensityModels` — the bank the decision pipeline talks to: one model per
  action × channel, scored for all candidate actions of a decision at once and indexed by
  the action positions of the compiled configuration. It answers a decision with one
  `Posterior` over the candidates: their means, Thompson draws, and cheap bounds that a
  draw almost never leaves (the pipeline uses them to skip, in its Monte-Carlo estimate of
  selection probabilities, actions that cannot win).

`x` is a mapping of predictor name → raw value (number, text, bool, or None for missing);
columns (`X`) map a predictor name to a sequence of such values, one per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

import numba
import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from nextbest.config.compiled import CompiledConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

Features = Mapping[str, Any]
Columns = Mapping[str, Sequence[Any] | npt.NDArray[Any]]

#: tail mass left outside the bounds used to prune selection-probability estimates
BOUND_TAIL = 1e-4
#: the bounds' z, widened by a fifth so the logit-normal approximation stays conservative
_BOUND_Z = float(-ndtri(BOUND_TAIL)) * 1.2


@numba.njit(cache=True, nogil=True, error_model="numpy")  # 1/0 is inf, as in numpy
def _logit_normal_bounds(a: FloatArray, b: FloatArray, z: float) -> tuple[FloatArray, FloatArray]:
    """`Posterior.bounds()` (see there), compiled: a dozen numpy passes cost 14 µs."""
    lo = np.empty(a.shape[0])
    hi = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        ia, ib = 1 / a[i], 1 / b[i]
        centre = np.log(a[i] / b[i]) - 0.5 * (ia - ib)
        spread = z * np.sqrt(ia + ib + 0.5 * (ia * ia + ib * ib))
        lo[i] = 1 / (1 + np.exp(spread - centre))
        hi[i] = 1 / (1 + np.exp(-spread - centre))
    return lo, hi


@dataclass(frozen=True)
class Posterior:
    """Beta(a, b) over each candidate's propensity, for one decision.

    `bounds()` approximates the Beta quantiles by a normal on the logit scale (mean
    ψ(a) − ψ(b), variance ψ'(a) + ψ'(b), each by its two-term expansion) with z widened by
    20 %: a draw falls outside with probability ≤ 0.3 % for a, b ≥ 1 (measured against
    `scipy.special.betainc`), and it costs 10 µs for 180 actions where the exact
    `betaincinv` costs 400 µs. A bank that knows exact quantiles passes them as `lo`/`hi`.

    The selection-probability estimate draws Beta(a, b) itself, in compiled code (see
    `nextbest.decision.redraw`), for every posterior but `KnownPropensities`: a subclass
    must keep `sample` a draw from Beta(a, b), as `RandomPropensities` (a = b = 1) does.
    """

    a: FloatArray
    b: FloatArray
    lo: FloatArray | None = None
    hi: FloatArray | None = None

    def mean(self) -> FloatArray:
        return np.asarray(self.a / (self.a + self.b), dtype=np.float64)

    def sample(self, rng: np.random.Generator, draws: int = 1) -> FloatArray:
        """Thompson draws, shape (draws, candidates)."""
        return rng.beta(self.a, self.b, size=(draws, len(self.a)))

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """Lower and upper propensity bounds that a draw falls outside of almost never."""
        if self.lo is not None and self.hi is not None:
            return self.lo, self.hi
        return _logit_normal_bounds(
            np.asarray(self.a, dtype=np.float64), np.asarray(self.b, dtype=np.float64), _BOUND_Z
        )


class KnownPropensities(Posterior):
    """Propensities known exactly (the simulator's oracle): every draw is the mean."""

    def __init__(self, p: FloatArray) -> None:
        super().__init__(p, 1 - p, p, p)

    def mean(self) -> FloatArray:
        return self.a

    def sample(self, rng: np.random.Generator, draws: int = 1) -> FloatArray:
        return np.tile(self.a, (draws, 1))


class RandomPropensities(Posterior):
    """Uniform random propensities (the model control group): Beta(1, 1), drawn directly."""

    def __init__(self, n: int) -> None:
        super().__init__(np.ones(n), np.ones(n), np.zeros(n), np.ones(n))

    def sample(self, rng: np.random.Generator, draws: int = 1) -> FloatArray:
        return rng.random((draws, len(self.a)))


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

    `x` in `posterior` is the decision's predictor values (profile and
    context); a bank that learns nothing per customer may ignore it."""

    def bind(self, config: CompiledConfig) -> None:
        """Lay the models out for `config` (after a load or reload); keeps learned state."""

    def posterior(self, actions: IntArray, channel: str, x: Features | None = None) -> Posterior:
        """What the bank believes of each of `actions`' propensity on `channel` for `x`."""

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
