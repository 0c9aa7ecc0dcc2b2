"""The compiled candidate scoring equals the numpy expression it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.learning.scoring import score_candidates


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    width=st.integers(1, 30),
    predictors=st.integers(1, 12),
    n_cuts=st.integers(1, 8),
)
def test_scores_and_interval_counts_equal_numpys(
    seed: int, n: int, width: int, predictors: int, n_cuts: int
) -> None:
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(width, n)) * rng.choice([1e-3, 1.0, 1e3])
    offset = rng.normal(size=n)
    rows = rng.integers(0, width, size=predictors)
    actions = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    cuts = np.sort(rng.normal(size=(n, n_cuts)) * 3, axis=1)
    cuts[rng.random(size=cuts.shape) < 0.3] = np.inf  # unused cut points
    pos = rng.integers(0, 50, size=(n, n_cuts + 1)).astype(float)
    neg = rng.integers(0, 50, size=(n, n_cuts + 1)).astype(float)

    score, _, _ = score_candidates(table, offset, rows, actions, cuts, pos, neg)
    tie = rng.random(len(actions)) < 0.5  # a score on a cut point is in the interval above
    cuts[actions[tie], 0] = score[tie]
    score, positives, negatives = score_candidates(table, offset, rows, actions, cuts, pos, neg)

    expected = offset[actions] + table[rows].sum(axis=0)[actions]
    # numpy sums in an order of its own (pairwise, for some shapes): equal to rounding
    assert np.allclose(score, expected, rtol=1e-12, atol=1e-9)
    k = (score[:, None] >= cuts[actions]).sum(axis=1)
    assert np.array_equal(positives, pos[actions, k])
    assert np.array_equal(negatives, neg[actions, k])
