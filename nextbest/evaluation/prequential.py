"""Prequential (test-then-train) evaluation of a self-learning model over a table.

One pass over the rows in their stored order: each row is first scored by the model as it
stands (`predict_one`), then learned from (`learn_one`). Every prediction is therefore made
on a row the model has never seen, as in production, and the score over the last rows
shows how good the model is once it has learned from the earlier ones.

Pure functions: `read_table` (CSV or Parquet → polars), `infer_predictors` (predictor
types from the data), `model_rows` (rows as a model's `x`) and `prequential` (the pass and
its metrics: exact AUC and log loss from `nextbest.learning.metrics`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from nextbest.errors import RequestError
from nextbest.learning import metrics
from nextbest.learning.adm import AdmModel
from nextbest.learning.base import Model

ModelFactory = Callable[[Mapping[str, str]], Model]

# column names that are row numbers or keys, never predictors ("" is the header pandas and
# R write for an unnamed index)
ID_NAMES = frozenset({"", "rownames", "id"})
# below this many rows, all-distinct values are no evidence of an id column
MIN_ROWS_FOR_ID = 20
# CSV cells read as missing; "NA" is how R writes a missing value
NULL_VALUES = ["", "NA", "N/A", "NaN", "null", "NULL"]


def read_table(path: str | Path, required: Sequence[str] = ()) -> pl.DataFrame:
    """Read a CSV file (Parquet if the name ends in .parquet or .pq) into a frame.

    CSV types are inferred from the whole file; the cells in `NULL_VALUES` are missing.
    Raises `RequestError("--data", …)` naming the file if it cannot be read, and naming
    the column if one of `required` is absent."""
    path = Path(path)
    if not path.is_file():
        raise RequestError("--data", f"{path}: file not found")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        if parquet:
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(path, infer_schema_length=None, null_values=NULL_VALUES)
    except (pl.exceptions.PolarsError, OSError) as exc:
        kind = "Parquet" if parquet else "CSV"
        raise RequestError("--data", f"{path}: cannot read as {kind}: {exc}") from None
    for column in required:
        if column not in frame.columns:
            raise RequestError(
                "--data", f"{path}: no column `{column}` (columns: {', '.join(frame.columns)})"
            )
    return frame


def infer_predictors(frame: pl.DataFrame, target: str | None = None) -> dict[str, str]:
    """Predictor name → "numeric" or "symbolic", in column order, from the data.

    * numeric dtypes are "numeric", except a column with at most two distinct values (a
      0/1 flag or a constant): that is "symbolic", each value its own bin, because cutting
      two values into intervals adds nothing and a missing flag is then a third state;
    * booleans and text are "symbolic";
    * skipped: the `target`; ids — a column named `rownames` or `id` (any case), or, with
      at least 20 rows, an integer or text column whose values are all distinct (a value
      never seen twice cannot be learned from); columns with no value at all; nested types
      (lists, structs), which are not one predictor value.
    """
    predictors: dict[str, str] = {}
    for name, dtype in frame.schema.items():
        if name == target or name.lower() in ID_NAMES or dtype.is_nested():
            continue
        values = frame[name].drop_nulls()
        if values.is_empty():
            continue
        distinct = values.n_unique()
        all_distinct = frame.height >= MIN_ROWS_FOR_ID and distinct == frame.height
        if dtype.is_numeric():
            if all_distinct and dtype.is_integer():
                continue
            predictors[name] = "symbolic" if distinct <= 2 else "numeric"
        elif not all_distinct:
            predictors[name] = "symbolic"
    return predictors


def _auc(y: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> float | None:
    """Exact AUC, or None (not 0.5) when the rows hold one class only: undefined, not chance."""
    return metrics.auc(y, scores) if 0 < y.sum() < y.size else None


def model_rows(frame: pl.DataFrame, predictors: Mapping[str, str]) -> list[dict[str, Any]]:
    """The rows of `frame` as a model's `x`: the predictors only, symbolic values as text
    (a 0/1 flag as "0"/"1"), NaN as missing (None)."""
    if not predictors:
        return [{} for _ in range(frame.height)]
    return frame.select(
        pl.col(name).cast(pl.String)
        if kind == "symbolic"
        else (pl.col(name).fill_nan(None) if frame.schema[name].is_float() else pl.col(name))
        for name, kind in predictors.items()
    ).rows(named=True)


def _loosely_matches(value: Any, wanted: object) -> bool:
    """Whether a target value is the one asked for in other words: the same text in another
    case ("Yes", "true" for True), or the same number ("1" for 1.0)."""
    text = str(wanted)
    if str(value).lower() == text.lower():
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(text) == value
        except ValueError:
            return False
    return False


def _positive_value(labels: pl.Series, positive: object) -> Any:
    """The target value that counts as positive (see `prequential`)."""
    counts = labels.alias("value").value_counts(sort=False, name="count")
    values = counts["value"].to_list()
    if positive is not None:
        # the value itself or its exact text first; "yes" must not also match a "Yes"
        found = [v for v in values if v == positive or str(v) == str(positive)]
        found = found or [v for v in values if _loosely_matches(v, positive)]
        if len(found) != 1:
            shown = ", ".join(repr(v) for v in sorted(values, key=str))
            raise RequestError(
                "--positive", f"`{positive}` is not one of the target's values ({shown})"
            )
        return found[0]
    if labels.dtype == pl.Boolean:
        return True
    if labels.dtype.is_numeric() and set(values) == {0, 1}:
        return 1
    # the rarer value, as a response is rarer than its absence; a tie goes to the value
    # that sorts last (as "yes" after "no"), so the choice never depends on row order
    frequency = dict(zip(values, counts["count"].to_list(), strict=True))
    return min(sorted(values, key=str, reverse=True), key=lambda v: frequency[v])


def _default_factory(predictors: Mapping[str, str]) -> Model:
    return AdmModel(predictors, mode="adm")


def prequential(
    frame: pl.DataFrame,
    target: str,
    positive: object = None,
    model_factory: ModelFactory | None = None,
    last_share: float = 0.3,
) -> dict[str, Any]:
    """Test-then-train over `frame` in row order; the metrics of the predictions.

    `target` must have exactly two distinct values (rows where it is missing are skipped
    and counted in `rows_skipped`). `positive` is the value that counts as a positive
    response, given as the value or its text; by default True for a boolean target, 1 for
    a 0/1 target, and otherwise the less frequent of the two values (on a tie, the one that
    sorts last as text). `model_factory` gets the predictors `infer_predictors` found and
    returns a fresh model (default: `AdmModel(predictors, mode="adm")`).

    Returns `rows`, `rows_skipped`, `target`, `positive`, `positives`, `auc` and
    `log_loss` over every prediction, `auc_last_30pct` and `log_loss_last_30pct` over the
    last `last_share` of the rows (named for the default 0.3; `last_share` is reported),
    `rows_per_s` (predict + learn, the model's time only) and `predictors`. A metric that
    is undefined (AUC of rows of one class) is None. Probabilities are clipped to
    [1e-15, 1 − 1e-15] for the log loss, so one certain mistake costs a lot, not infinity."""
    if not 0.0 < last_share <= 1.0:
        raise ValueError(f"last_share must be in (0, 1], not {last_share}")
    if target not in frame.columns:
        raise RequestError(
            "--target", f"no column `{target}` in the data (columns: {', '.join(frame.columns)})"
        )
    labelled = frame.filter(pl.col(target).is_not_null())
    labels = labelled[target]
    distinct = labels.unique(maintain_order=True).to_list()
    if len(distinct) != 2:
        shown = ", ".join(repr(v) for v in distinct[:10]) + (", …" if len(distinct) > 10 else "")
        raise RequestError(
            "--target",
            f"column `{target}` has {len(distinct)} distinct value(s) ({shown}); "
            "prequential evaluation needs a binary target",
        )
    positive_value = _positive_value(labels, positive)
    y = (labels == positive_value).to_numpy().astype(bool)

    predictors = infer_predictors(labelled, target)
    rows = model_rows(labelled, predictors)
    outcomes = y.tolist()
    model = (model_factory or _default_factory)(predictors)
    scores = np.empty(len(rows))
    start = time.perf_counter()
    for i, (x, outcome) in enumerate(zip(rows, outcomes, strict=True)):
        scores[i] = model.predict_one(x)
        model.learn_one(x, outcome)
    elapsed = time.perf_counter() - start

    last = len(rows) - math.ceil(len(rows) * last_share)
    return {
        "rows": len(rows),
        "rows_skipped": frame.height - labelled.height,
        "target": target,
        "positive": positive_value,
        "positives": int(y.sum()),
        "auc": _auc(y, scores),
        "auc_last_30pct": _auc(y[last:], scores[last:]),
        "log_loss": metrics.log_loss(y, scores),
        "log_loss_last_30pct": metrics.log_loss(y[last:], scores[last:]),
        "last_share": last_share,
        "rows_per_s": len(rows) / elapsed if elapsed > 0 else None,
        "predictors": predictors,
    }
