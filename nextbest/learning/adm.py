"""The ADM-class propensity model: binned naive Bayes with monotone calibration.

How a model scores a customer (mode "adm", Pega's documented formulas, see
docs/learning.md and pdstools `ADMExplained`):

1. each predictor's value falls into one of its merged bins (see `binning`);
2. the bin contributes its log odds with 1/nBins Laplace smoothing,
   c_p = ln(pos_i + 1/n) − ln(Σpos + 1) − [ln(neg_i + 1/n) − ln(Σneg + 1)];
3. the score averages the active predictors' contributions with the prior,
   score = [ln(1 + TotalPos) − ln(1 + TotalNeg) + Σ c_p] / (1 + nActive);
4. the score falls into one of the classifier's bins — score intervals made monotone by
   pool-adjacent-violators — whose counts give propensity = (0.5 + pos) / (1 + pos + neg).

Mode "improved" keeps the bins and counts but (a) smooths each bin towards the base rate
instead of by 1/nBins (an empty bin then says nothing, rather than "very positive"), and
(b) replaces the average by a weighted sum whose weights (and intercept) are fitted by
ridge logistic regression on the recent responses — so correlated predictors are not
counted twice and the output is a calibrated propensity σ(score).

Learning (`learn_one`) only counts: the touched base and merged bin of every predictor,
the totals, and a ring buffer ("reservoir") of the most recent responses' raw values. Every
so often (after 10, 20, 40, … responses, then every `update_every`), an *analysis* re-cuts
numeric grids from the quantile sketch, merges bins, selects predictors (univariate AUC ≥
`performance_threshold`, best of each correlated group), rebuilds the classifier from the
reservoir's scores, and applies forgetting (`half_life`).
"""

from __future__ import annotations

import base64
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from operator import itemgetter
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from nextbest.learning.base import BoolArray, Columns, Features, FloatArray
from nextbest.learning.binning import MISSING, NUMERIC, RESIDUAL, Encoder, merge_adjacent
from nextbest.learning.metrics import auc_from_bincounts, merge_small_blocks, pav
from nextbest.learning.report import Bin, ModelBinning, PredictorBinning

MODES = ("adm", "improved")
#: mode → (min_share, granularity) defaults
MODE_BINNING = {"adm": (0.05, 0.25), "improved": (0.03, 0.5)}
#: learn_one applies its queue once it holds this many responses
QUEUE = 1024
#: at most this many score groups enter the classifier's PAV
CLASSIFIER_ATOMS = 200
#: improved mode fits weights once the reservoir holds this many of each class
MIN_FIT_CASES = 10
#: the fewest reservoir responses a classifier bin may hold
CLASSIFIER_MIN_CASES = 20
#: a queue shorter than this is learned row by row (numpy's overhead would dominate)
SCALAR_BELOW = 16


@dataclass(frozen=True, slots=True)
class AdmSettings:
    mode: str = "adm"  # adm: Pega's formulas; improved: base-rate smoothing + fitted weights
    base_bins: int = 20  # numeric base grid: quantile intervals before merging
    # ADM's "grouping minimum cases" (least share of cases per bin) and "grouping
    # granularity" (higher → more bins); None: the mode's default — ADM's 0.05 and 0.25 for
    # mode "adm", finer bins (0.03, 0.5) for "improved", whose fitted weights and base-rate
    # smoothing temper a noisy bin (chosen on the two benchmark datasets, see learning.md)
    min_share: float | None = None
    granularity: float | None = None
    performance_threshold: float = 0.52  # activate predictors with a univariate AUC above
    correlation_threshold: float = 0.8  # |correlation| that puts predictors in one group
    max_symbols: int = 500
    reservoir: int = 5000  # recent responses kept for calibration, weights and correlation
    update_every: int = 1000  # analysis cadence once past the warm-up doublings
    half_life: float | None = None  # forgetting, in responses (None: never forget)
    ridge: float = 1.0  # L2 penalty of the improved mode's weight fit
    min_positives: float = 0.0  # no predictor is active before this many positives

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        share, granularity = MODE_BINNING[self.mode]
        if self.min_share is None:
            object.__setattr__(self, "min_share", share)
        if self.granularity is None:
            object.__setattr__(self, "granularity", granularity)

    @property
    def share(self) -> float:
        assert self.min_share is not None
        return self.min_share

    @property
    def grain(self) -> float:
        assert self.granularity is not None
        return self.granularity


def interval_symbol(lo: float | None, hi: float | None, spec: str) -> str:
    """Pega's bin symbols: `<54.04`, `[54.04, 82.2>`, `>=111.32` (`ALL` when unbounded)."""
    if lo is None and hi is None:
        return "ALL"
    if lo is None:
        return f"<{hi:{spec}}"
    if hi is None:
        return f">={lo:{spec}}"
    return f"[{lo:{spec}}, {hi:{spec}}>"


def _columns(rows: Sequence[Features], names: Sequence[str]) -> dict[str, Sequence[Any]]:
    """Rows (mappings) as columns of `names`, None where a row lacks one.

    A C-level pass per name; no tuple per row, whose allocations would set off the
    garbage collector amid a thousand queued rows."""
    try:
        return {name: list(map(itemgetter(name), rows)) for name in names}
    except KeyError:  # some row lacks a name: value by value
        return {name: [x.get(name) for x in rows] for name in names}


