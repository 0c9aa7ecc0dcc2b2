"""Scoring a decision's candidates in one compiled pass (numba).

A customer's base bins are rows of a channel's scoring table (`bank._Channel`: base-bin
columns × actions). Summing those rows for all of a library's actions and picking the
candidates after reads every action's column; here only the candidates' are read, and the
calibration step (which interval of its cut points each score falls in, and that
interval's counts) is done in the same loop instead of as a candidates × cuts comparison.
About 17 µs of a decision's 53 µs of scoring at 1,000 actions.
"""

from __future__ import annotations

import numba
import numpy as np

from nextbest.learning.base import FloatArray, IntArray


@numba.njit(cache=True, nogil=True)
def score_candidates(
    table: FloatArray,  # (base bins, actions) each action's score contribution per bin
    offset: FloatArray,  # (actions,)
    rows: IntArray,  # the customer's base bins, one per predictor
    actions: IntArray,  # (candidates,)
    cuts: FloatArray,  # (actions, cuts) calibration cut points, +inf where unused
    pos: FloatArray,  # (actions, cuts + 1) positives per calibration interval
    neg: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Each candidate's score, and the positives and negatives of its score's interval."""
    m = actions.shape[0]
    score = np.empty(m)
    positives = np.empty(m)
    negatives = np.empty(m)
    for i in range(m):
        a = actions[i]
        s = 0.0
        for r in rows:
            s += table[r, a]
        s = offset[a] + s
        k = 0
        for q in range(cuts.shape[1]):
            if s >= cuts[a, q]:
                k += 1
        score[i] = s
        positives[i] = pos[a, k]
        negatives[i] = neg[a, k]
    return score, positives, negatives


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel now, not in the first decision."""
    one = np.zeros((1, 1))
    score_candidates(one, np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64), one,
                     np.zeros((1, 2)), np.zeros((1, 2)))  # fmt: skip
