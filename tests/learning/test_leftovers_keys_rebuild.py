"""Model states in the store: an unpooled ADM bank and the Beta rates keep apart keys, and
a bank rebuilt by a reload keeps every model's reservoir rows."""

from __future__ import annotations

import random
from pathlib import Path

from nextbest.config.loader import load_config
from nextbest.decision.engine import Engine
from nextbest.learning import RESERVOIR_SUFFIX, AdmModels, BetaBernoulliModels, model_features
from nextbest.store.memory import MemoryStore
from nextbest.testing import SMALL_BANK, T0, FixedClock, make_config, write_config
from nextbest.types import DecisionRequest, Placement

CONFIG = make_config()
STATE_PREFIX = "beta/"  # where the Beta rates are stored (`nextbest.learning.beta`)


def settings(folder: Path, learning: str) -> Path:
    """The small bank with `learning` as nextbest.yaml's learning section."""
    nextbest = SMALL_BANK["nextbest.yaml"] + f"learning:\n{learning}"
    return write_config(folder, {**SMALL_BANK, "nextbest.yaml": nextbest})


def answer(engine: Engine, n: int, seed: int) -> None:
    """`n` decisions on the web hero, each action answered (and learned)."""
    rng = random.Random(seed)
    for i in range(n):
        customer = f"s{seed}-c{i}"
        engine.upsert_profile(customer, {"age": 20 + i % 40, "income": 60000})
        engine.set_consent(customer, "marketing", "granted")
        request = DecisionRequest(
            channel="web",
            placements=(Placement("hero", 1),),
            customer_id=customer,
            assurance_level=1,
        )
        decision = engine.decide(request)
        for a in decision.actions:
            outcome = rng.choice(["accepted", "rejected"])
            engine.record_outcome(decision.decision_id, a.action_id, outcome)


def responses(engine: Engine) -> dict[str, float]:
    return {m["model_id"]: m["responses"] for m in engine.models.describe()}


def test_unpooled_adm_models_and_beta_rates_are_stored_under_different_keys() -> None:
    adm, beta = AdmModels(pool_channels=False), BetaBernoulliModels()
    for bank in (adm, beta):
        bank.bind(CONFIG)
    x = model_features(CONFIG, {"age": 30}, {})
    saved = adm.learn_one("gold-card", "web", True, x)
    assert "gold-card@web" in saved  # the model id: Pega's model context
    assert not set(saved) & set(beta.learn_one("gold-card", "web", True, x))
    assert not set(adm.to_state()) & set(beta.to_state())


def test_a_switch_of_model_kind_and_back_keeps_the_unpooled_models(tmp_path: Path) -> None:
    folder = settings(tmp_path, "  pool_channels: false\n")
    engine = Engine(MemoryStore(), load_config(folder), clock=FixedClock(T0), seed=1)
    answer(engine, 10, seed=3)
    adm_learned = responses(engine)
    assert any(not k.startswith("group/") and k.endswith("@web") for k in adm_learned)

    engine.reload(settings(folder, "  pool_channels: false\n  model: beta\n"))
    assert isinstance(engine.models, BetaBernoulliModels)
    answer(engine, 8, seed=4)
    beta_learned = responses(engine)
    assert set(beta_learned) & set(adm_learned)  # the same action × channel, both kinds

    engine.reload(settings(folder, "  pool_channels: false\n"))
    assert responses(engine) == adm_learned  # not overwritten by the Beta rates
    answer(engine, 6, seed=5)
    engine.reload(settings(folder, "  pool_channels: false\n  model: beta\n"))
    assert responses(engine) == beta_learned  # nor they by the ADM models


def test_beta_rates_saved_under_the_model_id_load_and_move_under_the_prefix() -> None:
    old = {"gold-card@web": {"alpha": 3.0, "beta": 2.0}, "savings-plan@web": {"alpha": 2.0}}
    models = BetaBernoulliModels()
    models.load_state(old)
    models.bind(CONFIG)
    rows = {r["model_id"]: r["responses"] for r in models.describe()}
    assert rows == {"gold-card@web": 3.0}  # an incomplete state is not a Beta state
    saved = models.learn_one("student-card", "web", positive=True)
    assert saved == {
        f"{STATE_PREFIX}student-card@web": {"alpha": 2.0, "beta": 1.0},
        f"{STATE_PREFIX}gold-card@web": {"alpha": 3.0, "beta": 2.0},
    }
    assert list(models.learn_one("student-card", "web", positive=True)) == [
        f"{STATE_PREFIX}student-card@web"
    ]
    # the prefixed state wins over one left under the model id
    newer = BetaBernoulliModels()
    newer.load_state({**old, **models.to_state()})
    newer.bind(CONFIG)
    assert {r["model_id"]: r["positives"] for r in newer.describe()} == {
        "gold-card@web": 2.0,
        "student-card@web": 2.0,
    }


def test_a_rebuilt_bank_keeps_the_reservoir_rows_since_the_last_analysis(tmp_path: Path) -> None:
    folder = settings(tmp_path, "  prior_strength: 5\n")
    engine = Engine(MemoryStore(), load_config(folder), clock=FixedClock(T0), seed=1)
    answer(engine, 15, seed=3)  # models analyse after 10 responses, then after 20
    before = engine.models
    reservoirs = {k: v for k, v in before.to_state().items() if k.endswith(RESERVOIR_SUFFIX)}
    assert reservoirs and {r["filled"] for r in reservoirs.values()} == {15}

    engine.reload(settings(folder, "  prior_strength: 6\n"))  # a new bank, from the store
    assert engine.models is not before
    rebuilt = engine.models.to_state()
    assert {rebuilt[k]["filled"] for k in reservoirs} == {15}  # not the 10 of the analysis
    assert {k: rebuilt[k] for k in reservoirs} == reservoirs
