"""Off-policy evaluation: what a candidate strategy would have earned on logged decisions.

Every action the engine returns is logged with the probability with which it was selected
(its *propensity* under the logging policy). From such a log — context, logged action,
reward, propensity — the estimators here say what another policy (the *candidate*) would
have earned on the same contexts, without running it.

Layouts (CSV, one row per returned action; a header row; every value read as text and
validated here; rows are evaluated in time order, a stable sort on `timestamp`):

* `nextbest` —
  `timestamp` (seconds since the epoch, or ISO 8601; a time without zone is UTC),
  `action_id` (the logged action), `reward` (a number ≥ 0: 1/0 for accepted/rejected, or
  revenue), `propensity` (the logged action's selection probability, in (0, 1]);
  optionally `candidates` (the action ids the logging policy chose from, joined with "|";
  must contain `action_id`; when the column is absent or a cell is empty: every action in
  the log); optionally `decision_id` and `customer_id` (identifiers, not features). Every
  other column is a context feature: a column whose every non-empty value is a number is
  numeric, any other is text; an empty cell is a missing value.
* `obd` — the Open Bandit Dataset (Saito et al., 2021) CSV: `timestamp, item_id, position,
  click, propensity_score, user_feature_0.., user-item_affinity_0..`. Action = `item_id`
  (an integer), reward = `click`, propensity = `propensity_score`; candidates: every item
  in the log. `position` (the slot 1–3 of the three-item slate) is a text context feature:
  each row is one (impression, slot) event, and the estimates are the expected click rate
  per slot, as in OBD's own benchmark — the candidate picks an item per slot and is not
  forced to fill a slate without repeats. Evaluating each position on its own would split
  the log in three and give three answers to one question.

Actions are numbered in sorted order (OBD items numerically).
An unnamed first column (the row index pandas writes) is dropped in both layouts.
Malformed input raises `RequestError(column, message)` naming the column and the line
(line 1 is the header) — file-level problems name `--data`.

Estimators (`pi` is the candidate's probability of each action per row, `w_i =
pi(a_i | x_i) / max(p_i, min_propensity)`; `min_propensity` = 0, no clipping, by default):

* `logged_value` — mean reward of the log: what the logging policy earned.
* `replay` — rejection sampling (Li et al., 2011): draw the candidate's action per row
  (seeded; a deterministic candidate needs no draw) and average the reward over the rows
  where it equals the logged action. Unbiased only when logging was uniform.
* `ips` — inverse propensity scoring: mean of `w_i r_i`.
* `snips` — self-normalised IPS: `sum(w_i r_i) / sum(w_i)`.
* `dr` — doubly robust: mean of `sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i))` with
  the reward model `q` of `score_log`.

Confidence intervals are 95 % normal approximations over the per-row terms (mean ± 1.96
standard errors, sample standard deviation); for SNIPS, a ratio, the delta method: the
terms `(w_i r_i - V w_i) / mean(w)`. A value that does not exist (no matched row for
replay, zero total weight for SNIPS) is None, and so is an interval from fewer than two
terms.

Candidates: `uniform` (uniform over the row's candidates) and `adaptive`: one propensity
model per action, trained test-then-train through the log in time order — a row is scored
by every candidate action's model before the logged action's model learns the row's
reward (> 0 counts as a positive response) — choosing the action with the highest
predicted propensity (ties: the first in action order). The same scores give `q` for DR.
The candidate learns from every logged row, so it is "the strategy trained on this log";
deployed, it would have seen the rewards of its own choices instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal, NotRequired, TypedDict

import numpy as np
import polars as pl

from nextbest.errors import RequestError
from nextbest.learning.base import BoolArray, FloatArray, IntArray, Model

Layout = Literal["nextbest", "obd"]
Policy = Literal["adaptive", "uniform"]
ModelFactory = Callable[[], Model]

LAYOUTS: tuple[Layout, ...] = ("nextbest", "obd")
POLICIES: tuple[Policy, ...] = ("adaptive", "uniform")

#: two-sided 95 % normal quantile
Z95 = NormalDist().inv_cdf(0.975)
#: CSV cells read as missing ("NA" is how R writes a missing value)
NULL_VALUES = ["", "NA", "N/A", "NaN", "null", "NULL"]
#: `nextbest` columns that identify a row and are never features
ID_COLUMNS = frozenset({"decision_id", "customer_id"})


class Estimate(TypedDict):
    value: float | None
    ci_low: float | None
    ci_high: float | None
    matched_rows: NotRequired[int]  # replay only


@dataclass(frozen=True, eq=False)
class LoggedData:
    """A log of decisions in time order; row i is one returned action and its reward."""

    actions: tuple[str, ...]  # action ids; position k is column k of the matrices
    action: IntArray  # (n,) position of the logged action
    reward: FloatArray  # (n,)
    propensity: FloatArray  # (n,) the logging policy's probability of the logged action
    candidates: BoolArray  # (n, K) could the logging policy have chosen action k in row i?
    features: Mapping[str, Sequence[Any]]  # context, one column per feature

    def __post_init__(self) -> None:
        n = len(self.action)
        shapes_agree = (
            len(self.reward) == len(self.propensity) == n
            and self.candidates.shape == (n, len(self.actions))
            and all(len(column) == n for column in self.features.values())
        )
        if not shapes_agree:
            raise ValueError("LoggedData: arrays of different lengths")
        if n and not self.candidates[np.arange(n), self.action].all():
            raise ValueError("LoggedData: a logged action is not among its row's candidates")

    @property
    def rows(self) -> int:
        return len(self.action)

    def context(self, i: int) -> dict[str, Any]:
        """Row i's features as a model sees them."""
        return {name: column[i] for name, column in self.features.items()}


