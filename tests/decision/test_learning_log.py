"""Outcomes are learned from the interaction log, up to a mark saved with the models: a
crash loses no learning, and several engines on one SQLite file stay consistent."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

from nextbest.decision.engine import Engine
from nextbest.store import open_store
from nextbest.store.base import OutcomeRecord
from nextbest.testing import T0, FixedClock, make_config
from nextbest.types import DecisionRequest, Placement

HERO = (Placement("hero", 1),)


def engine_on(db: Path, *, learns: bool = True, seed: int = 1) -> Engine:
    clock = FixedClock(T0)
    return Engine(open_store(str(db)), make_config(), clock=clock, seed=seed, learns=learns)


def replayed(db: Path, tmp_path: Path) -> dict[str, tuple[float, float]]:
    """The models of learning the file's whole log again, from nothing."""
    copy = tmp_path / f"replay-of-{db.name}"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM model_state")
        conn.execute("UPDATE learning_mark SET through = 0")
    engine = engine_on(copy)
    try:
        return responses(engine)
    finally:
        engine.close()


def decide_and_answer(engines: list[Engine], n: int, seed: int = 3) -> int:
    """`n` decisions, each answered through the next engine in turn; returns how many
    outcomes train the models."""
    rng = random.Random(seed)
    trained = 0
    for i in range(n):
        engine = engines[i % len(engines)]
        customer = f"c{i % 9}"
        engine.upsert_profile(customer, {"age": 20 + 5 * (i % 9), "income": 50000})
        engine.set_consent(customer, "marketing", "granted")
        request = DecisionRequest(
            channel="web", placements=HERO, customer_id=customer, assurance_level=1
        )
        decision = engine.decide(request)
        for a in decision.actions:
            kind = rng.choice(["accepted", "rejected", "clicked"])
            engine.record_outcome(decision.decision_id, a.action_id, kind)
            trained += kind != "clicked"
    return trained


def responses(engine: Engine) -> dict[str, tuple[float, float]]:
    """Every model's counts, group models too."""
    return {m["model_id"]: (m["responses"], m["positives"]) for m in engine.models.describe()}


def learned(engine: Engine) -> float:
    """Responses learned: the action models' (each response is in one, and in its group's)."""
    return sum(m["responses"] for m in engine.models.describe() if m["action_id"] is not None)


def test_an_outcome_recorded_but_not_learned_is_learned_at_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "nb.db"
    engine = engine_on(db)
    trained = decide_and_answer([engine], 12)
    decision = engine.decide(
        DecisionRequest(channel="web", placements=HERO, customer_id="c1", assurance_level=1)
    )
    action = decision.actions[0]
    # what a crash right after the outcome's commit leaves: the row, not its learning
    engine.store.record_outcome(
        OutcomeRecord(
            decision.decision_id, action.action_id, "accepted", T0.timestamp(), "crash-1",
            "c1", action.issue, f"{action.issue}/{action.group}", "web",
        )
    )  # fmt: skip
    assert learned(engine) == trained
    engine.close()
    reopened = engine_on(db)
    assert learned(reopened) == trained + 1
    assert reopened.catch_up() == 0  # nothing left, nothing learned twice
    reopened.close()
    again = engine_on(db)
    assert learned(again) == trained + 1
    again.close()


def test_a_learner_and_a_reader_on_one_file_agree_with_a_single_engine(tmp_path: Path) -> None:
    shared = tmp_path / "shared.db"
    learner, reader = engine_on(shared), engine_on(shared, learns=False, seed=2)
    trained = decide_and_answer([learner, reader], 40)
    # the reader recorded its outcomes without learning; the learner catches up on them
    assert learned(reader) == 0
    learner.catch_up()
    assert learned(learner) == trained
    assert reader.refresh_models()
    assert responses(reader) == responses(learner)
    assert not reader.refresh_models()  # nothing new since
    learner.close()
    reader.close()
    assert replayed(shared, tmp_path) == responses(reader)


def test_two_learners_on_one_file_both_learn_the_whole_log(tmp_path: Path) -> None:
    db = tmp_path / "nb.db"
    first, second = engine_on(db), engine_on(db, seed=2)
    trained = decide_and_answer([first, second], 30)
    first.catch_up()
    second.catch_up()
    assert responses(first) == responses(second)
    assert learned(first) == trained
    first.close()
    second.close()
    assert replayed(db, tmp_path) == responses(first)
