"""Beta-Bernoulli models: learning, state round trips, bounds and sampling."""

from __future__ import annotations

import numpy as np

from nextbest.learning import BetaBernoulliModels
from nextbest.testing import make_config

CONFIG = make_config()
GOLD = CONFIG.action_index["gold-card"]
ALL = np.arange(CONFIG.n_actions, dtype=np.int64)


def test_starts_at_one_half_and_learns() -> None:
    models = BetaBernoulliModels()
    models.bind(CONFIG)
    assert np.allclose(models.posterior(ALL, "web").mean(), 0.5)
    for _ in range(8):
        models.learn_one("gold-card", "web", positive=True)
    state = models.learn_one("gold-card", "web", positive=False)
    assert state == {"beta/gold-card@web": {"alpha": 9.0, "beta": 2.0}}  # the store key
    assert models.posterior(ALL, "web").mean()[GOLD] == 9 / 11
    assert models.posterior(ALL, "email").mean()[GOLD] == 0.5  # other channel untouched


def test_state_survives_rebinding_to_a_changed_config() -> None:
    models = BetaBernoulliModels()
    models.bind(CONFIG)
    models.learn_one("gold-card", "web", positive=True)
    fresh = BetaBernoulliModels()
    fresh.load_state(models.to_state())
    smaller = make_config(
        {
            "issues/information.yaml": None,
            "nextbest.yaml": CONFIG.files["nextbest.yaml"].replace("{fallback: info-tips}", "{}"),
        }
    )
    fresh.bind(smaller)
    idx = np.arange(smaller.n_actions, dtype=np.int64)
    assert fresh.posterior(idx, "web").mean()[smaller.action_index["gold-card"]] == 2 / 3
    rows = {r["model_id"]: r for r in fresh.describe()}
    assert rows["gold-card@web"]["responses"] == 1 and rows["gold-card@web"]["positives"] == 1


def test_samples_follow_the_posterior_and_bounds_hold() -> None:
    models = BetaBernoulliModels()
    models.bind(CONFIG)
    for i in range(200):
        models.learn_one("gold-card", "web", positive=i % 10 == 0)
    draws = models.posterior(np.array([GOLD]), "web").sample(np.random.default_rng(1), 4000)[:, 0]
    assert abs(draws.mean() - 21 / 202) < 0.005
    lo, hi = models.posterior(np.array([GOLD]), "web").bounds()
    assert lo[0] < draws.min() and draws.max() < hi[0]
    assert 0 < lo[0] < 21 / 202 < hi[0] < 1
