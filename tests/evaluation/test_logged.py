"""Off-policy evaluation of logged decisions, on synthetic logs whose truth is known."""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.errors import RequestError
from nextbest.evaluation.logged import (
    Estimate,
    LoggedData,
    dr,
    evaluate_logged,
    greedy_policy,
    ips,
    logged_value,
    read_logged,
    replay,
    score_log,
    snips,
    uniform_policy,
)
from nextbest.learning.base import BoolArray, Columns, Features, Model

FloatArray = npt.NDArray[np.float64]

# --- a stand-in model: smoothed success rate per value of one feature ---------------------


class RateModel:
    """P(yes | x) = (positives + 1) / (responses + 2) among rows with the same value of
    `key` (all rows when `key` is None); 0.5 before it has learned anything."""

    def __init__(self, key: str | None = "segment") -> None:
        self.key = key
        self.counts: dict[str, list[float]] = {}

    def _group(self, x: Features) -> str:
        return "" if self.key is None else str(x.get(self.key))

    def learn_one(self, x: Features, y: bool, *, weight: float = 1.0) -> None:
        count = self.counts.setdefault(self._group(x), [0.0, 0.0])
        count[0] += weight * y
        count[1] += weight

    def learn_many(self, X: Columns, y: Sequence[bool] | BoolArray) -> None:
        for i, label in enumerate(y):
            self.learn_one({k: v[i] for k, v in X.items()}, bool(label))

    def predict_one(self, x: Features) -> float:
        positives, responses = self.counts.get(self._group(x), [0.0, 0.0])
        return (positives + 1.0) / (responses + 2.0)

    def predict_many(self, X: Columns) -> FloatArray:
        n = len(next(iter(X.values()))) if X else 0
        return np.array([self.predict_one({k: v[i] for k, v in X.items()}) for i in range(n)])

    def explain_one(self, x: Features) -> dict[str, float]:
        p = self.predict_one(x)
        return {self.key or "": math.log(p / (1 - p))}

    def to_state(self) -> dict[str, Any]:
        return {"key": self.key, "counts": self.counts}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        model = cls(state["key"])
        model.counts = {k: list(v) for k, v in state["counts"].items()}
        return model

    def clone(self) -> Self:
        return type(self)(self.key)


def rate_model() -> Model:
    return RateModel()


def test_the_stand_in_follows_the_model_protocol() -> None:
    model = rate_model()
    model.learn_many({"segment": ["a", "a", "b"]}, [True, True, False])
    assert model.predict_one({"segment": "a"}) == 0.75
    assert model.predict_many({"segment": ["b"]}).tolist() == [1 / 3]
    assert type(model).from_state(model.to_state()).predict_one({"segment": "a"}) == 0.75
    assert model.clone().predict_one({"segment": "a"}) == 0.5


# --- synthetic logs -----------------------------------------------------------------------

#: true acceptance rate per segment × action
THETA = np.array(
    [
        [0.10, 0.30, 0.05, 0.20],
        [0.40, 0.10, 0.15, 0.05],
        [0.05, 0.10, 0.35, 0.25],
    ]
)
SEGMENT_SHARE = np.array([0.5, 0.3, 0.2])
#: a non-uniform logging policy, per segment
SKEWED = np.array(
    [
        [0.40, 0.30, 0.20, 0.10],
        [0.10, 0.20, 0.30, 0.40],
        [0.25, 0.25, 0.25, 0.25],
    ]
)
UNIFORM = np.full((3, 4), 0.25)
ACTIONS = ("a0", "a1", "a2", "a3")


