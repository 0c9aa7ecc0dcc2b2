"""The measures ADM is judged by, written so that they equal Pega's own (pdstools) exactly.

* `bin_log_odds` — a predictor's per-bin contribution with Laplace smoothing of 1/nBins
  (pdstools `bin_log_odds`, Pega `GroupedPredictor.java`);
* `auc_from_bincounts` — AUC from positive/negative counts per bin, sorted by propensity,
  folded onto 0.5–1 the way Pega reports performance;
* `auc` — exact AUC of scores against labels (ties count one half), for prequential runs;
* `pav` — pool-adjacent-violators over score-ordered bins: the monotone calibration that
  turns an ADM score into a propensity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def bin_log_odds(positives: Sequence[float], negatives: Sequence[float]) -> list[float]:
    """ln(pos_i + 1/n) − ln(Σpos + 1) − [ln(neg_i + 1/n) − ln(Σneg + 1)] for each bin i."""
    n = len(positives)
    total_pos = math.log(sum(positives) + 1)
    total_neg = math.log(sum(negatives) + 1)
    return [
        (math.log(p + 1 / n) - total_pos) - (math.log(q + 1 / n) - total_neg)
        for p, q in zip(positives, negatives, strict=True)
    ]


def safe_range_auc(value: float) -> float:
    """AUC folded onto 0.5–1 (a predictor that ranks backwards is as informative)."""
    if math.isnan(value):
        return 0.5
    return 0.5 + abs(0.5 - value)


def auc_from_bincounts(
    positives: Sequence[float] | FloatArray,
    negatives: Sequence[float] | FloatArray,
    propensities: Sequence[float] | FloatArray | None = None,
) -> float:
    """AUC of a binning: bins sorted by propensity (default pos / (pos + neg)), trapezoids.

    Plain Python: an analysis calls it once per predictor on a few dozen bins, where numpy's
    per-call overhead would be most of the cost. Bins of equal rate lie on one line of the
    ROC curve, so their order among themselves does not change the area (this equals
    pdstools' numpy version however ties are sorted)."""
    pos = [float(p) for p in positives]
    neg = [float(q) for q in negatives]
    total_pos, total_neg = sum(pos), sum(neg)
    if total_pos == 0 or total_neg == 0:
        return 0.5
    if propensities is None:
        # an empty bin adds nothing to the curve: where it sorts does not matter
        keys = [p / (p + q) if p + q > 0 else -math.inf for p, q in zip(pos, neg, strict=True)]
    else:
        keys = [float(k) for k in propensities]
    area = fpr = tpr = 0.0
    for i in sorted(range(len(pos)), key=keys.__getitem__, reverse=True):
        next_fpr = fpr + neg[i] / total_neg
        next_tpr = tpr + pos[i] / total_pos
        area += (next_fpr - fpr) * (next_tpr + tpr) / 2
        fpr, tpr = next_fpr, next_tpr
    return safe_range_auc(area)


def auc(
    labels: Sequence[bool] | npt.NDArray[np.bool_], scores: Sequence[float] | FloatArray
) -> float:
    """Exact ROC AUC (Mann–Whitney, ties count one half); 0.5 when a class is absent."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    # average ranks over ties
    starts = np.flatnonzero(np.concatenate(([True], np.diff(s_sorted) != 0)))
    ends = np.concatenate((starts[1:], [len(s)]))
    avg = (starts + ends + 1) / 2.0
    ranks = np.empty(len(s))
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(
    labels: Sequence[bool] | npt.NDArray[np.bool_], probabilities: Sequence[float] | FloatArray
) -> float:
    y = np.asarray(labels, dtype=bool)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def pav(
    positives: Sequence[float] | FloatArray, negatives: Sequence[float] | FloatArray
) -> list[tuple[int, int, float, float]]:
    """Pool adjacent violators over bins in score order.

    Returns blocks (first bin, last bin + 1, positives, negatives) whose success rates are
    non-decreasing: the isotonic (monotone) fit of rate on score.
    """
    blocks: list[list[float]] = []  # [start, end, pos, neg]
    for i, (p, q) in enumerate(zip(positives, negatives, strict=True)):
        blocks.append([i, i + 1, float(p), float(q)])
        while len(blocks) > 1:
            a, b = blocks[-2], blocks[-1]
            # compare rates without dividing: a's rate > b's rate violates monotonicity
            if (
                a[2] * (b[2] + b[3]) > b[2] * (a[2] + a[3])
                or (a[2] + a[3]) == 0
                or (b[2] + b[3]) == 0
            ):
                blocks[-2:] = [[a[0], b[1], a[2] + b[2], a[3] + b[3]]]
            else:
                break
    return [(int(s), int(e), p, q) for s, e, p, q in blocks]


def merge_small_blocks(
    blocks: list[tuple[int, int, float, float]], least: float
) -> list[tuple[int, int, float, float]]:
    """Merge each block with fewer than `least` cases into its closer-rated neighbour.

    Merging neighbours of a monotone sequence keeps it monotone, so this may follow `pav`."""
    out = list(blocks)

    def rate(b: tuple[int, int, float, float]) -> float:
        return (b[2] + 0.5) / (b[2] + b[3] + 1)

    while len(out) > 1:
        i = min(range(len(out)), key=lambda j: (out[j][2] + out[j][3], j))
        if out[i][2] + out[i][3] >= least:
            break
        if i == 0:
            j = 1
        elif i == len(out) - 1:
            j = i - 1
        else:
            j = (
                i - 1
                if abs(rate(out[i - 1]) - rate(out[i])) <= abs(rate(out[i + 1]) - rate(out[i]))
                else i + 1
            )
        a, b = sorted((i, j))
        merged = (out[a][0], out[b][1], out[a][2] + out[b][2], out[a][3] + out[b][3])
        out[a : b + 1] = [merged]
    return out
