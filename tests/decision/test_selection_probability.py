"""The logged selection probability matches how often the policy really picks an action."""

from __future__ import annotations

from collections import Counter

import pytest

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