# --- readers ------------------------------------------------------------------------------


def read_logged(path: str | Path, layout: Layout = "nextbest") -> LoggedData:
    """Read a CSV log in the `nextbest` or `obd` layout (see the module docstring)."""
    if layout not in LAYOUTS:
        raise RequestError("--format", f"`{layout}` is not one of {', '.join(LAYOUTS)}")
    path = Path(path)
    if not path.is_file():
        raise RequestError("--data", f"{path}: file not found")
    try:
        frame = pl.read_csv(path, infer_schema=False, null_values=NULL_VALUES)
    except pl.exceptions.NoDataError:
        raise RequestError("--data", f"{path}: the file is empty") from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise RequestError("--data", f"{path}: cannot read as CSV: {exc}") from None
    if frame.height == 0:
        raise RequestError("--data", f"{path}: no rows after the header")
    if frame.columns[0] == "":  # the row index pandas writes, without a header
        frame = frame.drop("")
    return _read_obd(frame) if layout == "obd" else _read_nextbest(frame)


def _read_nextbest(frame: pl.DataFrame) -> LoggedData:
    _require(frame, ("timestamp", "action_id", "reward", "propensity"))
    logged = _texts(frame, "action_id")
    if "candidates" in frame.columns:
        cells = frame["candidates"].to_list()
        offered = [
            None if cell is None else [a.strip() for a in cell.split("|") if a.strip()]
            for cell in cells
        ]
    else:
        offered = [None] * frame.height
    actions = tuple(sorted(set(logged).union(*(c for c in offered if c))))
    position = {a: k for k, a in enumerate(actions)}
    candidates = np.zeros((frame.height, len(actions)), dtype=bool)
    for i, (action, row) in enumerate(zip(logged, offered, strict=True)):
        if not row:
            candidates[i] = True
            continue
        if action not in row:
            raise RequestError(
                "candidates", f"line {i + 2}: the logged action `{action}` is not a candidate"
            )
        candidates[i, [position[a] for a in row]] = True
    reserved = {"timestamp", "action_id", "reward", "propensity", "candidates"} | ID_COLUMNS
    return _build(
        frame,
        actions=actions,
        action=np.array([position[a] for a in logged], dtype=np.int64),
        candidates=candidates,
        reward=_rewards(frame, "reward"),
        propensity=_propensities(frame, "propensity"),
        features={c: _feature(frame[c]) for c in frame.columns if c not in reserved},
    )


