"""Prequential evaluation: the metrics, the pass, the errors and the command."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.errors import RequestError
from nextbest.evaluation.prequential import infer_predictors, prequential, read_table
from nextbest.learning.metrics import auc, log_loss


def naive_auc(y: list[bool], scores: list[float]) -> float:
    """Every positive × negative pair: 1 if the positive scores higher, ½ on a tie."""
    positives = [s for s, label in zip(scores, y, strict=True) if label]
    negatives = [s for s, label in zip(scores, y, strict=True) if not label]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


class CountingModel:
    """A stand-in self-learning model: naive Bayes over (predictor, bin) counts with a
    prior of one per class; numbers are binned by rounding, text is its own bin."""

    def __init__(self, predictors: Mapping[str, str]) -> None:
        self.predictors = dict(predictors)
        self.counts: defaultdict[tuple[str, Any], list[float]] = defaultdict(lambda: [1.0, 1.0])
        self.totals = [1.0, 1.0]
        self.seen: list[tuple[dict[str, Any], float]] = []

    def _bins(self, x: Mapping[str, Any]) -> list[tuple[str, Any]]:
        return [
            (name, round(x[name]) if kind == "numeric" and x[name] is not None else x[name])
            for name, kind in self.predictors.items()
        ]

    def predict_one(self, x: Mapping[str, Any]) -> float:
        logit = math.log(self.totals[1] / self.totals[0])
        for key in self._bins(x):
            neg, pos = self.counts[key]
            logit += math.log((pos / self.totals[1]) / (neg / self.totals[0]))
        p = 1.0 / (1.0 + math.exp(-logit))
        self.seen.append((dict(x), p))
        return p

    def learn_one(self, x: Mapping[str, Any], y: bool, *, weight: float = 1.0) -> None:
        for key in self._bins(x):
            self.counts[key][int(y)] += weight
        self.totals[int(y)] += weight


def synthetic(n: int = 2000, seed: int = 3) -> pl.DataFrame:
    """A response driven by a number and a category, beside noise and two id columns."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    logit = 1.5 * signal + np.where(colour == "red", 1.0, -0.5) - 1.0
    response = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return pl.DataFrame(
        {
            "rownames": np.arange(1, n + 1),
            "customer": rng.permutation(n) * 7 + 100_000,
            "signal": signal,
            "colour": colour,
            "noise": rng.normal(size=n),
            "flag": rng.integers(0, 2, size=n),
            "response": response,
        }
    )


# --- metrics ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 6) | st.floats(0, 1)), min_size=2, max_size=60
    ).filter(lambda pairs: 0 < sum(label for label, _ in pairs) < len(pairs))
)
def test_auc_is_the_pairwise_count_with_ties_as_half(pairs: list[tuple[bool, float]]) -> None:
    y = [label for label, _ in pairs]
    scores = [float(score) for _, score in pairs]
    assert auc(y, scores) == pytest.approx(naive_auc(y, scores), abs=1e-12)