class AdmModel:
    """One ADM-class model (say, one action on one channel)."""

    def __init__(
        self,
        predictors: Mapping[str, str] | None = None,
        *,
        encoder: Encoder | None = None,
        **settings: Any,
    ) -> None:
        self.settings = AdmSettings(**settings)
        s = self.settings
        self.shared = encoder is not None
        self.encoder = encoder or Encoder(
            predictors, base_bins=s.base_bins, max_symbols=s.max_symbols
        )
        self.pos: list[list[float]] = []  # per predictor, per base bin
        self.neg: list[list[float]] = []
        self.group_of: list[list[int]] = []  # per predictor: base bin → merged bin
        self.mpos: list[list[float]] = []  # per predictor, per merged bin
        self.mneg: list[list[float]] = []
        self.total_pos = 0.0
        self.total_neg = 0.0
        self.responses = 0  # learn calls (not decayed)
        self.next_analysis = 10
        self.decayed_at = 0
        self.grid_version = -1
        self.performance: list[float] = []
        self.group_index: list[int] = []
        self.active: list[int] = []
        self.weights: list[float] = []  # improved mode: per predictor
        self.intercept = 0.0
        # what scoring uses: each active predictor's weighted contribution per merged bin and
        # the score's offset, frozen at the last analysis — as a deployed ADM model scores
        # with its last update while the counts go on growing (so the score scale and the
        # classifier's cut points stay consistent between analyses)
        self.tables: dict[int, list[float]] = {}
        self.base = 0.0
        self.analysed_scores = np.zeros(0)
        self.class_cuts: list[float] = []  # classifier: score cut points
        self.class_pos: list[float] = [0.0]
        self.class_neg: list[float] = [0.0]
        self.res = np.full((s.reservoir, 0), np.nan, dtype=np.float64)
        self.res_y = np.zeros(s.reservoir, dtype=bool)
        self.res_w = np.zeros(s.reservoir, dtype=np.float64)
        self.res_next = 0
        self.res_filled = 0
        self._queue: list[tuple[Features, bool, float]] = []
        # the reservoir rows' base bins, kept as they are learned (one column per predictor,
        # contiguous), valid for the encoder version in `res_grid` (None: to be recomputed)
        self.res_bins = np.zeros((s.reservoir, 0), dtype=np.int64, order="F")
        self.res_grid: int | None = self.encoder.version
        self._fitted: dict[tuple[int, ...], FloatArray] = {}  # active predictors → last fit
        self._sync()

    # --- layout ----------------------------------------------------------------------

    def _sync(self) -> None:
        """Grow per-predictor structures to the encoder's predictors and bins."""
        enc = self.encoder
        for p in range(len(self.pos), len(enc)):
            self.pos.append([])
            self.neg.append([])
            self.group_of.append([])
            # merged bins: MISSING + one interval (numeric) or MISSING + RESIDUAL (symbolic)
            self.mpos.append([0.0, 0.0])
            self.mneg.append([0.0, 0.0])
            # a predictor first seen now was missing from every response learned so far
            self.pos[p].append(self.total_pos)
            self.neg[p].append(self.total_neg)
            self.mpos[p][MISSING] = self.total_pos
            self.mneg[p][MISSING] = self.total_neg
            self.performance.append(0.5)
            self.group_index.append(0)
            self.weights.append(0.0)
        for p in range(len(enc)):
            self._grow(p, enc.size(p) - 1)
        if self.res.shape[1] < len(enc):
            pad = np.full((self.res.shape[0], len(enc) - self.res.shape[1]), np.nan)
            self.res = np.hstack((self.res, pad))
        if self.res_bins.shape[1] < len(enc):
            # a predictor first seen now was missing (bin 0) in every reservoir row
            grown = np.zeros((self.res_bins.shape[0], len(enc)), dtype=np.int64, order="F")
            grown[:, : self.res_bins.shape[1]] = self.res_bins
            self.res_bins = grown

    def _grow(self, p: int, b: int) -> None:
        """Make room for base bin b of predictor p (a new symbol, a finer grid)."""
        pos, neg, group = self.pos[p], self.neg[p], self.group_of[p]
        while len(pos) <= b:
            pos.append(0.0)
            neg.append(0.0)
        numeric = self.encoder.numeric[p]
        while len(group) <= b:
            i = len(group)
            if i == MISSING:
                group.append(0)
            elif numeric:
                group.append(len(self.mpos[p]) - 1)  # the last interval until re-merged
            else:
                group.append(RESIDUAL)  # a new symbol stays residual until re-merged

    # --- learning --------------------------------------------------------------------

    def learn_one(self, x: Features, y: bool, *, weight: float = 1.0) -> None:
        """Learn one response. It is queued (up to `QUEUE`) and applied in one vectorised
        step before anything reads the model, or when an analysis is due: the same state
        as learning row by row, at a fraction of the cost per response.

        The queue holds `x` itself: do not change a mapping after passing it (a copy per
        call measured 5–10 % slower)."""
        self._queue.append((x, y, weight))
        if len(self._queue) >= QUEUE or self.responses + len(self._queue) >= self.next_analysis:
            self._flush()

    def _flush(self) -> None:
        if not self._queue:
            return
        rows, self._queue = self._queue, []
        if len(rows) < SCALAR_BELOW:
            for x, y, weight in rows:
                self._learn_scalar(x, y, weight)
            return
        names = (
            sorted({name for x, _, _ in rows for name in x})
            if self.encoder.infer
            else self.encoder.names
        )
        X = _columns([x for x, _, _ in rows], names)
        labels = np.fromiter((r[1] for r in rows), dtype=bool, count=len(rows))
        weights = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
        self._learn_columns(X, labels, weights)

    def _learn_scalar(self, x: Features, y: bool, weight: float) -> None:
        """One response, without numpy: what a prequential loop (learn, predict, …) needs."""
        bins, raw = self.encoder.encode(x, learn=True)
        self.learn_encoded(bins, raw, y, weight)

    def learn_encoded(
        self, bins: Sequence[int], raw: Sequence[float], y: bool, weight: float = 1.0
    ) -> None:
        """One response that the (possibly shared) encoder has already binned."""
        self._flush()
        if len(bins) != len(self.pos) or self.grid_version != self.encoder.version:
            self._sync()
            if self.grid_version != self.encoder.version:
                self._recount()
                self.grid_version = self.encoder.version
        counts = self.pos if y else self.neg
        merged = self.mpos if y else self.mneg
        for p, b in enumerate(bins):
            row = counts[p]
            if b >= len(row):
                self._grow(p, b)
            row[b] += weight
            merged[p][self.group_of[p][b]] += weight
        if y:
            self.total_pos += weight
        else:
            self.total_neg += weight
        i = self.res_next
        self.res[i, : len(raw)] = raw
        if self.res_grid == self.encoder.version:
            self.res_bins[i, : len(bins)] = bins
        self.res_y[i] = y
        self.res_w[i] = weight
        self.res_next = (i + 1) % len(self.res_y)
        self.res_filled = min(self.res_filled + 1, len(self.res_y))
        self._learned(1)

    def learn_many(self, X: Columns, y: Sequence[bool] | BoolArray) -> None:
        self._flush()
        labels = np.asarray(y, dtype=bool)
        self._learn_columns(X, labels, np.ones(len(labels)))

    def _learn_columns(self, X: Columns, y: BoolArray, w: FloatArray) -> None:
        """Learn rows given as columns, analysing wherever the schedule says so."""
        start = 0
        while start < len(y):
            # while the grids settle (the warm-up doublings, then until the reservoir is
            # full) every scheduled analysis happens; after that a batch is learned whole
            # and analysed once (as ADM updates after N responses)
            warm = (
                self.next_analysis <= self.settings.update_every
                or self.responses < self.settings.reservoir
            )
            step = max(self.next_analysis - self.responses, 1) if warm else len(y)
            stop = min(len(y), start + step)
            part = {name: column[start:stop] for name, column in X.items()}
            raw = self.encoder.encode_columns(part, stop - start, learn=True)
            self.learn_raw(raw, y[start:stop], w[start:stop])
            start = stop

    def learn_raw(self, raw: npt.NDArray[np.float64], y: BoolArray, w: FloatArray) -> None:
        """Learn rows of raw codes (see `Encoder.encode`), shape (n, predictors).

        The engine's bank encodes a customer once for all its models and calls this."""
        self._flush()
        self._sync()
        if self.grid_version != self.encoder.version:
            self._recount()
            self.grid_version = self.encoder.version
        n = len(y)
        bins = self.encoder.bins_of(raw)
        label = y.astype(np.int64)
        for p in range(bins.shape[1]):
            column = bins[:, p]
            self._grow(p, int(column.max()))
            size = len(self.pos[p])
            # one pass per predictor: (negatives, positives) per base bin, then per merged bin
            add = np.bincount(column * 2 + label, weights=w, minlength=2 * size).reshape(size, 2)
            group = self.group_of[p]
            for j, counts, merged in ((0, self.neg, self.mneg), (1, self.pos, self.mpos)):
                base = add[:, j]
                madd = np.bincount(group, weights=base, minlength=len(merged[p]))
                counts[p] = (np.asarray(counts[p]) + base).tolist()
                merged[p] = (np.asarray(merged[p]) + madd).tolist()
        self.total_pos += float(w[y].sum())
        self.total_neg += float(w[~y].sum())
        size = len(self.res_y)
        keep = min(n, size)
        slots = (self.res_next + np.arange(keep)) % size
        self.res[slots, : raw.shape[1]] = raw[n - keep :]
        if self.res_grid == self.encoder.version:
            self.res_bins[slots, : bins.shape[1]] = bins[n - keep :]
        self.res_y[slots] = y[n - keep :]
        self.res_w[slots] = w[n - keep :]
        self.res_next = int((self.res_next + keep) % size)
        self.res_filled = min(self.res_filled + keep, size)
        self._learned(n)

    def _learned(self, n: int) -> None:
        self.responses += n
        if not self.class_cuts:
            # one classifier bin (nothing analysed yet): it holds every response
            self.class_pos, self.class_neg = [self.total_pos], [self.total_neg]
        if self.responses >= self.next_analysis:
            self.analyse()

    def decay(self, factor: float) -> None:
        """Forget: scale every count by `factor` (0 < factor ≤ 1)."""
        self._flush()
        if not 0 < factor <= 1:
            raise ValueError("decay factor must be in (0, 1]")
        for table in (self.pos, self.neg, self.mpos, self.mneg):
            for row in table:
                row[:] = [v * factor for v in row]
        self.total_pos *= factor
        self.total_neg *= factor
        self.class_pos = [v * factor for v in self.class_pos]
        self.class_neg = [v * factor for v in self.class_neg]

    # --- analysis: grids, merging, predictor selection, calibration ------------------

    def analyse(self) -> None:
        self._flush()
        s = self.settings
        enc = self.encoder
        if not self.shared and not enc.frozen:
            enc.regrid()
            # grids settle while the reservoir still holds every response (so recounts are
            # exact); after that they stay, and learning skips the sketch
            enc.frozen = self.responses >= s.reservoir
        self._sync()
        if self.grid_version != enc.version:
            self._recount()
            self.grid_version = enc.version
        if s.half_life:
            gone = self.responses - self.decayed_at
            if gone > 0:
                self.decay(0.5 ** (gone / s.half_life))
            self.decayed_at = self.responses
        for p in range(len(enc)):
            self._merge(p)
        self._select()
        self._freeze()
        self._remember_scores()
        self._calibrate()
        self.next_analysis = (
            self.responses * 2
            if self.responses * 2 <= s.update_every
            else self.responses + s.update_every
        )
        if self.responses < s.reservoir:
            # the analysis that finds the reservoir full is the one that settles the grids
            self.next_analysis = min(self.next_analysis, s.reservoir)

    def _reservoir_bins(self) -> npt.NDArray[np.int64]:
        """Base bins of the reservoir rows (read-only): kept while learning, re-binned
        from the raw values only after a grid changed."""
        n = self.res_filled
        if self.res_grid != self.encoder.version:
            self.res_bins[:n] = self.encoder.bins_of(self.res[:n])
            self.res_grid = self.encoder.version
        return self.res_bins[:n]

    def _reservoir(self) -> tuple[BoolArray, FloatArray]:
        """The reservoir rows' labels and weights (read-only)."""
        n = self.res_filled
        return self.res_y[:n], self.res_w[:n]

    def _recount(self) -> None:
        """Numeric grids changed: rebuild their base counts from the reservoir.

        Exact while the reservoir still holds every response; afterwards the recent
        responses' distribution over the new grid, scaled to the model's totals."""
        y, w = self._reservoir()
        if len(y) == 0:
            return
        bins = self._reservoir_bins()
        pos_w, neg_w = float((w * y).sum()), float((w * ~y).sum())
        scale_pos = self.total_pos / pos_w if pos_w else 0.0
        scale_neg = self.total_neg / neg_w if neg_w else 0.0
        for p in range(len(self.encoder)):
            if not self.encoder.numeric[p]:
                continue
            size = self.encoder.size(p)
            self.pos[p] = (
                np.bincount(bins[y, p], weights=w[y], minlength=size) * scale_pos
            ).tolist()
            self.neg[p] = (
                np.bincount(bins[~y, p], weights=w[~y], minlength=size) * scale_neg
            ).tolist()
            self.group_of[p] = []
            self._grow(p, size - 1)

    def _merge(self, p: int) -> None:
        s = self.settings
        pos, neg = self.pos[p], self.neg[p]
        rare: list[int] = []
        if self.encoder.numeric[p]:
            atoms = list(range(1, len(pos)))
            fixed = [MISSING]
        else:
            total = sum(pos) + sum(neg)
            atoms = []
            for b in range(2, len(pos)):
                (atoms if pos[b] + neg[b] >= s.share * total and total > 0 else rare).append(b)
            # symbols are grouped in order of their (smoothed) success rate
            atoms.sort(key=lambda b: ((pos[b] + 0.5) / (pos[b] + neg[b] + 1), b))
            fixed = [MISSING, RESIDUAL]
        groups = (
            merge_adjacent(
                [pos[b] for b in atoms],
                [neg[b] for b in atoms],
                min_share=s.share if self.encoder.numeric[p] else 0.0,
                granularity=s.grain,
            )
            if atoms
            else []
        )
        if self.encoder.numeric[p] and not groups:
            groups = [[]]
        group_of = [0] * len(pos)
        for g, members in enumerate(groups):
            for a in members:
                group_of[atoms[a]] = len(fixed) + g
        if not self.encoder.numeric[p]:
            group_of[RESIDUAL] = RESIDUAL
            for b in rare:
                group_of[b] = RESIDUAL
        n_merged = len(fixed) + len(groups)
        mpos = [0.0] * n_merged
        mneg = [0.0] * n_merged
        for b, g in enumerate(group_of):
            mpos[g] += pos[b]
            mneg[g] += neg[b]
        self.group_of[p] = group_of
        self.mpos[p] = mpos
        self.mneg[p] = mneg
        self.performance[p] = auc_from_bincounts(mpos, mneg)

    def _contributions(self, p: int) -> list[float]:
        """Per merged bin of predictor p: its log odds for this model's mode."""
        values = self._log_odds(
            np.asarray(self.mpos[p]),
            np.asarray(self.mneg[p]),
            self.total_pos,
            self.total_neg,
            len(self.mpos[p]),
        )
        return [float(v) for v in values]

    def _select(self) -> None:
        s = self.settings
        enc = self.encoder
        candidates = [p for p in range(len(enc)) if self.performance[p] >= s.performance_threshold]
        if self.total_pos < s.min_positives:
            # too little evidence to tell a real predictor from luck: the model is a rate
            candidates = []
        self.group_index = [0] * len(enc)
        if s.mode == "improved":
            self.active = candidates
            for g, p in enumerate(sorted(candidates, key=lambda p: enc.names[p])):
                self.group_index[p] = g + 1
            self._fit_weights()
            return
        # best of each correlated group: leaders in order of performance (name breaks ties)
        ranked = sorted(candidates, key=lambda p: (-self.performance[p], enc.names[p]))
        corr = self._correlations(ranked)
        leaders: list[int] = []
        for i, p in enumerate(ranked):
            home = next(
                (
                    j
                    for j, q in enumerate(leaders)
                    if abs(corr[i][ranked.index(q)]) >= s.correlation_threshold
                ),
                None,
            )
            if home is None:
                leaders.append(p)
                self.group_index[p] = len(leaders)
            else:
                self.group_index[p] = home + 1
        self.active = sorted(leaders)
        for p, name in enumerate(enc.names):
            if p not in candidates:
                # inactive for performance: a group of its own, after the others
                self.group_index[p] = len(leaders) + 1 + sorted(enc.names).index(name)

    def _feature_matrix(
        self, predictors: Sequence[int], *, leave_one_out: bool = False
    ) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Reservoir rows as contributions of `predictors` (columns), with labels, weights.

        `leave_one_out` takes each row's own response out of its bin first: fitting weights
        on contributions the row itself helped to count would reward overfit bins."""
        y, w = self._reservoir()
        bins = self._reservoir_bins()
        n = len(y)
        # a row's contribution depends only on its merged bin and on what it takes out of
        # it: computed once per (bin, own response) and gathered — with unit weights there
        # are two own responses (a positive, a negative), or none without leave-one-out
        if not leave_one_out:
            own, case = np.zeros(1), np.zeros(n, dtype=np.int64)
        elif n and (w == w[0]).all():  # one weight (the common case): no sort needed
            own, case = np.array([-w[0], w[0]]), y.astype(np.int64)
        else:
            own, case = np.unique(np.where(y, w, -w), return_inverse=True)
        per_row = len(own) > 64  # (many distinct weights: a table would outgrow the rows)
        if per_row:
            own = own[case]
        own_pos, own_neg = np.maximum(own, 0.0), np.maximum(-own, 0.0)
        tp, tn = self.total_pos - own_pos, self.total_neg - own_neg
        matrix = np.empty((n, len(predictors)))
        for j, p in enumerate(predictors):
            group = np.asarray(self.group_of[p])
            g = group[np.minimum(bins[:, p], len(group) - 1)]
            mpos, mneg = np.asarray(self.mpos[p]), np.asarray(self.mneg[p])
            merged = len(mpos)
            # per row: each row's own bin; else a table of bins × own responses
            at: Any = slice(None) if per_row else (g, case)
            mpos, mneg = (mpos[g], mneg[g]) if per_row else (mpos[:, None], mneg[:, None])
            values = self._log_odds(
                np.maximum(mpos - own_pos, 0.0),
                np.maximum(mneg - own_neg, 0.0),
                tp,
                tn,
                merged,
            )
            matrix[:, j] = values[at]
        return matrix, y, w

    def _log_odds(self, mpos: Any, mneg: Any, tp: Any, tn: Any, n: int) -> Any:
        """A bin's log odds for this model's mode (scalars or arrays)."""
        if self.settings.mode == "adm":
            return np.log(mpos + 1 / n) - np.log(tp + 1) - np.log(mneg + 1 / n) + np.log(tn + 1)
        rate = (tp + 0.5) / (tp + tn + 1)  # one pseudo-response per bin, at the base rate
        return (
            np.log(mpos + rate)
            - np.log(tp + n * rate)
            - np.log(mneg + 1 - rate)
            + np.log(tn + n * (1 - rate))
        )

    def _correlations(self, predictors: Sequence[int]) -> list[list[float]]:
        if len(predictors) < 2 or self.res_filled < 10:
            return [
                [1.0 if i == j else 0.0 for j in range(len(predictors))]
                for i in range(len(predictors))
            ]
        matrix, _, _ = self._feature_matrix(predictors)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(matrix, rowvar=False)
        return np.nan_to_num(np.atleast_2d(corr), nan=0.0).tolist()  # type: ignore[no-any-return]

    def _fit_weights(self) -> None:
        """Improved mode: ridge logistic regression of the outcome on the contributions."""
        self.weights = [0.0] * len(self.encoder)
        prior = math.log((self.total_pos + 0.5) / (self.total_neg + 0.5))
        self.intercept = prior
        if not self.active:
            return
        X, y, w = self._feature_matrix(self.active, leave_one_out=True)
        if min(y.sum(), (~y).sum()) < MIN_FIT_CASES:
            # too few of one class to fit weights: plain naive Bayes, damped by how much
            # evidence there is
            damping = float(min(y.sum(), (~y).sum())) / MIN_FIT_CASES
            for p in self.active:
                self.weights[p] = damping
            return
        n, k = X.shape
        design = np.column_stack((np.ones(n), X))
        # warm start from the last fit: the analysis before saw almost the same data
        previous = self._fitted.get(tuple(self.active))
        beta = (
            previous.copy() if previous is not None else np.concatenate(([prior], np.full(k, 0.5)))
        )
        penalty = np.full(k + 1, self.settings.ridge)
        penalty[0] = 0.0
        target = y.astype(np.float64)
        for _ in range(25):
            z = np.clip(design @ beta, -30, 30)
            mu = 1 / (1 + np.exp(-z))
            grad = design.T @ (w * (mu - target)) + penalty * beta
            hess = (design * (w * mu * (1 - mu))[:, None]).T @ design + np.diag(penalty + 1e-9)
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        self._fitted = {tuple(self.active): beta}
        self.intercept = float(beta[0])
        for p, coef in zip(self.active, beta[1:], strict=True):
            self.weights[p] = float(coef)

    def _calibrate(self) -> None:
        """Classifier bins: score intervals made monotone by PAV over the reservoir."""
        y, w = self._reservoir()
        if len(y) == 0:
            self.class_cuts, self.class_pos, self.class_neg = [], [self.total_pos], [self.total_neg]
            return
        # the scores as of the tables just frozen (what `_scores` gives until more is learned)
        scores = self.offset() + self.analysed_scores
        order = np.argsort(scores, kind="stable")
        s_sorted, y_sorted, w_sorted = scores[order], y[order], w[order]
        starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])  # distinct scores
        if len(starts) > CLASSIFIER_ATOMS:
            # PAV over at most CLASSIFIER_ATOMS groups of about equal size: the same fit to
            # within a group, and a loop that stays short
            keep = np.unique(np.linspace(0, len(starts) - 1, CLASSIFIER_ATOMS).astype(np.int64))
            starts = starts[keep]
        pos = np.add.reduceat(w_sorted * y_sorted, starts)
        neg = np.add.reduceat(w_sorted * ~y_sorted, starts)
        blocks = pav(pos, neg)
        # a bin of a handful of responses would claim a certainty it does not have (and
        # win arbitration on luck): every classifier bin holds a minimum of cases
        blocks = merge_small_blocks(blocks, CLASSIFIER_MIN_CASES)
        # cut halfway between a block's first score and the score just below it
        cuts = [
            float((s_sorted[starts[start] - 1] + s_sorted[starts[start]]) / 2)
            for start, _, _, _ in blocks[1:]
        ]
        bp = np.array([b[2] for b in blocks])
        bn = np.array([b[3] for b in blocks])
        # the reservoir holds the recent responses; the classifier reports all of them
        scale_pos = self.total_pos / bp.sum() if bp.sum() else 0.0
        scale_neg = self.total_neg / bn.sum() if bn.sum() else 0.0
        self.class_cuts = cuts
        self.class_pos = (bp * scale_pos).tolist()
        self.class_neg = (bn * scale_neg).tolist()

    # --- scoring ---------------------------------------------------------------------

    def _freeze(self) -> None:
        adm = self.settings.mode == "adm"
        scale = 1 / (1 + len(self.active))
        self.tables = {
            p: [c * (scale if adm else self.weights[p]) for c in self._contributions(p)]
            for p in self.active
        }
        prior = math.log(1 + self.total_pos) - math.log(1 + self.total_neg)
        self.base = prior * scale if adm else self.intercept

    def scoring_tables(self) -> dict[int, list[float]]:
        """Each active predictor's weighted contribution per merged bin, as scored now.

        Mode "adm" scores with the tables of its last analysis (its classifier's cut points
        are in that score's units); mode "improved" keeps its fitted weights but reads the
        bins' current counts, since its σ(score) needs no classifier lookup."""
        if self.settings.mode == "adm":
            return self.tables
        return {p: [c * self.weights[p] for c in self._contributions(p)] for p in self.active}

    def offset(self) -> float:
        """The score before any predictor: frozen with the tables, except for a model with
        no active predictor, which is a rate and follows every response."""
        if self.active:
            return self.base
        if self.settings.mode == "adm":
            return math.log(1 + self.total_pos) - math.log(1 + self.total_neg)
        return math.log((self.total_pos + 0.5) / (self.total_neg + 0.5))

    def _remember_scores(self) -> None:
        """What the tables add to the score of each reservoir row, as of this analysis
        (the bank calibrates a new action's shift on its group's customers with it)."""
        self.analysed_scores = self.frozen_scores(self._reservoir_bins())

    def frozen_scores(self, bins: npt.NDArray[np.int64]) -> FloatArray:
        """What the predictors add to the score, with the tables of the last analysis (for
        rows of base bins); `offset()` is the rest."""
        total = np.zeros(bins.shape[0])
        for p, table in self.tables.items():
            group = np.asarray(self.group_of[p])
            b = np.minimum(bins[:, p], len(group) - 1)
            g = np.where(bins[:, p] < len(group), group[b], self._unseen_group(p))
            total += np.asarray(table)[g]
        return total

    def _group(self, p: int, b: int) -> int:
        group = self.group_of[p]
        return group[b] if b < len(group) else self._unseen_group(p)

    def _scores(self, bins: npt.NDArray[np.int64]) -> FloatArray:
        """Scores for rows of base bins (n, predictors)."""
        total = np.full(bins.shape[0], self.offset())
        for p, table in self.scoring_tables().items():
            group = np.asarray(self.group_of[p])
            b = np.minimum(bins[:, p], len(group) - 1)
            g = np.where(bins[:, p] < len(group), group[b], self._unseen_group(p))
            total += np.asarray(table)[g]
        return total

    def _unseen_group(self, p: int) -> int:
        return RESIDUAL if not self.encoder.numeric[p] else len(self.mpos[p]) - 1

    def score_one(self, x: Features) -> float:
        self._flush()
        bins, _ = self.encoder.encode(x, learn=False)
        return self._score_bins(bins)

    def _score_bins(self, bins: Sequence[int]) -> float:
        total = self.offset()
        if self.settings.mode == "adm":
            for p, table in self.tables.items():
                total += table[self._group(p, bins[p])]
            return total
        for p in self.active:
            total += self.weights[p] * self._contribution(p, self._group(p, bins[p]))
        return total

    def _contribution(self, p: int, g: int) -> float:
        """One merged bin's current log odds (as `_log_odds`, without numpy: one customer)."""
        log = math.log
        mpos, mneg = self.mpos[p], self.mneg[p]
        n = len(mpos)
        tp, tn = self.total_pos, self.total_neg
        if self.settings.mode == "adm":
            return log(mpos[g] + 1 / n) - log(tp + 1) - log(mneg[g] + 1 / n) + log(tn + 1)
        rate = (tp + 0.5) / (tp + tn + 1)
        return (
            log(mpos[g] + rate)
            - log(tp + n * rate)
            - log(mneg[g] + 1 - rate)
            + log(tn + n * (1 - rate))
        )

    def _clamp(self) -> tuple[float, float]:
        """Improved mode: never more certain than (0.5 + responses) / (1 + responses)."""
        n = self.total_pos + self.total_neg
        return 0.5 / (n + 1), (n + 0.5) / (n + 1)

    def _propensity(self, score: float) -> float:
        if self.settings.mode == "improved":
            lo, hi = self._clamp()
            return min(max(1 / (1 + math.exp(-max(min(score, 30.0), -30.0))), lo), hi)
        k = bisect_right(self.class_cuts, score)
        pos, neg = self.class_pos[k], self.class_neg[k]
        return (0.5 + pos) / (1 + pos + neg)

    def predict_one(self, x: Features) -> float:
        self._flush()
        bins, _ = self.encoder.encode(x, learn=False)
        return self._propensity(self._score_bins(bins))

    def predict_many(self, X: Columns) -> FloatArray:
        self._flush()
        n = len(next(iter(X.values()))) if X else 0
        raw = self.encoder.encode_columns(X, n, learn=False)
        bins = self.encoder.bins_of(raw)
        scores = self._scores(bins)
        if self.settings.mode == "improved":
            lo, hi = self._clamp()
            p = 1 / (1 + np.exp(-np.clip(scores, -30, 30)))
            return np.asarray(np.clip(p, lo, hi), dtype=np.float64)
        k = np.searchsorted(np.asarray(self.class_cuts), scores, side="right")
        pos, neg = np.asarray(self.class_pos)[k], np.asarray(self.class_neg)[k]
        return np.asarray((0.5 + pos) / (1 + pos + neg), dtype=np.float64)

    def explain_one(self, x: Features) -> dict[str, float]:
        self._flush()
        bins, _ = self.encoder.encode(x, learn=False)
        if self.settings.mode == "adm":
            return {
                self.encoder.names[p]: table[self._group(p, bins[p])]
                for p, table in self.tables.items()
            }
        return {
            self.encoder.names[p]: self.weights[p] * self._contribution(p, self._group(p, bins[p]))
            for p in self.active
        }

    # --- reporting -------------------------------------------------------------------

    @property
    def auc(self) -> float:
        self._flush()
        # the classifier's bins in score order (a PAV classifier is monotone in score): the
        # ROC of the score itself, as pdstools' full-range AUC of the classifier bins
        return auc_from_bincounts(self.class_pos, self.class_neg, range(len(self.class_pos)))

    def _class_propensities(self) -> list[float]:
        return [
            (0.5 + p) / (1 + p + n) for p, n in zip(self.class_pos, self.class_neg, strict=True)
        ]

    def binning(self) -> ModelBinning:
        self._flush()
        enc = self.encoder
        predictors = []
        for p, name in enumerate(enc.names):
            contributions = self._contributions(p)
            bins = self._bins_of_predictor(p, contributions)
            responses = sum(b.responses for b in bins)
            importance = (
                sum(abs(b.log_odds) * b.responses for b in bins) / responses if responses else 0.0
            )
            observed = enc.observed_range(p)
            contents = (
                f"Range : [{observed[0]:g}, {observed[1]:g}]"
                if observed
                else f"{len(enc.symbols[p])} symbols"
            )
            predictors.append(
                PredictorBinning(
                    name=name,
                    type=enc.kinds[p],
                    entry_type="Active" if p in self.active else "Inactive",
                    performance=self.performance[p],
                    bins=tuple(bins),
                    group_index=self.group_index[p],
                    contents=contents,
                    importance=importance,
                )
            )
        classifier = self._classifier_binning()
        return ModelBinning(
            positives=self.total_pos,
            negatives=self.total_neg,
            auc=self.auc,
            predictors=tuple(predictors),
            classifier=classifier,
        )

    def _bins_of_predictor(self, p: int, contributions: list[float]) -> list[Bin]:
        enc = self.encoder
        mpos, mneg = self.mpos[p], self.mneg[p]
        out = [Bin(1, "MISSING", "MISSING", None, None, mpos[0], mneg[0], contributions[0])]
        if enc.numeric[p]:
            cuts = enc.cuts[p]
            members: dict[int, list[int]] = {}
            for b, g in enumerate(self.group_of[p]):
                if b != MISSING:
                    members.setdefault(g, []).append(b)
            for g in range(1, len(mpos)):
                base = members.get(g, [])
                lo = cuts[min(base) - 2] if base and min(base) >= 2 else None
                hi = cuts[max(base) - 1] if base and max(base) - 1 < len(cuts) else None
                symbol = interval_symbol(lo, hi, "g")
                out.append(
                    Bin(g + 1, "EQUIBEHAVIOR", symbol, lo, hi, mpos[g], mneg[g], contributions[g])
                )
            return out
        names = enc.symbol_names(p)
        groups: dict[int, list[str]] = {}
        for b, g in enumerate(self.group_of[p]):
            if b >= 2 and g >= 2:
                groups.setdefault(g, []).append(names.get(b, "?"))
        for g in range(2, len(mpos)):
            symbol = ", ".join(sorted(groups.get(g, [])))
            out.append(
                Bin(
                    len(out) + 1,
                    "EQUIBEHAVIOR",
                    symbol,
                    None,
                    None,
                    mpos[g],
                    mneg[g],
                    contributions[g],
                )
            )
        out.append(
            Bin(
                len(out) + 1, "RESIDUAL", "Residual", None, None, mpos[1], mneg[1], contributions[1]
            )
        )
        return out

    def _classifier_binning(self) -> PredictorBinning:
        cuts = self.class_cuts
        bins = []
        props = self._class_propensities()
        for k, (p, n) in enumerate(zip(self.class_pos, self.class_neg, strict=True)):
            lo = cuts[k - 1] if k > 0 else None
            hi = cuts[k] if k < len(cuts) else None
            symbol = interval_symbol(lo, hi, ".6g")
            bins.append(Bin(k + 1, "EQUIBEHAVIOR", symbol, lo, hi, p, n, 0.0, props[k]))
        return PredictorBinning(
            name="Classifier",
            type=NUMERIC,
            entry_type="Classifier",
            performance=self.auc,
            bins=tuple(bins),
        )

    # --- state -----------------------------------------------------------------------

    def to_state(self, *, reservoir: bool = True) -> dict[str, Any]:
        """The model as JSON-able data; without the reservoir it is a few KB (counts,
        bins, classifier), which is what the engine persists after every response."""
        self._flush()
        state = {
            "settings": asdict(self.settings),
            "encoder": None if self.shared else self.encoder.to_state(),
            "pos": self.pos,
            "neg": self.neg,
            "group_of": self.group_of,
            "mpos": self.mpos,
            "mneg": self.mneg,
            "total_pos": self.total_pos,
            "total_neg": self.total_neg,
            "responses": self.responses,
            "next_analysis": self.next_analysis,
            "decayed_at": self.decayed_at,
            "grid_version": self.grid_version,
            "performance": self.performance,
            "group_index": self.group_index,
            "active": self.active,
            "weights": self.weights,
            "intercept": self.intercept,
            "tables": {str(p): t for p, t in self.tables.items()},
            "base": self.base,
            "class_cuts": self.class_cuts,
            "class_pos": self.class_pos,
            "class_neg": self.class_neg,
        }
        if reservoir:
            state["reservoir"] = self.reservoir_state()
        return state

    def reservoir_state(self) -> dict[str, Any]:
        n = self.res_filled
        return {
            "columns": int(self.res.shape[1]),
            "raw": base64.b64encode(np.ascontiguousarray(self.res[:n]).tobytes()).decode(),
            "y": base64.b64encode(np.packbits(self.res_y[:n]).tobytes()).decode(),
            "w": base64.b64encode(self.res_w[:n].tobytes()).decode(),
            "next": self.res_next,
            "filled": n,
        }

    def load_reservoir(self, res: Mapping[str, Any]) -> None:
        n, columns = int(res["filled"]), int(res["columns"])
        size = self.settings.reservoir
        n = min(n, size)
        self.res = np.full((size, max(columns, len(self.encoder))), np.nan)
        raw = np.frombuffer(base64.b64decode(res["raw"]), dtype=np.float64).reshape(-1, columns)
        self.res[:n, :columns] = raw[:n]
        bits = np.unpackbits(np.frombuffer(base64.b64decode(res["y"]), dtype=np.uint8))
        self.res_y = np.zeros(size, dtype=bool)
        self.res_y[:n] = bits[:n].astype(bool)
        self.res_w = np.zeros(size, dtype=np.float64)
        self.res_w[:n] = np.frombuffer(base64.b64decode(res["w"]), dtype=np.float64)[:n]
        self.res_next = int(res["next"]) % size
        self.res_filled = n
        self.res_bins = np.zeros((size, self.res.shape[1]), dtype=np.int64, order="F")
        self.res_grid = None
        # the reservoir is stored when the model analyses (these are that analysis's scores)
        # or when the engine rebuilds its bank (its rows' scores under the frozen tables)
        self._remember_scores()

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, encoder: Encoder | None = None) -> Self:
        settings = dict(state["settings"])
        if encoder is None:
            if state["encoder"] is None:
                raise ValueError("this model shares its encoder: pass `encoder=`")
            encoder = Encoder.from_state(state["encoder"])
            model = cls(encoder=encoder, **settings)
            model.shared = False
        else:
            model = cls(encoder=encoder, **settings)
        model.pos = [list(map(float, r)) for r in state["pos"]]
        model.neg = [list(map(float, r)) for r in state["neg"]]
        model.group_of = [list(map(int, r)) for r in state["group_of"]]
        model.mpos = [list(map(float, r)) for r in state["mpos"]]
        model.mneg = [list(map(float, r)) for r in state["mneg"]]
        for name in (
            "total_pos",
            "total_neg",
            "intercept",
        ):
            setattr(model, name, float(state[name]))
        for name in ("responses", "next_analysis", "decayed_at", "grid_version"):
            setattr(model, name, int(state[name]))
        model.performance = [float(v) for v in state["performance"]]
        model.group_index = [int(v) for v in state["group_index"]]
        model.active = [int(v) for v in state["active"]]
        model.weights = [float(v) for v in state["weights"]]
        model.tables = {int(p): [float(v) for v in t] for p, t in state["tables"].items()}
        model.base = float(state["base"])
        model.class_cuts = [float(v) for v in state["class_cuts"]]
        model.class_pos = [float(v) for v in state["class_pos"]]
        model.class_neg = [float(v) for v in state["class_neg"]]
        if "reservoir" in state:
            model.load_reservoir(state["reservoir"])
        model._sync()
        return model

    def clone(self) -> Self:
        """A fresh model with the same settings (and predictor declarations)."""
        enc = self.encoder
        if self.shared:
            return type(self)(encoder=enc, **asdict(self.settings))
        predictors = None if enc.infer else dict(zip(enc.names, enc.kinds, strict=True))
        return type(self)(predictors, **asdict(self.settings))
