"""The logged selection probability matches how often the policy really picks an action."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.decision.pipeline import _redraws, _select_lists
from nextbest.testing import make_engine
from nextbest.types import DecisionRequest, Placement

# cards: gold (value 120) and student (40); savings-plan (60); info-tips is the hero fallback
STATES = {
    "gold-card@web": {"alpha": 6.0, "beta": 30.0},
    "student-card@web": {"alpha": 30.0, "beta": 30.0},
    "savings-plan@web": {"alpha": 12.0, "beta": 20.0},
}


@pytest.mark.parametrize(
    "placements",
    [(Placement("hero", 1),), (Placement("hero", 1), Placement("sidebar", 2))],
    ids=["one-slot", "two-placements"],
)
def test_logged_probability_matches_observed_frequency(placements: tuple[Placement, ...]) -> None:
    engine = make_engine(seed=11)
    engine.models.load_state(STATES)
    engine.upsert_profile("c1", {"age": 25, "income": 50000, "in_arrears": False, "products": []})
    engine.set_consent("c1", "marketing", "granted")
    request = DecisionRequest(
        channel="web", placements=placements, customer_id="c1", assurance_level=1
    )
    n = 600
    chosen: Counter[tuple[str, str]] = Counter()
    logged: dict[tuple[str, str], list[float]] = {}
    for _ in range(n):
        for a in engine.decide(request).actions:
            key = (a.placement, a.action_id)
            chosen[key] += 1
            logged.setdefault(key, []).append(a.selection_probability)
    assert len(chosen) >= 3  # the policy really explores
    for key, count in chosen.items():
        observed = count / n
        mean_logged = sum(logged[key]) / len(logged[key])
        # 600 decisions: the observed share has a standard error of at most 0.02
        assert abs(mean_logged - observed) < 0.07, (key, observed, mean_logged)


@st.composite
def redraw_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    n = draw(st.integers(1, 60))
    k = draw(st.integers(1, 6))
    # few distinct values: ties and zeros are common, as they are not in real draws
    values = st.sampled_from([0.0, 0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
    samples = np.array(draw(st.lists(st.lists(values, min_size=n, max_size=n), min_size=k,
                                     max_size=k)))  # fmt: skip
    counts = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    masks = [np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))) for _ in counts]
    groups = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    fallbacks = [draw(st.none() | st.integers(0, n - 1)) for _ in counts]
    return samples, masks, counts, groups, draw(st.integers(0, 2)), fallbacks


@given(redraw_cases())
@settings(max_examples=1500, deadline=None)
def test_redraws_pick_what_the_whole_order_picks(case: tuple[Any, ...]) -> None:
    """Arbitrating each redraw over its best draws only gives the picks of the whole
    stable order — ties, zeros, group limits, masks and fallbacks included."""
    samples, masks, counts, groups, max_per_group, fallbacks = case
    n = samples.shape[1]
    c_idx = np.arange(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    fast = list(_redraws(samples, c_idx, masks, counts, groups, max_per_group, fallbacks, alive))
    slow = []
    for row in samples:
        order = np.argsort(-row, kind="stable").tolist()
        slate = _select_lists(row.tolist(), c_idx.tolist(), order, [m.tolist() for m in masks],
                              counts, groups.tolist(), max_per_group, fallbacks, alive)  # fmt: skip
        slow += slate.picks
    assert fast == slow