def synthetic(n: int, logging: FloatArray, seed: int) -> tuple[LoggedData, npt.NDArray[Any]]:
    """A log of n decisions by `logging`; also each row's segment."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(3, size=n, p=SEGMENT_SHARE)
    action = np.array([rng.choice(4, p=logging[s]) for s in segment], dtype=np.int64)
    reward = (rng.random(n) < THETA[segment, action]).astype(np.float64)
    data = LoggedData(
        actions=ACTIONS,
        action=action,
        reward=reward,
        propensity=logging[segment, action],
        candidates=np.ones((n, 4), dtype=bool),
        features={"segment": [f"s{s}" for s in segment]},
    )
    return data, segment


def true_value(policy: FloatArray) -> float:
    """The value of a policy given per segment (3 × 4) over the segment distribution."""
    return float(SEGMENT_SHARE @ (policy * THETA).sum(axis=1))


def covers(estimate: Estimate, truth: float, max_width: float) -> bool:
    assert estimate["ci_low"] is not None and estimate["ci_high"] is not None
    assert estimate["ci_high"] - estimate["ci_low"] < max_width
    return estimate["ci_low"] <= truth <= estimate["ci_high"]


BEST = np.eye(4)[THETA.argmax(axis=1)]  # the oracle: per segment its best action


@pytest.mark.parametrize(
    "candidate", [BEST, UNIFORM, SKEWED[::-1]], ids=["best", "uniform", "other"]
)
def test_ips_snips_and_dr_cover_the_true_value(candidate: FloatArray) -> None:
    data, segment = synthetic(20_000, SKEWED, seed=1)
    pi = candidate[segment]
    q = score_log(data, rate_model).reward
    truth = true_value(candidate)
    assert covers(ips(data, pi), truth, 0.05)
    assert covers(snips(data, pi), truth, 0.05)
    assert covers(dr(data, pi, q), truth, 0.05)
    assert covers(logged_value(data), true_value(SKEWED), 0.02)


def test_dr_with_a_wrong_reward_model_still_covers_the_truth() -> None:
    data, segment = synthetic(20_000, SKEWED, seed=2)
    wrong = np.full(data.candidates.shape, 0.5)
    assert covers(dr(data, BEST[segment], wrong), true_value(BEST), 0.05)


def test_a_good_reward_model_makes_dr_tighter_than_ips() -> None:
    data, segment = synthetic(20_000, SKEWED, seed=3)
    pi = BEST[segment]
    by_ips, by_dr = ips(data, pi), dr(data, pi, score_log(data, rate_model).reward)
    assert by_ips["ci_high"] is not None and by_ips["ci_low"] is not None
    assert by_dr["ci_high"] is not None and by_dr["ci_low"] is not None
    assert by_dr["ci_high"] - by_dr["ci_low"] < 0.9 * (by_ips["ci_high"] - by_ips["ci_low"])


def test_replay_under_uniform_logging_covers_the_truth() -> None:
    data, segment = synthetic(20_000, UNIFORM, seed=4)
    estimate = replay(data, BEST[segment])
    assert 4_500 < estimate.get("matched_rows", 0) < 5_500
    assert covers(estimate, true_value(BEST), 0.05)
    # a random candidate is drawn per row, with the seed
    drawn = replay(data, uniform_policy(data), seed=7)
    assert drawn == replay(data, uniform_policy(data), seed=7)
    assert covers(drawn, true_value(UNIFORM), 0.05)


def test_uniform_candidate_under_uniform_logging_gives_ips_equal_to_the_logged_value() -> None:
    data, _ = synthetic(2_000, UNIFORM, seed=5)
    result = evaluate_logged(data, "uniform", model_factory=rate_model)
    assert result["ips"] == result["logged_value"]


def test_snips_of_the_logging_policy_is_the_logged_value() -> None:
    data, segment = synthetic(2_000, SKEWED, seed=6)
    estimate = snips(data, SKEWED[segment])
    assert estimate["value"] == pytest.approx(logged_value(data)["value"], rel=1e-12)


def test_the_adaptive_candidate_learns_and_its_estimates_cover_what_it_chose() -> None:
    data, segment = synthetic(20_000, SKEWED, seed=8)
    result = evaluate_logged(data, "adaptive", model_factory=rate_model)
    pi = greedy_policy(score_log(data, rate_model).propensity, data.candidates)
    # the value of the actions the adaptive candidate picked, row by row
    truth = float(np.mean((pi * THETA[segment]).sum(axis=1)))
    assert truth > 0.98 * true_value(BEST)  # it found the best action per segment
    for key in ("ips", "snips", "dr"):
        assert covers(result[key], truth, 0.05), key
    assert result["rows"] == 20_000 and result["actions"] == 4
    assert result["policy"] == "adaptive"
    uniform = evaluate_logged(data, "uniform", model_factory=rate_model)
    assert result["dr"]["value"] > uniform["dr"]["value"] + 0.1


@pytest.mark.parametrize("mode", ["default", "improved"])
def test_the_default_adaptive_candidate_is_the_adm_model(mode: str) -> None:
    from nextbest.learning.adm import AdmModel

    data, segment = synthetic(5_000, SKEWED, seed=12)
    factory = None if mode == "default" else (lambda: AdmModel(mode="improved"))
    result = evaluate_logged(data, model_factory=factory)
    pi = greedy_policy(score_log(data, factory).propensity, data.candidates)
    truth = float(np.mean((pi * THETA[segment]).sum(axis=1)))
    # an ADM model scores with its last analysis (10, 20, 40, … responses), so the first
    # few hundred rows of each action are decided on a coarser model than the rest
    assert truth > 0.94 * true_value(BEST)
    for key in ("ips", "snips", "dr"):
        assert covers(result[key], truth, 0.08), key
    assert result["dr"]["value"] > true_value(UNIFORM) + 0.1


def test_score_log_never_peeks_at_the_row_it_scores() -> None:
    data, _ = synthetic(300, SKEWED, seed=9)
    before = score_log(data, rate_model)
    flipped = data.reward.copy()
    flipped[150:] = 1.0 - flipped[150:]
    changed = LoggedData(
        data.actions, data.action, flipped, data.propensity, data.candidates, data.features
    )
    after = score_log(changed, rate_model)
    assert np.array_equal(before.propensity[:151], after.propensity[:151])
    assert not np.array_equal(before.propensity[151:], after.propensity[151:])


def test_greedy_ties_go_to_the_first_candidate() -> None:
    scores = np.array([[0.5, 0.5, 0.5], [0.9, 0.2, 0.2], [0.2, 0.7, 0.7]])
    candidates = np.array([[True, True, True], [False, True, True], [True, True, True]])
    assert greedy_policy(scores, candidates).argmax(axis=1).tolist() == [0, 1, 1]


def test_q_scales_the_propensity_by_the_positive_reward_seen_so_far() -> None:
    data = LoggedData(
        actions=("a",),
        action=np.zeros(3, dtype=np.int64),
        reward=np.array([100.0, 0.0, 50.0]),
        propensity=np.ones(3),
        candidates=np.ones((3, 1), dtype=bool),
        features={},
    )
    scores = score_log(data, lambda: RateModel(None))
    assert scores.propensity[:, 0].tolist() == [0.5, 2 / 3, 0.5]
    assert scores.reward[:, 0] == pytest.approx([0.5, 200 / 3, 50.0])


def test_clipping_is_a_parameter_and_is_reported() -> None:
    data, _ = synthetic(1_000, SKEWED, seed=10)
    result = evaluate_logged(data, "uniform", model_factory=rate_model, min_propensity=0.2)
    assert result["min_propensity"] == 0.2
    assert result["clipped_rows"] == int(np.sum(data.propensity < 0.2)) > 0
    clipped = ips(data, uniform_policy(data), min_propensity=0.2)
    assert clipped["value"] is not None
    assert clipped["value"] < ips(data, uniform_policy(data))["value"]  # type: ignore[operator]
    with pytest.raises(RequestError) as info:
        evaluate_logged(data, "uniform", model_factory=rate_model, min_propensity=1.0)
    assert info.value.field == "--min-propensity"
    with pytest.raises(RequestError) as info:
        evaluate_logged(data, "greedy", model_factory=rate_model)  # type: ignore[arg-type]
    assert info.value.field == "--policy"


def test_estimates_that_do_not_exist_are_none() -> None:
    data, _ = synthetic(50, UNIFORM, seed=11)
    never = np.zeros(data.candidates.shape)
    never[:, 0] = 1.0
    data = LoggedData(
        data.actions,
        np.full(50, 1, dtype=np.int64),
        data.reward,
        data.propensity,
        data.candidates,
        data.features,
    )
    assert replay(data, never) == {
        "value": None, "ci_low": None, "ci_high": None, "matched_rows": 0
    }  # fmt: skip
    assert snips(data, never) == {"value": None, "ci_low": None, "ci_high": None}
    assert ips(data, never)["value"] == 0.0


# --- readers ------------------------------------------------------------------------------


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


NEXTBEST_HEADER = (
    "decision_id", "timestamp", "action_id", "reward", "propensity", "candidates", "segment", "age"
)  # fmt: skip
NEXTBEST_ROWS = [
    ("d3", "2024-05-01T10:00:02+00:00", "gold", "0", "0.5", "gold|silver", "young", "30"),
    ("d1", "1714557600", "silver", "1", "0.25", "", "old", ""),
    ("d2", "2024-05-01 10:00:01", "gold", "2.5", "1", "gold", "", "41.5"),
]


def test_read_nextbest_layout(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "log.csv", NEXTBEST_HEADER, NEXTBEST_ROWS)
    data = read_logged(path)
    # time order: 10:00:00 (epoch seconds), 10:00:01 (no zone: UTC), 10:00:02
    assert data.actions == ("gold", "silver")
    assert data.action.tolist() == [1, 0, 0]
    assert data.reward.tolist() == [1.0, 2.5, 0.0]
    assert data.propensity.tolist() == [0.25, 1.0, 0.5]
    assert data.candidates.tolist() == [[True, True], [True, False], [True, True]]
    assert dict(data.features) == {"segment": ["old", None, "young"], "age": [None, 41.5, 30.0]}
    assert data.context(0) == {"segment": "old", "age": None}


def test_candidates_may_name_actions_never_logged(tmp_path: Path) -> None:
    rows = [("1", "a", "1", "0.5", "a|b|c"), ("2", "b", "0", "0.5", "b|a")]
    path = write_csv(
        tmp_path / "log.csv", ("timestamp", "action_id", "reward", "propensity", "candidates"), rows
    )
    data = read_logged(path, "nextbest")
    assert data.actions == ("a", "b", "c")
    assert data.candidates.tolist() == [[True, True, True], [True, True, False]]
    assert dict(data.features) == {}
    result = evaluate_logged(data, "uniform", model_factory=rate_model)
    assert result["ips"]["value"] == pytest.approx((1 / 3) / 0.5 / 2)


def test_an_unnamed_index_column_is_not_a_feature(tmp_path: Path) -> None:
    header = ("", "timestamp", "action_id", "reward", "propensity", "customer_id", "tier")
    path = write_csv(tmp_path / "log.csv", header, [(0, "5", "a", "1", "1", "C1", "gold")])
    assert dict(read_logged(path).features) == {"tier": ["gold"]}


def obd_file(path: Path, rows: int = 40, seed: int = 0) -> Path:
    """An Open Bandit Dataset-style CSV (random logging over 4 items × 3 slots)."""
    rng = np.random.default_rng(seed)
    header = ["", "timestamp", "item_id", "position", "click", "propensity_score"]
    header += [f"user_feature_{j}" for j in range(2)]
    header += [f"user-item_affinity_{j}" for j in range(4)]
    lines = []
    for i in range(rows):
        second = 17 + i // 3
        lines.append(
            [
                i,
                f"2019-11-24 00:00:{second:02d}.171004+00:00",
                int(rng.integers(4)),
                i % 3 + 1,
                int(rng.random() < 0.3),
                0.25,
                f"{int(rng.integers(3)):032x}",
                "81ce123cbb5bd8ce818f60fb3586bba5",
                *[f"{v:.3f}" for v in rng.random(4)],
            ]
        )
    return write_csv(path, header, lines)


def test_read_obd_layout(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "obd.csv",
        ["", "timestamp", "item_id", "position", "click", "propensity_score", "user_feature_0"],
        [
            [0, "2019-11-24 00:00:18.0+00:00", 10, 1, 1, 0.0125, "a"],
            [1, "2019-11-24 00:00:17.0+00:00", 2, 2, 0, 0.0125, "b"],
            [2, "2019-11-24 00:00:17.0+00:00", 10, 3, 0, 0.0125, "b"],
        ],
    )
    data = read_logged(path, "obd")
    assert data.actions == ("2", "10")  # item ids in numeric order
    assert data.action.tolist() == [0, 1, 1]
    assert data.reward.tolist() == [0.0, 0.0, 1.0]
    assert data.propensity.tolist() == [0.0125] * 3
    assert data.candidates.all()
    assert dict(data.features) == {"position": ["2", "3", "1"], "user_feature_0": ["b", "b", "a"]}


def test_obd_uniform_logging_gives_ips_equal_to_the_logged_value(tmp_path: Path) -> None:
    data = read_logged(obd_file(tmp_path / "obd.csv", rows=60), "obd")
    assert data.rows == 60 and data.actions == ("0", "1", "2", "3")
    result = evaluate_logged(data, "uniform", model_factory=rate_model)
    assert result["ips"] == result["logged_value"]


MALFORMED = [
    # (layout, header, rows, column, line)
    ("nextbest", ("timestamp", "action_id", "reward"), [("1", "a", "1")], "propensity", None),
    ("nextbest", ("timestamp", "reward", "propensity"), [("1", "1", "1")], "action_id", None),
    ("nextbest", ("action_id", "reward", "propensity"), [("a", "1", "1")], "timestamp", None),
    ("nextbest", ("timestamp", "action_id", "propensity"), [("1", "a", "1")], "reward", None),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "1", "0.5"), ("2", "a", "1", "high")], "propensity", 3),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "1", "0")], "propensity", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "1", "1.5")], "propensity", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "1", "-0.2")], "propensity", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "1", "nan")], "propensity", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "1", "0.5"), ("2", "a", "1", "")], "propensity", 3),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "yes", "0.5")], "reward", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "-1", "0.5")], "reward", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "inf", "0.5")], "reward", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "", "1", "0.5")], "action_id", 2),
    ("nextbest", NEXTBEST_HEADER[1:5], [("1", "a", "1", "1"), ("soon", "a", "1", "1")], "timestamp", 3),
    ("nextbest", NEXTBEST_HEADER[1:6], [("1", "a", "1", "0.5", "b|c")], "candidates", 2),
    ("obd", ("timestamp", "position", "click", "propensity_score"), [("1", "1", "0", "0.5")], "item_id", None),
    ("obd", ("timestamp", "item_id", "click", "propensity_score"), [("1", "1", "0", "0.5")], "position", None),
    ("obd", ("timestamp", "item_id", "position", "propensity_score"), [("1", "1", "1", "0.5")], "click", None),
    ("obd", ("timestamp", "item_id", "position", "click"), [("1", "1", "1", "0")], "propensity_score", None),
    ("obd", ("timestamp", "item_id", "position", "click", "propensity_score"), [("1", "1", "1", "0", "2")], "propensity_score", 2),
    ("obd", ("timestamp", "item_id", "position", "click", "propensity_score"), [("1", "1.5", "1", "0", "1")], "item_id", 2),
    ("obd", ("timestamp", "item_id", "position", "click", "propensity_score"), [("1", "1", "1", "x", "1")], "click", 2),
]  # fmt: skip


@pytest.mark.parametrize(("layout", "header", "rows", "column", "line"), MALFORMED)
def test_malformed_input_names_the_column(
    tmp_path: Path,
    layout: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    column: str,
    line: int | None,
) -> None:
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(RequestError) as info:
        read_logged(path, "obd" if layout == "obd" else "nextbest")
    assert info.value.field == column
    assert (
        f"`{column}`" in info.value.message if line is None else f"line {line}:" in str(info.value)
    )


def test_unreadable_files_name_the_data_option(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = write_csv(tmp_path / "header.csv", NEXTBEST_HEADER, [])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("timestamp,action_id,reward,propensity\n1,a,1,1,extra,more\n")
    messages = []
    for path in (empty, header_only, ragged, tmp_path / "missing.csv"):
        with pytest.raises(RequestError) as info:
            read_logged(path)
        assert info.value.field == "--data"
        messages.append(info.value.message)
    assert "empty" in messages[0] and "no rows" in messages[1] and "not found" in messages[3]
    with pytest.raises(RequestError) as info:
        read_logged(empty, "parquet")  # type: ignore[arg-type]
    assert info.value.field == "--format"


# --- properties ---------------------------------------------------------------------------


@st.composite
def logs(draw: st.DrawFn, all_propensities_one: bool = False) -> list[tuple[Any, ...]]:
    """Rows (timestamp, action_id, reward, propensity, segment) of a valid log, in time order."""
    n = draw(st.integers(2, 25))
    k = draw(st.integers(1, 4))
    rewards = st.sampled_from([0.0, 1.0]) | st.floats(0.0, 100.0)
    propensities = st.just(1.0) if all_propensities_one else st.floats(1e-3, 1.0)
    return [
        (
            float(i),
            f"a{draw(st.integers(0, k - 1))}",
            draw(rewards),
            draw(propensities),
            draw(st.sampled_from(["x", "y", ""])),
        )
        for i in range(n)
    ]


def read_rows(rows: list[tuple[Any, ...]]) -> LoggedData:
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(
            Path(folder) / "log.csv",
            ("timestamp", "action_id", "reward", "propensity", "segment"),
            [(repr(t), a, repr(r), repr(p), s) for t, a, r, p, s in rows],
        )
        return read_logged(path)


@settings(max_examples=60, deadline=None)
@given(logs(), st.sampled_from(["adaptive", "uniform"]), st.sampled_from([0.0, 0.05]))
def test_any_valid_log_reads_back_and_gives_ordered_finite_estimates(
    rows: list[tuple[Any, ...]], policy: str, min_propensity: float
) -> None:
    data = read_rows(rows)
    assert data.rows == len(rows)
    assert [data.actions[a] for a in data.action] == [r[1] for r in rows]
    assert data.reward.tolist() == [r[2] for r in rows]
    assert data.propensity.tolist() == [r[3] for r in rows]
    assert data.features["segment"] == [r[4] or None for r in rows]
    result = evaluate_logged(
        data,
        "uniform" if policy == "uniform" else "adaptive",
        model_factory=rate_model,
        min_propensity=min_propensity,
    )
    assert set(result) >= {
        "rows",
        "actions",
        "policy",
        "logged_value",
        "replay",
        "ips",
        "snips",
        "dr",
    }
    for key in ("logged_value", "replay", "ips", "snips", "dr"):
        estimate = result[key]
        if estimate["value"] is None:
            continue
        if estimate["ci_low"] is None:
            assert key == "replay" and estimate["matched_rows"] == 1
            continue
        assert all(math.isfinite(estimate[b]) for b in ("value", "ci_low", "ci_high"))
        assert estimate["ci_low"] <= estimate["value"] <= estimate["ci_high"]
    json.dumps(result, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(logs(all_propensities_one=True))
def test_a_deterministic_log_evaluated_as_itself_gives_the_mean_reward(
    rows: list[tuple[Any, ...]],
) -> None:
    data = read_rows(rows)
    itself = np.zeros(data.candidates.shape)
    itself[np.arange(data.rows), data.action] = 1.0
    mean = float(np.mean(data.reward))
    assert ips(data, itself)["value"] == pytest.approx(mean, rel=1e-12, abs=1e-12)
    assert snips(data, itself)["value"] == pytest.approx(mean, rel=1e-12, abs=1e-12)
    q = score_log(data, rate_model).reward
    assert dr(data, itself, q)["value"] == pytest.approx(mean, rel=1e-9, abs=1e-9)
    assert replay(data, itself)["value"] == pytest.approx(mean, rel=1e-12, abs=1e-12)


# --- the command line ---------------------------------------------------------------------

runner = CliRunner()


def test_cli_json(tmp_path: Path) -> None:
    path = obd_file(tmp_path / "obd.csv", rows=90)
    result = runner.invoke(
        app, ["evaluate", "logged", "--data", str(path), "--format", "obd", "--policy", "uniform", "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"] == 90 and data["actions"] == 4 and data["policy"] == "uniform"
    for key in ("logged_value", "ips", "snips", "dr", "replay"):
        assert set(data[key]) >= {"value", "ci_low", "ci_high"}
    assert "matched_rows" in data["replay"]
    assert data["ips"] == data["logged_value"]


def test_cli_default_policy_is_adaptive(tmp_path: Path) -> None:
    path = obd_file(tmp_path / "obd.csv", rows=90)
    result = runner.invoke(
        app, ["evaluate", "logged", "--data", str(path), "--format", "obd", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["policy"] == "adaptive" and data["rows"] == 90
    assert data["replay"]["matched_rows"] >= 0


def test_cli_table(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "log.csv", NEXTBEST_HEADER, NEXTBEST_ROWS)
    result = runner.invoke(
        app, ["evaluate", "logged", "--data", str(path), "--policy", "uniform", "--min-propensity", "0.3"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    for text in (
        "3 rows, 2 actions",
        "uniform",
        "clipped at 0.3 (1 rows)",
        "IPS",
        "SNIPS",
        "doubly robust",
        "matched rows",
    ):
        assert text in result.stdout, text


def test_cli_bad_file_exits_1_naming_the_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", NEXTBEST_HEADER[1:5], [("1", "a", "1", "often")])
    result = runner.invoke(app, ["evaluate", "logged", "--data", str(path), "--json"])
    assert result.exit_code == 1
    assert "propensity" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    missing = runner.invoke(app, ["evaluate", "logged", "--data", str(tmp_path / "no.csv")])
    assert missing.exit_code == 1 and "file not found" in missing.stderr
    obd = runner.invoke(app, ["evaluate", "logged", "--data", str(path), "--format", "obd"])
    assert obd.exit_code == 1 and "item_id" in obd.stderr