def test_auc_extremes() -> None:
    assert auc([False, False, True, True], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([True, True, False, False], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert auc([True, False, True, False], [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_log_loss_is_the_mean_negative_log_likelihood() -> None:
    y = [True, False, True]
    p = [0.8, 0.3, 0.5]
    expected = -(math.log(0.8) + math.log(0.7) + math.log(0.5)) / 3
    assert log_loss(y, p) == pytest.approx(expected)
    # a certain mistake is clipped, not infinite
    assert log_loss([True], [0.0]) == pytest.approx(-math.log(1e-15))


# --- predictors ---------------------------------------------------------------------------


def test_infer_predictors_types_and_skips_ids_and_target() -> None:
    frame = synthetic(100).with_columns(
        pl.Series("empty", [None] * 100, dtype=pl.Float64),
        pl.Series("code", [f"K{i}" for i in range(100)]),
    )
    assert infer_predictors(frame, "response") == {
        "signal": "numeric",
        "colour": "symbolic",
        "noise": "numeric",
        "flag": "symbolic",  # a 0/1 number is a flag
    }


def test_few_rows_are_no_evidence_of_an_id() -> None:
    frame = pl.DataFrame({"age": [31, 45, 52], "y": [True, False, True]})
    assert infer_predictors(frame, "y") == {"age": "numeric"}


# --- the pass -----------------------------------------------------------------------------


def test_prequential_learns_the_signal_and_its_metrics_are_the_direct_ones() -> None:
    frame = synthetic()
    models: list[CountingModel] = []

    def factory(predictors: Mapping[str, str]) -> CountingModel:
        models.append(CountingModel(predictors))
        return models[-1]

    result = prequential(frame, "response", None, factory)  # type: ignore[arg-type]
    assert set(result) >= {
        "rows",
        "positives",
        "auc",
        "auc_last_30pct",
        "log_loss",
        "log_loss_last_30pct",
        "rows_per_s",
        "predictors",
    }
    assert result["rows"] == 2000 and result["positive"] is True
    assert result["positives"] == int(frame["response"].sum())
    assert result["predictors"] == infer_predictors(frame, "response")
    assert result["auc"] > 0.75 and result["auc_last_30pct"] > 0.75
    assert result["rows_per_s"] > 0

    # the predictions were made in row order, each before its row was learned
    (model,) = models
    scores = [p for _, p in model.seen]
    assert [x["colour"] for x, _ in model.seen] == frame["colour"].to_list()
    assert model.seen[0][1] == 0.5
    y = frame["response"].to_list()
    assert result["auc"] == pytest.approx(naive_auc(y, scores))
    last = 2000 - 600
    assert result["auc_last_30pct"] == pytest.approx(naive_auc(y[last:], scores[last:]))
    direct = -np.mean(
        [math.log(p if t else 1 - p) for t, p in zip(y[last:], scores[last:], strict=True)]
    )
    assert result["log_loss_last_30pct"] == pytest.approx(direct)


def test_symbolic_values_reach_the_model_as_text_and_nan_as_missing() -> None:
    frame = pl.DataFrame(
        {"flag": [0, 1, None, 1], "amount": [1.5, float("nan"), 2.0, 3.0], "y": [1, 0, 1, 0]}
    )
    models: list[CountingModel] = []

    def factory(predictors: Mapping[str, str]) -> CountingModel:
        models.append(CountingModel(predictors))
        return models[-1]

    result = prequential(frame, "y", None, factory)  # type: ignore[arg-type]
    assert result["positive"] == 1
    assert [x for x, _ in models[0].seen] == [
        {"flag": "0", "amount": 1.5},
        {"flag": "1", "amount": None},
        {"flag": None, "amount": 2.0},
        {"flag": "1", "amount": 3.0},
    ]


def test_positive_defaults_to_the_rarer_text_value_and_can_be_named() -> None:
    frame = pl.DataFrame({"x": ["a", "b", "a", "b", "a"], "churn": ["no", "no", "yes", "no", "no"]})
    assert prequential(frame, "churn", None, CountingModel)["positive"] == "yes"  # type: ignore[arg-type]
    named = prequential(frame, "churn", "no", CountingModel)  # type: ignore[arg-type]
    assert named["positive"] == "no" and named["positives"] == 4
    assert prequential(frame, "churn", "YES", CountingModel)["positive"] == "yes"  # type: ignore[arg-type]
    cased = pl.DataFrame({"x": ["a", "b", "c"], "count": ["Yes", "yes", "yes"]})
    assert prequential(cased, "count", "yes", CountingModel)["positives"] == 2  # type: ignore[arg-type]
    numbers = pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 1.0]})
    assert prequential(numbers, "y", "1", CountingModel)["positives"] == 2  # type: ignore[arg-type]


def test_auc_of_a_window_with_one_class_is_undefined() -> None:
    frame = pl.DataFrame({"x": ["a", "b"] * 5, "y": [True, False] * 3 + [False] * 4})
    result = prequential(frame, "y", None, CountingModel)  # type: ignore[arg-type]
    assert result["auc"] is not None and result["auc_last_30pct"] is None


def test_rows_without_a_target_are_skipped() -> None:
    frame = pl.DataFrame({"x": ["a", "b", "a", "b"], "y": [True, None, False, True]})
    result = prequential(frame, "y", None, CountingModel)  # type: ignore[arg-type]
    assert result["rows"] == 3 and result["rows_skipped"] == 1


# --- errors -------------------------------------------------------------------------------


def test_a_missing_target_column_is_named() -> None:
    with pytest.raises(RequestError, match="no column `nope`") as caught:
        prequential(synthetic(50), "nope", None, CountingModel)  # type: ignore[arg-type]
    assert caught.value.field == "--target"


@pytest.mark.parametrize("values", [["a", "b", "c", "a"], ["a", "a", "a", "a"]])
def test_a_target_that_is_not_binary_is_named(values: list[str]) -> None:
    frame = pl.DataFrame({"x": [1, 2, 3, 4], "grade": values})
    with pytest.raises(
        RequestError, match=r"column `grade` has .* needs a binary target"
    ) as caught:
        prequential(frame, "grade", None, CountingModel)  # type: ignore[arg-type]
    assert caught.value.field == "--target"


def test_a_positive_value_the_target_lacks_is_named() -> None:
    with pytest.raises(RequestError, match="`maybe` is not one of") as caught:
        prequential(synthetic(50), "response", "maybe", CountingModel)  # type: ignore[arg-type]
    assert caught.value.field == "--positive"


def test_read_table_reads_csv_and_parquet_and_names_what_is_wrong(tmp_path: Path) -> None:
    frame = synthetic(30)
    frame.write_csv(tmp_path / "data.csv")
    frame.write_parquet(tmp_path / "data.parquet")
    assert read_table(tmp_path / "data.csv", required=["response"]).equals(frame)
    assert read_table(tmp_path / "data.parquet").equals(frame)
    (tmp_path / "na.csv").write_text("a,y\n1.5,yes\nNA,no\n")
    assert read_table(tmp_path / "na.csv")["a"].to_list() == [1.5, None]

    with pytest.raises(RequestError, match=r"missing\.csv: file not found"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(RequestError, match="no column `churn`") as caught:
        read_table(tmp_path / "data.csv", required=["churn"])
    assert caught.value.field == "--data"
    (tmp_path / "bad.parquet").write_text("not, parquet\n")
    with pytest.raises(RequestError, match=r"bad\.parquet: cannot read as Parquet"):
        read_table(tmp_path / "bad.parquet")


# --- the command --------------------------------------------------------------------------

runner = CliRunner()


def evaluate(*args: str) -> Any:
    return runner.invoke(app, ["evaluate", "prequential", *args])


def test_command_prints_the_metrics_as_json(tmp_path: Path) -> None:
    synthetic(400).write_csv(tmp_path / "data.csv")
    result = evaluate(
        "--data", str(tmp_path / "data.csv"), "--target", "response", "--mode", "improved", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 400 and report["mode"] == "improved" and report["positive"] is True
    assert 0.5 < report["auc"] <= 1.0 and report["log_loss_last_30pct"] > 0
    assert set(report["predictors"]) == {"signal", "colour", "noise", "flag"}


def test_command_prints_a_summary(tmp_path: Path) -> None:
    synthetic(200).write_csv(tmp_path / "data.csv")
    result = evaluate("--data", str(tmp_path / "data.csv"), "--target", "response")
    assert result.exit_code == 0, result.stderr
    assert "200 rows" in result.stdout and "AUC" in result.stdout


def test_command_names_a_bad_target_a_bad_file_and_a_bad_mode(tmp_path: Path) -> None:
    synthetic(50).write_csv(tmp_path / "data.csv")
    result = evaluate("--data", str(tmp_path / "data.csv"), "--target", "nope")
    assert result.exit_code == 1 and "`nope`" in result.stderr
    result = evaluate("--data", str(tmp_path / "x.csv"), "--target", "y")
    assert result.exit_code == 1 and "x.csv: file not found" in result.stderr
    result = evaluate("--data", str(tmp_path / "data.csv"), "--target", "response", "--mode", "x")
    assert result.exit_code == 2 and "--mode" in result.stderr
