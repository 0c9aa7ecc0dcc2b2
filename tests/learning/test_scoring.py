"""The compiled posterior equals the numpy formulas it replaced, in every mode."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.learning.scoring import posterior_parameters


def reference(
    rows: Any, actions: Any, t: dict[str, Any], improved: bool, sharing: bool, hierarchical: bool
) -> tuple[Any, Any]:
    """`AdmModels.posterior` as numpy, before it was compiled (its rows summed one after
    another, as numpy's `sum(axis=0)` does for a 2-D gather of many actions)."""
    summed = np.zeros(t["table"].shape[1])
    for r in rows:
        summed = summed + t["table"][r]
    score = t["offset"][actions] + summed[actions]
    k = (score[:, None] >= t["cuts"][actions]).sum(axis=1)
    pos, neg = t["pos"][actions, k], t["neg"][actions, k]
    n = pos + neg
    if improved:
        total = t["responses"][actions]
        if sharing:
            groups = t["group_of"][actions]
            per_group = t["group_offset"] + t["group_table"][rows].sum(axis=0)
            blend = t["blend"][actions]
            score = blend * score + (1 - blend) * (per_group[groups] + t["shift"][actions])
            total = total + t["group_responses"][groups]
        rate = 1 / (1 + np.exp(-np.clip(score, -30, 30)))
        rate = np.clip(rate, 0.5 / (total + 1), (total + 0.5) / (total + 1))
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(n > 0, pos / n, 0.5)
    if sharing:
        s = t["strength"][actions]
        prior_a, prior_b = rate * s, (1 - rate) * s
    elif hierarchical:
        prior_a, prior_b = t["prior_a"][actions], t["prior_b"][actions]
    elif improved:
        prior_a, prior_b = rate, 1 - rate
    else:
        prior_a = prior_b = np.full(len(actions), 0.5)
    return prior_a + rate * n, prior_b + (1 - rate) * n


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    width=st.integers(1, 30),
    predictors=st.integers(1, 12),
    n_cuts=st.integers(1, 8),
    n_groups=st.integers(1, 6),
    mode=st.sampled_from(["adm", "improved", "improved+sharing"]),
    hierarchical=st.booleans(),
)
def test_the_compiled_posterior_equals_the_numpy_formulas(
    seed: int, n: int, width: int, predictors: int, n_cuts: int, n_groups: int, mode: str,
    hierarchical: bool,
) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    improved, sharing = mode != "adm", mode == "improved+sharing"
    t: dict[str, Any] = {
        "table": rng.normal(size=(width, n)) * rng.choice([1e-3, 1.0, 40.0]),
        "offset": rng.normal(size=n),
        "cuts": np.sort(rng.normal(size=(n, n_cuts)) * 3, axis=1),
        "pos": rng.integers(0, 50, size=(n, n_cuts + 1)).astype(float),
        "neg": rng.integers(0, 50, size=(n, n_cuts + 1)).astype(float),
        "responses": rng.integers(0, 500, size=n).astype(float),
        "group_of": rng.integers(0, n_groups, size=n),
        "group_table": rng.normal(size=(width, n_groups)),
        "group_offset": rng.normal(size=n_groups),
        "group_responses": rng.integers(0, 500, size=n_groups).astype(float),
        "blend": rng.random(n),
        "shift": rng.normal(size=n),
        "strength": rng.uniform(0.5, 5, size=n),
        "prior_a": rng.uniform(0.1, 5, size=n),
        "prior_b": rng.uniform(0.1, 5, size=n),
    }
    t["cuts"][rng.random(size=t["cuts"].shape) < 0.3] = np.inf  # unused cut points
    t["pos"][rng.random(size=t["pos"].shape) < 0.2] = 0.0
    t["neg"][t["pos"] == 0] = 0.0  # empty intervals too
    rows = rng.integers(0, width, size=predictors)
    actions = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))

    def compiled() -> tuple[Any, Any]:
        return posterior_parameters(  # type: ignore[no-any-return]
            rows, actions, t["table"], t["offset"], t["cuts"], t["pos"], t["neg"], improved,
            t["responses"], sharing, t["group_of"], t["group_table"], t["group_offset"],
            t["group_responses"], t["blend"], t["shift"], t["strength"], hierarchical,
            t["prior_a"], t["prior_b"],
        )  # fmt: skip

    # a score on a cut point belongs to the interval above it (summed as the kernel sums)
    tie = rng.random(len(actions)) < 0.3
    for a in actions[tie]:
        total = 0.0
        for r in rows:
            total += t["table"][r, a]
        t["cuts"][a, 0] = t["offset"][a] + total

    a, b = compiled()
    ref_a, ref_b = reference(rows, actions, t, improved, sharing, hierarchical)
    assert np.allclose(a, ref_a, rtol=1e-9, atol=1e-12)
    assert np.allclose(b, ref_b, rtol=1e-9, atol=1e-12)
