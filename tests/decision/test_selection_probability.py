"""The logged selection probability matches how often the policy really picks an action."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.decision.pipeline import _order, _select, _select_lists
from nextbest.decision.redraw import redraw
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
    total = draw(st.integers(1, 60))  # actions in the configuration
    # the candidates: an ascending subset of them
    idx = np.array(sorted(draw(st.sets(st.integers(0, total - 1), min_size=1))))
    k = draw(st.integers(1, 6))
    # few distinct values: ties and zeros are common, as they are not in real draws
    values = st.sampled_from([0.0, 0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, float("nan")])
    n = len(idx)
    given = np.array(draw(st.lists(st.lists(values, min_size=n, max_size=n), min_size=k,
                                   max_size=k)))  # fmt: skip
    # upper bounds that hold: at or above every row's value, some well above
    slack = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.05, 1.0]), min_size=n,
                                   max_size=n)))  # fmt: skip
    hi = np.nan_to_num(given, nan=0.0).max(axis=0) + slack
    counts = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    masks = [np.array(draw(st.lists(st.booleans(), min_size=total, max_size=total)))
             for _ in counts]  # fmt: skip
    groups = np.array(draw(st.lists(st.integers(0, 4), min_size=total, max_size=total))) * 7
    fallbacks = [draw(st.none() | st.integers(0, total - 1)) for _ in counts]
    alive = np.array(draw(st.lists(st.booleans(), min_size=total, max_size=total)))
    alive[idx] = True  # candidates survived the filters; a fallback may not have
    max_per_group = draw(st.integers(0, 2))
    return given, hi, idx, masks, counts, groups, max_per_group, fallbacks, alive


@given(redraw_cases())
@settings(max_examples=1500, deadline=None)
def test_redraws_pick_what_the_greedy_arbitration_picks(case: tuple[Any, ...]) -> None:
    """Drawing each redraw's candidates best bound first, and stopping once the rest cannot
    matter, gives row by row the picks of the greedy pass over the whole stable order —
    ties, zeros, group limits, masks and fallbacks (also ones that are not candidates, or
    did not survive) included."""
    given, hi, idx, masks, counts, groups, max_per_group, fallbacks, alive = case
    ones = np.ones(len(idx))
    redrawn = redraw(ones, ones, ones, hi, idx, masks, counts, groups, max_per_group,
                     fallbacks, alive, rows=len(given), budget=10**6, rng=np.random.default_rng(0),
                     given=given)  # fmt: skip
    assert redrawn.rows == len(given)
    slow = []
    for row in given:
        order = np.argsort(-row, kind="stable").tolist()
        slate = _select_lists(row.tolist(), idx.tolist(), order,
                              [m[idx].tolist() for m in masks], counts,
                              groups[idx].tolist(), max_per_group, fallbacks, alive)  # fmt: skip
        slow += [(p, a) for p, a, _ in slate.picks]
    assert list(zip(redrawn.placed.tolist(), redrawn.picked.tolist(), strict=True)) == slow


@given(redraw_cases())
@settings(max_examples=500, deadline=None)
def test_the_decisions_own_arbitration_walks_the_head_first_to_the_same_slate(
    case: tuple[Any, ...],
) -> None:
    """`_select` walks the first few candidates in order first: whatever the masks, group
    limits and fallbacks leave short, its slate is the full walk's."""
    given, _, idx, masks, counts, groups, max_per_group, fallbacks, alive = case
    for row in given:
        order = _order(row, idx)
        full = _select_lists(row.tolist(), idx.tolist(), order.tolist(),
                             [m[idx].tolist() for m in masks], counts, groups[idx].tolist(),
                             max_per_group, fallbacks, alive)  # fmt: skip
        head_first = _select(row, idx, order, masks, counts, groups, max_per_group, fallbacks,
                             alive)  # fmt: skip
        assert head_first == full


def test_redraws_stop_at_the_sample_budget_and_draw_few_when_bounds_are_tight() -> None:
    n = 500
    idx = np.arange(n)
    # ten clear leaders, tightly known; the rest far below with tight bounds
    a = np.where(idx < 10, 9e5, 1e5)
    b = 1e6 - a
    hi = a / (a + b) + 0.01
    everywhere = [np.ones(n, dtype=bool)]
    common = (idx, everywhere, [3], np.zeros(n, dtype=np.int64), 0, [None], np.ones(n, bool))
    ones = np.ones(n)
    cheap = redraw(a, b, ones, hi, *common, rows=200, budget=8192, rng=np.random.default_rng(1))
    # every row draws the ten leaders, whose bounds reach the slate, and none of the rest
    assert cheap.rows == 200 and cheap.drawn == 200 * 10
    assert set(cheap.picked.tolist()) <= set(range(10))
    # wide bounds: every candidate is drawn in every row, so the budget ends the redraws
    wide = redraw(
        a, b, ones, np.ones(n), *common, rows=200, budget=8192, rng=np.random.default_rng(1)
    )
    assert wide.rows == 8192 // n + 1 and wide.drawn == wide.rows * n
