"""The engine's ADM model bank: vectorised scoring, privacy, cold start, state, exploration."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import numpy as np
import pytest

from nextbest.config.compiled import CompiledConfig
from nextbest.learning import AdmModels, model_features, predictor_kinds
from nextbest.learning.datamart import model_snapshot_frame
from nextbest.learning.uniform import in_control_group
from nextbest.store import open_store
from nextbest.testing import SMALL_BANK, T0, FixedClock, make_config, make_engine
from nextbest.types import DecisionRequest, Placement

CONFIG = make_config()
ACTIONS = [a.id for a in CONFIG.actions]


def customer(rng: random.Random) -> dict[str, object]:
    return {
        "age": rng.randint(18, 80),
        "income": rng.choice([20000, 40000, 80000]),
        "in_arrears": rng.random() < 0.1,
        "timezone": "Europe/Berlin",
        "first_name": rng.choice(["Ada", "Bo"]),
        "gender": rng.choice(["f", "m"]),
    }


def trained(
    mode: str = "improved", cold_start: str = "none", n: int = 3000, *, pool: bool = True
) -> AdmModels:
    bank = AdmModels(mode=mode, cold_start=cold_start, pool_channels=pool)
    bank.bind(CONFIG)
    rng = random.Random(3)
    for _ in range(n):
        traits = customer(rng)
        x = model_features(CONFIG, traits, {"page": rng.choice(["cards", "home"])})
        action = rng.choice(ACTIONS)
        p = 0.05 + 0.3 * (traits["age"] < 30) * (action == "student-card")  # type: ignore[operator]
        bank.learn_one(action, "web", rng.random() < p, x)
    return bank


def test_predictors_are_declared_fields_without_pii_or_protected_ones() -> None:
    kinds = predictor_kinds(CONFIG)
    assert kinds == {
        "age": "numeric",
        "income": "numeric",
        "in_arrears": "symbolic",
        "timezone": "symbolic",
        "context.page": "symbolic",
    }
    x = model_features(CONFIG, {"age": 30, "first_name": "Ada", "gender": "f"}, {"page": "x"})
    assert x == {"age": 30, "context.page": "x"}


@pytest.mark.parametrize("mode", ["adm", "improved"])
@pytest.mark.parametrize("pool", [True, False])
def test_vectorised_scores_equal_each_models_own_prediction(mode: str, pool: bool) -> None:
    bank = trained(mode, pool=pool)
    rng = random.Random(8)
    idx = np.arange(len(ACTIONS))
    for _ in range(50):
        x = model_features(CONFIG, customer(rng), {"page": "cards"})
        means = bank.posterior(idx, "web", x).mean()
        for i, action in enumerate(ACTIONS):
            model = bank.models.get(f"{action}@*" if pool else f"{action}@web")
            seen = {**x, "request.channel": "web"} if pool else x
            expected = 0.5 if model is None else model.predict_one(seen)
            assert means[i] == pytest.approx(expected, abs=1e-9)


def on_two_channels(config: CompiledConfig, n: int) -> tuple[AdmModels, random.Random]:
    """A pooled bank after n responses to gold-card: 30 % accept on the web, 3 % by e-mail."""
    bank = AdmModels(cold_start="none", min_positives=0, pool_channels=True)
    bank.bind(config)
    rng = random.Random(4)
    for _ in range(n):
        x = model_features(config, customer(rng), {"page": "home"})
        channel = rng.choice(["web", "email"])
        bank.learn_one("gold-card", channel, rng.random() < (0.3 if channel == "web" else 0.03), x)
    return bank, rng


def test_pooled_channels_make_one_model_whose_predictor_is_the_channel() -> None:
    bank, rng = on_two_channels(CONFIG, 4000)
    assert {k for k in bank.models if not k.startswith("group/")} == {"gold-card@*"}
    model = bank.models["gold-card@*"]
    gold = np.array([CONFIG.action_index["gold-card"]])
    x = model_features(CONFIG, customer(rng), {"page": "home"})
    web, email = (bank.posterior(gold, c, x).mean()[0] for c in ("web", "email"))
    assert web > 3 * email  # 10× in truth
    assert web == pytest.approx(model.predict_one({**x, "request.channel": "web"}), abs=1e-9)
    assert "request.channel" in bank.explain(int(gold[0]), "email", x)
    assert bank.positives(gold, "web")[0] == bank.positives(gold, "email")[0] > 0
    (report,) = bank.reports(0.0)
    assert (report.model_id, report.channel, report.direction) == ("gold-card@*", "*", "")
    snapshot = model_snapshot_frame([report])
    assert snapshot["pyChannel"].to_list() == [""]  # no channel in the model's context


def test_an_excluded_channel_predictor_leaves_pooled_models_channel_blind() -> None:
    config = make_config(
        {
            "nextbest.yaml": SMALL_BANK["nextbest.yaml"]
            + "learning:\n  exclude_predictors: [request.channel]\n"
        }
    )
    bank, rng = on_two_channels(config, 2000)
    assert "request.channel" not in bank.models["gold-card@*"].encoder.names
    gold = np.array([config.action_index["gold-card"]])
    x = model_features(config, customer(rng), {"page": "home"})
    assert bank.posterior(gold, "web", x).mean()[0] == bank.posterior(gold, "email", x).mean()[0]


def test_models_of_another_model_context_are_kept_but_not_listed() -> None:
    per_channel = trained(n=300, pool=False)
    pooled = AdmModels(cold_start="none")
    pooled.load_state(per_channel.to_state())
    pooled.bind(CONFIG)
    assert any(k.endswith("@web") for k in pooled.models)  # kept: switching back finds them
    assert pooled.describe() == [] and pooled.reports(0.0) == []
    pooled.learn_one("gold-card", "web", True, {"age": 30})
    assert [m["model_id"] for m in pooled.describe()] == ["gold-card@*"]
    assert [r.model_id for r in pooled.reports(0.0)] == ["gold-card@*"]


def test_learning_finds_the_segment_that_responds() -> None:
    bank = trained("improved")
    student = CONFIG.action_index["student-card"]
    young = model_features(CONFIG, {"age": 22, "income": 20000}, {"page": "home"})
    old = model_features(CONFIG, {"age": 70, "income": 20000}, {"page": "home"})
    idx = np.array([student])
    assert (
        bank.posterior(idx, "web", young).mean()[0] > 2 * bank.posterior(idx, "web", old).mean()[0]
    )


def test_protected_and_pii_values_never_change_a_score() -> None:
    bank = trained("improved")
    idx = np.arange(len(ACTIONS))
    base = {"age": 25, "income": 40000, "in_arrears": False}
    scores = {
        bank.posterior(idx, "web", model_features(CONFIG, {**base, **extra}, {})).mean().tobytes()
        for extra in ({"gender": "f"}, {"gender": "m"}, {"first_name": "X"}, {})
    }
    assert len(scores) == 1


def test_state_round_trips_through_json() -> None:
    bank = trained("adm")
    restored = AdmModels(mode="adm", cold_start="none")
    restored.load_state(json.loads(json.dumps(bank.to_state())))
    restored.bind(CONFIG)
    idx = np.arange(len(ACTIONS))
    rng = random.Random(5)
    for _ in range(20):
        x = model_features(CONFIG, customer(rng), {"page": "home"})
        assert np.allclose(
            bank.posterior(idx, "web", x).mean(),
            restored.posterior(idx, "web", x).mean(),
            atol=1e-12,
        )


def test_a_new_action_starts_at_its_groups_rate_with_the_hierarchical_prior() -> None:
    rng = random.Random(1)
    for cold_start, expect in (("hierarchical", (0.05, 0.2)), ("none", (0.45, 0.55))):
        bank = AdmModels(cold_start=cold_start)
        bank.bind(CONFIG)
        for _ in range(600):  # gold-card (group cards) converts at about 10 %
            bank.learn_one("gold-card", "web", rng.random() < 0.1, {"age": 40})
        new = np.array([CONFIG.action_index["student-card"]])  # same group, never shown
        mean = bank.posterior(new, "web", {"age": 40}).mean()[0]
        assert expect[0] < mean < expect[1], (cold_start, mean)


def test_thompson_draws_follow_the_posterior_and_narrow_with_evidence() -> None:
    rng = np.random.default_rng(0)
    idx = np.array([CONFIG.action_index["gold-card"]])
    young = AdmModels(cold_start="none")
    young.bind(CONFIG)
    old = AdmModels(cold_start="none")
    old.bind(CONFIG)
    r = random.Random(2)
    for bank, n in ((young, 30), (old, 3000)):
        for _ in range(n):
            bank.learn_one("gold-card", "web", r.random() < 0.2, {"age": 40})
    x = {"age": 40}
    for bank in (young, old):
        draws = bank.posterior(idx, "web", x).sample(rng, 4000)[:, 0]
        lo, hi = bank.posterior(idx, "web", x).bounds()
        assert abs(draws.mean() - bank.posterior(idx, "web", x).mean()[0]) < 0.01
        assert (draws >= lo[0]).mean() > 0.999 and (draws <= hi[0]).mean() > 0.999
    spread_young = young.posterior(idx, "web", x).sample(rng, 4000).std()
    spread_old = old.posterior(idx, "web", x).sample(rng, 4000).std()
    assert spread_old < spread_young / 3


def test_control_group_is_sticky_for_a_month_and_about_two_percent() -> None:
    ids = [f"C{i:06d}" for i in range(20000)]
    members = [c for c in ids if in_control_group(c, T0, 0.02)]
    assert 0.015 < len(members) / len(ids) < 0.025
    later = T0 + timedelta(days=1)
    assert all(in_control_group(c, later, 0.02) for c in members[:50])
    assert not in_control_group(None, T0, 0.02)


def test_engine_marks_control_group_decisions_and_scores_them_at_random() -> None:
    engine = make_engine()
    member = next(f"C{i}" for i in range(10000) if in_control_group(f"C{i}", T0, 0.02))
    engine.upsert_profile(member, {"age": 40, "income": 50000, "in_arrears": False})
    engine.set_consent(member, "marketing", "granted")
    request = DecisionRequest(
        channel="web", placements=(Placement("sidebar", 2),), customer_id=member, assurance_level=1
    )
    decision = engine.decide(request)
    assert decision.model_control_group
    stored = engine.get_decision(decision.decision_id)
    assert stored.document["model_control_group"] is True
    assert all(a.model_propensity == 0.5 for a in decision.actions)


def test_late_outcomes_train_on_the_decision_time_values() -> None:
    engine = make_engine()
    engine.upsert_profile("c1", {"age": 25, "income": 50000, "in_arrears": False})
    engine.set_consent("c1", "marketing", "granted")
    request = DecisionRequest(
        channel="web", placements=(Placement("hero", 1),), customer_id="c1", assurance_level=1
    )
    decision = engine.decide(request)
    assert decision.features["age"] == 25
    engine.upsert_profile("c1", {"age": 61})  # the customer's profile moves on
    action = decision.actions[0].action_id
    engine.record_outcome(decision.decision_id, action, "accepted")
    model = engine.models.models[f"{action}@*"]  # type: ignore[attr-defined]
    age = model.encoder.names.index("age")
    assert model.res[0, age] == 25


def test_models_survive_a_restart_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nextbest.decision.engine import Engine

    db = str(tmp_path / "nb.db")
    clock = FixedClock(T0)
    engine = Engine(open_store(db), make_config(), clock=clock, seed=1)
    rng = random.Random(4)
    for i in range(60):
        engine.upsert_profile(f"c{i}", {"age": 20 + i, "income": 50000, "in_arrears": False})
        engine.set_consent(f"c{i}", "marketing", "granted")
        decision = engine.decide(
            DecisionRequest(
                channel="web",
                placements=(Placement("hero", 1),),
                customer_id=f"c{i}",
                assurance_level=1,
            )
        )
        for a in decision.actions:
            engine.record_outcome(
                decision.decision_id, a.action_id, "accepted" if rng.random() < 0.3 else "rejected"
            )
    idx = np.arange(len(ACTIONS))
    x = {"age": 30, "income": 50000}
    before = engine.models.posterior(idx, "web", x).mean()
    engine.close()
    reopened = Engine(open_store(db), make_config(), clock=clock, seed=1)
    assert np.allclose(reopened.models.posterior(idx, "web", x).mean(), before, atol=1e-12)
    reopened.close()


def test_bulk_learning_equals_one_response_at_a_time() -> None:
    rng = random.Random(6)
    responses = []
    for _ in range(400):
        traits = customer(rng)
        x = model_features(CONFIG, traits, {"page": rng.choice(["cards", "home"])})
        responses.append((rng.choice(ACTIONS), "web", rng.random() < 0.2, x))
    one, bulk = AdmModels(min_positives=0), AdmModels(min_positives=0)
    for bank in (one, bulk):
        bank.bind(CONFIG)
    for action, channel, y, x in responses:
        one.learn_one(action, channel, y, x)
    bulk.learn_many(responses)
    idx = np.arange(len(ACTIONS))
    for _, _, _, x in responses[:30]:
        assert np.allclose(
            one.posterior(idx, "web", x).mean(), bulk.posterior(idx, "web", x).mean(), atol=1e-9
        )


def test_explained_decisions_name_the_models_top_factors_and_never_protected_ones() -> None:
    from nextbest.decision.engine import Engine
    from nextbest.store.memory import MemoryStore

    bank = AdmModels(min_positives=0)
    engine = Engine(MemoryStore(), CONFIG, clock=FixedClock(T0), seed=2, models=bank)
    rng = random.Random(9)
    responses = []
    for _ in range(1500):
        traits = customer(rng)
        x = model_features(CONFIG, traits, {"page": rng.choice(["cards", "home"])})
        action = rng.choice(ACTIONS)
        young = traits["age"] < 30  # type: ignore[operator]
        responses.append((action, "web", rng.random() < (0.4 if young else 0.05), x))
    bank.learn_many(responses)
    engine.upsert_profile("c1", {"age": 22, "income": 40000, "in_arrears": False, "gender": "f"})
    engine.set_consent("c1", "marketing", "granted")
    request = DecisionRequest(
        channel="web",
        placements=(Placement("sidebar", 2),),
        customer_id="c1",
        assurance_level=1,
        explain=True,
    )
    decision = engine.decide(request)
    assert not decision.model_control_group  # c1 is not in this month's control group
    factors = [r for a in decision.actions for r in a.reasons if r.startswith("model: ")]
    assert factors and all("age = 22" in r for r in factors)
    assert not any("gender" in r or "first_name" in r for r in factors)