def _read_obd(frame: pl.DataFrame) -> LoggedData:
    _require(frame, ("timestamp", "item_id", "position", "click", "propensity_score"))
    items = _numbers(frame, "item_id")
    if not np.all(items == np.round(items)):
        i = int(np.flatnonzero(items != np.round(items))[0])
        raise RequestError("item_id", f"line {i + 2}: `{frame['item_id'][i]}` is not an integer")
    item_ids, action = np.unique(items.astype(np.int64), return_inverse=True)
    reserved = {"timestamp", "item_id", "position", "click", "propensity_score"}
    # a slot, not a quantity: one symbol per position
    features: dict[str, list[Any]] = {"position": _texts(frame, "position")}
    features.update((c, _feature(frame[c])) for c in frame.columns if c not in reserved)
    return _build(
        frame,
        actions=tuple(str(item) for item in item_ids),
        action=action.astype(np.int64),
        candidates=np.ones((frame.height, len(item_ids)), dtype=bool),
        reward=_rewards(frame, "click"),
        propensity=_propensities(frame, "propensity_score"),
        features=features,
    )


def _build(
    frame: pl.DataFrame,
    *,
    actions: tuple[str, ...],
    action: IntArray,
    candidates: BoolArray,
    reward: FloatArray,
    propensity: FloatArray,
    features: dict[str, list[Any]],
) -> LoggedData:
    """The validated columns, sorted into time order."""
    order = np.argsort(_timestamps(frame, "timestamp"), kind="stable")
    rows = order.tolist()
    return LoggedData(
        actions=actions,
        action=action[order],
        reward=reward[order],
        propensity=propensity[order],
        candidates=candidates[order],
        features={name: [column[i] for i in rows] for name, column in features.items()},
    )


