"""The Posterior a bank answers a decision with: means, draws and cheap bounds."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betainc

from nextbest.learning.base import KnownPropensities, Posterior, RandomPropensities

shape = st.floats(min_value=1.0, max_value=1e6)


@settings(max_examples=300)
@given(a=shape, b=shape)
def test_bounds_leave_at_most_a_small_tail_outside(a: float, b: float) -> None:
    post = Posterior(np.array([a]), np.array([b]))
    lo, hi = post.bounds()
    assert 0 <= lo[0] < post.mean()[0] < hi[0] <= 1
    assert betainc(a, b, lo[0]) <= 0.003
    assert 1 - betainc(a, b, hi[0]) <= 0.003


def test_draws_stay_inside_the_bounds_almost_always() -> None:
    a = np.array([1.0, 2.5, 40.0, 900.0])
    b = np.array([30.0, 400.0, 60.0, 9000.0])
    post = Posterior(a, b)
    draws = post.sample(np.random.default_rng(0), 20_000)
    lo, hi = post.bounds()
    assert ((draws < lo) | (draws > hi)).mean(axis=0).max() < 0.003
    assert np.allclose(draws.mean(axis=0), post.mean(), rtol=0.05)


def test_known_and_random_propensities() -> None:
    known = KnownPropensities(np.array([0.1, 0.7]))
    assert known.sample(np.random.default_rng(0), 3).tolist() == [[0.1, 0.7]] * 3
    lo, hi = known.bounds()
    assert lo.tolist() == hi.tolist() == [0.1, 0.7]
    rand = RandomPropensities(3)
    draws = rand.sample(np.random.default_rng(0), 1000)
    assert draws.shape == (1000, 3) and 0.45 < draws.mean() < 0.55
    assert rand.bounds()[0].tolist() == [0.0] * 3 and rand.bounds()[1].tolist() == [1.0] * 3
