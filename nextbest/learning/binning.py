"""Turning raw predictor values into bins, and grouping bins that behave alike.

Two layers, as in Pega's ADM:

* **base bins** — what an `Encoder` maps a raw value to. Numeric predictors are cut at
  quantiles of a streaming t-digest (fastdigest; deterministic, unlike KLL's random
  compaction, so a model learns the same from the same data) into up to `base_bins`
  intervals; symbolic predictors get one base bin per distinct value (up to
  `max_symbols`, then the residual). Index 0 is always MISSING, and for symbolic
  predictors index 1 is RESIDUAL (values never seen, or seen after the symbol space filled).
* **merged bins** — per model, adjacent base bins whose response behaviour does not differ
  are merged (`merge_adjacent`): first every bin with less than `min_share` of the cases
  joins its most similar neighbour, then the most similar adjacent pair is merged while a
  two-proportion test cannot tell them apart at level `granularity` (higher granularity →
  more bins, as in ADM). Pega does not publish its merge test; this one is ours.

An encoder may be shared by many models (the engine's model bank shares one per
configuration, so one customer's values are binned once for all actions).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
from fastdigest import TDigest

NUMERIC = "numeric"
SYMBOLIC = "symbolic"
MISSING = 0
RESIDUAL = 1  # symbolic predictors only
NAN = float("nan")

FloatArray = npt.NDArray[np.float64]


def symbol_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float:
    """A numeric predictor's value, or NaN for missing / not a number."""
    if value is None or isinstance(value, str):
        return NAN
    try:
        f = float(value)
    except (TypeError, ValueError):
        return NAN
    return f if math.isfinite(f) else NAN


def _numbers(column: Any) -> npt.NDArray[np.float64]:
    """A numeric column as floats, NaN where missing or not a number (as `_number`)."""
    array = np.asarray(column)
    if array.dtype.kind in "fiub":
        values = array.astype(np.float64)
    else:
        values = np.fromiter((_number(v) for v in column), dtype=np.float64, count=len(array))
    return np.where(np.isfinite(values), values, np.nan)


def infer_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | str):
        return SYMBOLIC
    if isinstance(value, int | float):
        return NUMERIC
    return SYMBOLIC