def _require(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise RequestError(
                column,
                f"missing required column `{column}` (columns: {', '.join(frame.columns)})",
            )


def _missing(frame: pl.DataFrame, column: str, values: pl.Series) -> None:
    """Raise naming the first row where `values` (derived from `column`) is null."""
    nulls = values.is_null()
    if nulls.any():
        i = int(nulls.arg_true()[0])
        raw = frame[column][i]
        problem = "missing value" if raw is None or not raw.strip() else f"`{raw}` is not a number"
        raise RequestError(column, f"line {i + 2}: {problem}")


def _texts(frame: pl.DataFrame, column: str) -> list[str]:
    values = frame[column].str.strip_chars()
    _missing(frame, column, values.replace("", None))
    return [str(v) for v in values.to_list()]


def _numbers(frame: pl.DataFrame, column: str) -> FloatArray:
    values = frame[column].str.strip_chars().cast(pl.Float64, strict=False)
    _missing(frame, column, values)
    return values.to_numpy().astype(np.float64)


def _first_bad(frame: pl.DataFrame, column: str, ok: BoolArray, rule: str) -> None:
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise RequestError(column, f"line {i + 2}: `{frame[column][i]}` is {rule}")


def _rewards(frame: pl.DataFrame, column: str) -> FloatArray:
    reward = _numbers(frame, column)
    _first_bad(frame, column, np.isfinite(reward) & (reward >= 0), "not a number ≥ 0")
    return reward


def _propensities(frame: pl.DataFrame, column: str) -> FloatArray:
    propensity = _numbers(frame, column)
    # written so that NaN fails too
    _first_bad(frame, column, (propensity > 0) & (propensity <= 1), "outside (0, 1]")
    return propensity


def _timestamps(frame: pl.DataFrame, column: str) -> FloatArray:
    texts = _texts(frame, column)
    seconds = np.empty(len(texts))
    for i, text in enumerate(texts):
        try:
            seconds[i] = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise RequestError(
                    column, f"line {i + 2}: `{text}` is neither seconds nor an ISO 8601 time"
                ) from None
            seconds[i] = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    if not np.isfinite(seconds).all():
        i = int(np.flatnonzero(~np.isfinite(seconds))[0])
        raise RequestError(column, f"line {i + 2}: `{texts[i]}` is not a finite time")
    return seconds


def _feature(column: pl.Series) -> list[Any]:
    """A feature column as model inputs: numbers if every present value is one, else text."""
    text = column.str.strip_chars().replace("", None)
    numbers = text.cast(pl.Float64, strict=False)
    if numbers.null_count() == text.null_count():
        return [None if v is None or math.isnan(v) else v for v in numbers.to_list()]
    return text.to_list()


# --- candidates and the reward model ------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Scores:
    """Test-then-train scores of every row's candidate actions (0 for non-candidates)."""

    propensity: FloatArray  # (n, K) the action's model's predicted P(reward > 0)
    reward: FloatArray  # (n, K) q(x, a): predicted expected reward


def score_log(data: LoggedData, model_factory: ModelFactory | None = None) -> Scores:
    """One model per action, trained through the log in time order: row i is scored by
    every candidate action's model first, then the logged action's model learns row i
    (reward > 0 is a positive response). No prediction has seen its own row or a later one.

    q(x, a) = predicted propensity × the mean of action a's positive rewards so far (1
    until it has one), so that q is an expected reward also when rewards are revenue; for
    0/1 rewards it is the propensity. `model_factory` makes a fresh model (default:
    `AdmModel()`)."""
    if model_factory is None:
        from nextbest.learning.adm import AdmModel

        model_factory = AdmModel
    models = [model_factory() for _ in data.actions]
    propensity = np.zeros(data.candidates.shape)
    reward = np.zeros(data.candidates.shape)
    # per action: the mean positive reward so far, its sum and count
    magnitude = np.ones(len(data.actions))
    positive_total = np.zeros(len(data.actions))
    positive_count = np.zeros(len(data.actions))
    for i in range(data.rows):
        x = data.context(i)
        for k in np.flatnonzero(data.candidates[i]):
            propensity[i, k] = models[k].predict_one(x)
        reward[i] = propensity[i] * magnitude
        logged = int(data.action[i])
        r = float(data.reward[i])
        models[logged].learn_one(x, r > 0)
        if r > 0:
            positive_total[logged] += r
            positive_count[logged] += 1
            magnitude[logged] = positive_total[logged] / positive_count[logged]
    return Scores(propensity, reward)


def uniform_policy(data: LoggedData) -> FloatArray:
    """Uniform over each row's candidates, (n, K)."""
    weights = data.candidates.astype(np.float64)
    return np.asarray(weights / weights.sum(axis=1, keepdims=True), dtype=np.float64)


def greedy_policy(scores: FloatArray, candidates: BoolArray) -> FloatArray:
    """All mass on the highest-scored candidate of each row (ties: the first), (n, K)."""
    best = np.argmax(np.where(candidates, scores, -np.inf), axis=1)
    pi = np.zeros(scores.shape)
    pi[np.arange(len(best)), best] = 1.0
    return pi


# --- estimators ---------------------------------------------------------------------------


def _estimate(value: float | None, terms: FloatArray) -> Estimate:
    """`value` with a 95 % normal interval of half-width 1.96 × sd(terms) / sqrt(n)."""
    if value is None or len(terms) < 2:
        return {"value": value, "ci_low": None, "ci_high": None}
    half = Z95 * float(np.std(terms, ddof=1)) / math.sqrt(len(terms))
    return {"value": value, "ci_low": value - half, "ci_high": value + half}


def _mean(terms: FloatArray) -> Estimate:
    return _estimate(float(np.mean(terms)) if len(terms) else None, terms)


def _check_min_propensity(min_propensity: float) -> None:
    if not 0.0 <= min_propensity < 1.0:
        raise RequestError("--min-propensity", f"{min_propensity} is outside [0, 1)")


def _weights(data: LoggedData, pi: FloatArray, min_propensity: float) -> FloatArray:
    """w_i = pi(a_i | x_i) / max(p_i, min_propensity)."""
    _check_min_propensity(min_propensity)
    if pi.shape != data.candidates.shape:
        raise ValueError(f"policy of shape {pi.shape} for a log of shape {data.candidates.shape}")
    chosen = pi[np.arange(data.rows), data.action]
    return np.asarray(chosen / np.maximum(data.propensity, min_propensity), dtype=np.float64)


def logged_value(data: LoggedData) -> Estimate:
    """Mean reward of the log: what the logging policy earned."""
    return _mean(data.reward)


def replay(data: LoggedData, pi: FloatArray, *, seed: int = 0) -> Estimate:
    """Rejection sampling (Li et al., 2011): the mean reward over the rows where the
    candidate's action — drawn from `pi` with `seed`; the argmax for a deterministic
    candidate — is the logged one. Unbiased when the logging policy was uniform over the
    candidates; `matched_rows` says how many rows it rests on."""
    cumulative = np.cumsum(pi, axis=1)
    # inverse-CDF draw per row, scaled by the row total so rounding cannot fall off the end
    draws = np.random.default_rng(seed).random(data.rows) * cumulative[:, -1]
    chosen = np.argmax(cumulative > draws[:, None], axis=1)
    matched = chosen == data.action
    result = _mean(data.reward[matched])
    result["matched_rows"] = int(matched.sum())
    return result


def ips(data: LoggedData, pi: FloatArray, *, min_propensity: float = 0.0) -> Estimate:
    """Inverse propensity scoring: the mean of w_i r_i."""
    return _mean(_weights(data, pi, min_propensity) * data.reward)


def snips(data: LoggedData, pi: FloatArray, *, min_propensity: float = 0.0) -> Estimate:
    """Self-normalised IPS, sum(w_i r_i) / sum(w_i), with a delta-method interval; None when
    the candidate puts no weight on any logged action."""
    w = _weights(data, pi, min_propensity)
    mean_w = float(np.mean(w))
    if mean_w == 0.0:
        return _estimate(None, w)
    value = float(np.sum(w * data.reward) / np.sum(w))
    # linearisation of the ratio around (mean(w r), mean(w)): its terms have mean zero and
    # their sample variance / n is the delta-method variance
    return _estimate(value, (w * data.reward - value * w) / mean_w)


def dr(data: LoggedData, pi: FloatArray, q: FloatArray, *, min_propensity: float = 0.0) -> Estimate:
    """Doubly robust: the mean of sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)). Unbiased
    if either the propensities or the reward model `q` (n × K) are right."""
    w = _weights(data, pi, min_propensity)
    q_logged = q[np.arange(data.rows), data.action]
    return _mean((pi * q).sum(axis=1) + w * (data.reward - q_logged))


def evaluate_logged(
    data: LoggedData,
    policy: Policy = "adaptive",
    *,
    model_factory: ModelFactory | None = None,
    min_propensity: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Every estimate of the candidate `policy` on `data`, as a JSON-able dict.

    `model_factory` makes the per-action models of `score_log` (the adaptive candidate and
    DR's reward model; default `AdmModel()`); `min_propensity` clips logged propensities
    from below in IPS, SNIPS and DR (`clipped_rows` counts the rows it changed); `seed`
    drives replay's draws of a stochastic candidate."""
    if policy not in POLICIES:
        raise RequestError("--policy", f"`{policy}` is not one of {', '.join(POLICIES)}")
    _check_min_propensity(min_propensity)
    scores = score_log(data, model_factory)
    if policy == "adaptive":
        pi = greedy_policy(scores.propensity, data.candidates)
    else:
        pi = uniform_policy(data)
    return {
        "rows": data.rows,
        "actions": len(data.actions),
        "policy": policy,
        "min_propensity": min_propensity,
        "clipped_rows": int(np.sum(data.propensity < min_propensity)),
        "logged_value": logged_value(data),
        "replay": replay(data, pi, seed=seed),
        "ips": ips(data, pi, min_propensity=min_propensity),
        "snips": snips(data, pi, min_propensity=min_propensity),
        "dr": dr(data, pi, scores.reward, min_propensity=min_propensity),
    }
