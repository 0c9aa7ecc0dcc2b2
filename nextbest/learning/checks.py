"""The check suite every model passes (in the spirit of river's `check_estimator`).

    from nextbest.learning.checks import check_model
    check_model(lambda: MyModel())          # raises AssertionError naming the failed check

Each check gets a fresh model from the factory and a fixed, seeded stream of mixed
numeric/symbolic rows with missing values, so a failure is reproducible.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable
from typing import Any

from nextbest.learning.base import Model

Factory = Callable[[], Model]


def stream(n: int = 600, seed: int = 1) -> list[tuple[dict[str, Any], bool]]:
    """Rows with a learnable signal in `age` and `segment`, noise in `score`, gaps."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        age = rng.uniform(18, 90)
        segment = rng.choice(["student", "mass", "affluent", "private"])
        x: dict[str, Any] = {
            "age": age if rng.random() > 0.05 else None,
            "segment": segment if rng.random() > 0.05 else None,
            "score": rng.gauss(0, 1),
            "vip": rng.random() < 0.2,
        }
        z = -2 + 0.04 * (age - 50) + (1.2 if segment == "affluent" else 0.0)
        rows.append((x, rng.random() < 1 / (1 + math.exp(-z))))
    return rows


def _trained(factory: Factory, n: int = 600) -> Model:
    model = factory()
    for x, y in stream(n):
        model.learn_one(x, y)
    return model


def _probes() -> list[dict[str, Any]]:
    return [x for x, _ in stream(40, seed=2)] + [
        {},
        {"age": None, "segment": None},
        {"age": float("nan"), "segment": "never-seen"},
        {"age": "not a number", "segment": 42, "extra": "ignored"},
        {"age": 1e300, "score": -1e300},
    ]


def check_fresh_model_is_undecided(factory: Factory) -> None:
    model = factory()
    for x in _probes():
        assert model.predict_one(x) == 0.5, "a model that learned nothing must say 0.5"


def check_outputs_are_probabilities(factory: Factory) -> None:
    model = _trained(factory)
    for x in _probes():
        p = model.predict_one(x)
        assert 0.0 < p < 1.0 and math.isfinite(p), f"propensity {p} for {x} is not in (0, 1)"
        for name, value in model.explain_one(x).items():
            assert math.isfinite(value), f"contribution of {name} is {value}"


def check_inputs_not_mutated(factory: Factory) -> None:
    model = factory()
    for x, y in stream(300):
        before = copy.deepcopy(x)
        model.learn_one(x, y)
        model.predict_one(x)
        model.explain_one(x)
        assert _same(x, before), "learn_one/predict_one must not change their input"


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def check_feature_order_irrelevant(factory: Factory) -> None:
    forward, backward = factory(), factory()
    for x, y in stream():
        forward.learn_one(x, y)
        backward.learn_one(dict(reversed(list(x.items()))), y)
    for x in _probes():
        a = forward.predict_one(x)
        b = backward.predict_one(dict(reversed(list(x.items()))))
        assert abs(a - b) < 1e-9, f"predictions differ with feature order: {a} vs {b}"


def check_learning_is_visible(factory: Factory) -> None:
    model = factory()
    x = {"age": 40.0, "segment": "mass", "score": 0.0, "vip": False}
    for _ in range(60):
        model.learn_one(x, True)
        model.learn_one({**x, "segment": "student"}, False)
    assert model.predict_one(x) > 0.5, "after only positives for x, x must score above 0.5"


def check_state_round_trips(factory: Factory) -> None:
    model = _trained(factory)
    state = json.loads(json.dumps(model.to_state()))
    restored = type(model).from_state(state)
    for x in _probes():
        assert abs(model.predict_one(x) - restored.predict_one(x)) < 1e-12, "state lost"
    # and both keep learning the same way
    for x, y in stream(200, seed=3):
        model.learn_one(x, y)
        restored.learn_one(x, y)
    for x in _probes():
        assert abs(model.predict_one(x) - restored.predict_one(x)) < 1e-12, "diverged"


def check_reproducible(factory: Factory) -> None:
    a, b = _trained(factory), _trained(factory)
    assert [a.predict_one(x) for x in _probes()] == [b.predict_one(x) for x in _probes()]


def check_clone_is_fresh(factory: Factory) -> None:
    model = _trained(factory)
    fresh = model.clone()
    assert all(fresh.predict_one(x) == 0.5 for x in _probes()), "clone() must forget"
    assert model.predict_one(_probes()[0]) != 0.5, "clone() must not reset the original"


CHECKS: tuple[Callable[[Factory], None], ...] = (
    check_fresh_model_is_undecided,
    check_outputs_are_probabilities,
    check_inputs_not_mutated,
    check_feature_order_irrelevant,
    check_learning_is_visible,
    check_state_round_trips,
    check_reproducible,
    check_clone_is_fresh,
)


def check_model(factory: Factory) -> None:
    for check in CHECKS:
        check(factory)