class Encoder:
    """Raw values → base bin indices (and the raw codes a model keeps in its reservoir).

    `predictors` maps name → "numeric" | "symbolic"; None infers each predictor's type from
    the first non-missing value it sees while learning (numbers → numeric, else symbolic).
    """

    def __init__(
        self,
        predictors: Mapping[str, str] | None = None,
        *,
        base_bins: int = 20,
        max_symbols: int = 500,
        sketch_k: int = 500,
    ) -> None:
        self.base_bins = base_bins
        self.max_symbols = max_symbols
        self.sketch_k = sketch_k
        self.infer = predictors is None
        self.names: list[str] = []
        self.kinds: list[str] = []
        self.numeric: list[bool] = []
        self.cuts: list[list[float]] = []
        self.symbols: list[dict[str, int]] = []
        self.sketches: list[TDigest | None] = []
        self.pending: list[list[float]] = []  # values for the sketch, row by row
        self.pending_columns: list[list[npt.NDArray[np.float64]]] = []  # … and in columns
        self.version = 0  # bumped whenever a grid changes: models then recount
        self.frozen = False
        self.seen: set[str] = set()
        for name, kind in (predictors or {}).items():
            self.add(name, kind)

    def add(self, name: str, kind: str) -> int:
        if kind not in (NUMERIC, SYMBOLIC):
            raise ValueError(f"predictor `{name}`: type must be numeric or symbolic, not {kind!r}")
        self.names.append(name)
        self.kinds.append(kind)
        self.numeric.append(kind == NUMERIC)
        self.cuts.append([])
        self.symbols.append({})
        self.sketches.append(TDigest(max_centroids=self.sketch_k) if kind == NUMERIC else None)
        self.pending.append([])
        self.pending_columns.append([])
        self.seen.add(name)
        return len(self.names) - 1

    def __len__(self) -> int:
        return len(self.names)

    def size(self, p: int) -> int:
        """Number of base bins of predictor p."""
        return len(self.cuts[p]) + 2 if self.numeric[p] else len(self.symbols[p]) + 2

    def _discover(self, x: Mapping[str, Any]) -> None:
        for name in sorted(x.keys() - self.seen):
            kind = infer_kind(x[name])
            if kind is not None:
                self.add(name, kind)

    def encode(self, x: Mapping[str, Any], *, learn: bool) -> tuple[list[int], list[float]]:
        """Base bins of `x`, and raw codes (number, or symbol id; NaN for missing).

        While learning, new symbols get a base bin and numeric values feed the sketch; when
        predicting, an unseen symbol is RESIDUAL.
        """
        if self.infer and learn and len(x) and not self.seen.issuperset(x.keys()):
            self._discover(x)
        bins: list[int] = []
        raw: list[float] = []
        for p, name in enumerate(self.names):
            v = x.get(name)
            if self.numeric[p]:
                f = _number(v)
                if f != f:
                    bins.append(MISSING)
                    raw.append(NAN)
                else:
                    bins.append(1 + bisect_right(self.cuts[p], f))
                    raw.append(f)
                    if learn and not self.frozen:
                        self.pending[p].append(f)
            elif v is None:
                bins.append(MISSING)
                raw.append(NAN)
            else:
                code = self._code(p, v, learn=learn)
                bins.append(code)
                raw.append(float(code))
        return bins, raw

    def encode_columns(
        self, X: Mapping[str, Any], n: int, *, learn: bool
    ) -> npt.NDArray[np.float64]:
        """Raw codes for n rows of columns, shape (n, predictors); NaN for missing."""
        if self.infer and learn:
            for name in sorted(X.keys() - self.seen):
                column = X[name]
                kind = next((infer_kind(v) for v in column if infer_kind(v) is not None), None)
                if kind is not None:
                    self.add(name, kind)
        out = np.full((n, len(self.names)), np.nan)
        for p, name in enumerate(self.names):
            if name not in X:
                continue
            column = X[name]
            if self.numeric[p]:
                values = _numbers(column)
                out[:, p] = values
                if learn and not self.frozen:
                    # the sketch takes values only at `regrid`, in the order they came:
                    # row by row or in columns, a model then cuts at the same points
                    self.flush_rows(p)
                    self.pending_columns[p].append(values[~np.isnan(values)])
            else:
                out[:, p] = self._symbol_codes(p, column, learn=learn)
        return out

    def _code(self, p: int, value: Any, *, learn: bool) -> int:
        """A symbol's base bin: new symbols get one while learning (until the space is full),
        otherwise they are RESIDUAL."""
        table = self.symbols[p]
        key = value if isinstance(value, str) else symbol_of(value)
        code = table.get(key)
        if code is None:
            if learn and len(table) < self.max_symbols:
                code = table[key] = len(table) + 2
            else:
                code = RESIDUAL
        return code

    def _symbol_codes(self, p: int, column: Any, *, learn: bool) -> npt.NDArray[np.float64]:
        table = self.symbols[p]
        # the common case in one pass (text already known; -1 otherwise); the rest in order
        # of appearance, so new symbols get the codes a row-by-row learner would give them
        try:
            codes = np.fromiter(
                map(table.get, column, repeat(-1.0)), dtype=np.float64, count=len(column)
            )
        except TypeError:  # an unhashable value: its text is looked up below
            codes = np.full(len(column), -1.0)
        for i in np.flatnonzero(codes < 0):
            v = column[i]
            if v is None or (isinstance(v, float) and v != v):
                codes[i] = np.nan
            else:
                codes[i] = self._code(p, v, learn=learn)
        return codes

    def bins_of(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Base bins for raw codes (n, predictors), vectorised."""
        out = np.zeros(raw.shape, dtype=np.int64)
        for p in range(len(self.names)):
            column = raw[:, p]
            missing = np.isnan(column)
            if self.numeric[p]:
                b = 1 + np.searchsorted(np.asarray(self.cuts[p]), column, side="right")
            else:
                b = np.where(missing, 0, column).astype(np.int64)
            out[:, p] = np.where(missing, MISSING, b)
        return out

    def flush_rows(self, p: int) -> None:
        """Move predictor p's row-by-row values behind its column chunks (order kept)."""
        if self.pending[p]:
            self.pending_columns[p].append(np.asarray(self.pending[p], dtype=np.float64))
            self.pending[p].clear()

    def flush(self) -> None:
        """Feed the sketches every value since the last flush, in arrival order, in one
        call each: however the values arrived, a sketch sees the same sequence."""
        for p, sketch in enumerate(self.sketches):
            self.flush_rows(p)
            chunks = self.pending_columns[p]
            if chunks and sketch is not None:
                values = np.concatenate(chunks)
                if len(values):
                    sketch.batch_update(values)  # type: ignore[arg-type]  # any float buffer
            chunks.clear()

    def regrid(self) -> bool:
        """Re-cut numeric predictors at the sketch's quantiles; True if a grid changed."""
        if self.frozen:
            return False
        self.flush()
        changed = False
        levels = [i / self.base_bins for i in range(1, self.base_bins)]
        for p, sketch in enumerate(self.sketches):
            if sketch is None or sketch.is_empty():
                continue
            quantiles = [sketch.quantile(q) for q in levels]
            lo, hi = sketch.min(), sketch.max()
            # cut strictly inside the observed range, at a few significant digits
            cuts = sorted({_round(q) for q in quantiles if lo < q <= hi})
            cuts = [c for c in cuts if lo < c]
            if cuts != self.cuts[p]:
                self.cuts[p] = cuts
                changed = True
        if changed:
            self.version += 1
        return changed

    def observed_range(self, p: int) -> tuple[float, float] | None:
        sketch = self.sketches[p]
        if sketch is None:
            return None
        self.flush()
        if sketch.is_empty():
            return None
        return float(sketch.min()), float(sketch.max())

    def symbol_names(self, p: int) -> dict[int, str]:
        return {code: name for name, code in self.symbols[p].items()}

    def to_state(self) -> dict[str, Any]:
        self.flush()
        return {
            "predictors": dict(zip(self.names, self.kinds, strict=True)),
            "infer": self.infer,
            "base_bins": self.base_bins,
            "max_symbols": self.max_symbols,
            "sketch_k": self.sketch_k,
            "cuts": self.cuts,
            "symbols": self.symbols,
            "sketches": [s.to_dict() if s is not None else None for s in self.sketches],
            "version": self.version,
            "frozen": self.frozen,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Encoder:
        enc = cls(
            dict(state["predictors"]),
            base_bins=int(state["base_bins"]),
            max_symbols=int(state["max_symbols"]),
            sketch_k=int(state["sketch_k"]),
        )
        enc.infer = bool(state["infer"])
        enc.cuts = [[float(c) for c in cuts] for cuts in state["cuts"]]
        enc.symbols = [{str(k): int(v) for k, v in table.items()} for table in state["symbols"]]
        enc.sketches = [TDigest.from_dict(s) if s is not None else None for s in state["sketches"]]
        enc.version = int(state["version"])
        enc.frozen = bool(state["frozen"])
        return enc


def _round(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return float(value)
    digits = 4 - math.floor(math.log10(abs(value)))
    return round(float(value), max(digits, 0))


def _similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """p-value of a two-proportion z test between two bins' success rates (1 = alike)."""
    n1, n2 = a[0] + a[1], b[0] + b[1]
    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = (a[0] + b[0]) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    z = abs(a[0] / n1 - b[0] / n2) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2))


def merge_adjacent(
    positives: Sequence[float],
    negatives: Sequence[float],
    *,
    min_share: float,
    granularity: float,
) -> list[list[int]]:
    """Groups of contiguous atoms (indices into the inputs, kept in order)."""
    groups = [[i] for i in range(len(positives))]
    stats = [[float(p), float(q)] for p, q in zip(positives, negatives, strict=True)]
    total = sum(p + q for p, q in stats)

    def merge(i: int) -> None:  # group i with group i + 1
        groups[i : i + 2] = [groups[i] + groups[i + 1]]
        a, b = stats[i], stats[i + 1]
        stats[i : i + 2] = [[a[0] + b[0], a[1] + b[1]]]

    # 1. every group reaches the minimum share of cases (empty ones included)
    while len(groups) > 1:
        sizes = [p + q for p, q in stats]
        smallest = min(range(len(groups)), key=lambda i: (sizes[i], i))
        if total > 0 and sizes[smallest] >= min_share * total:
            break
        if smallest == 0:
            merge(0)
        elif smallest == len(groups) - 1:
            merge(smallest - 1)
        else:
            left = _similarity(stats[smallest - 1], stats[smallest])
            right = _similarity(stats[smallest], stats[smallest + 1])
            merge(smallest - 1 if left >= right else smallest)
    # 2. then the most alike neighbours, while a test cannot tell them apart
    scores = [_similarity(stats[i], stats[i + 1]) for i in range(len(groups) - 1)]
    while scores:
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        if scores[best] <= granularity:
            break
        merge(best)
        del scores[best]
        if best > 0:
            scores[best - 1] = _similarity(stats[best - 1], stats[best])
        if best < len(scores):
            scores[best] = _similarity(stats[best], stats[best + 1])
    return groups
