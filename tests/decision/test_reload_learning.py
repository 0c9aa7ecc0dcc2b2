"""A reload that changes the `learning:` settings rebuilds the model bank with them, in
the engine that reloads and in every engine that follows it (`follow_config`, then
`refresh_models`), from the states saved in the store — and a switch of model kind starts
the new kind fresh instead of failing on the other kind's states."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nextbest.config.loader import load_config
from nextbest.decision.engine import Engine
from nextbest.learning import AdmModels, BetaBernoulliModels
from nextbest.store import open_store
from nextbest.testing import SMALL_BANK, T0, FixedClock, write_config
from nextbest.types import DecisionRequest, Placement

HERO = (Placement("hero", 1),)
#: an action no decision on the web hero returns: it never learns, so its posterior is the
#: cold-start prior (`prior_strength` pseudo-responses)
UNTRAINED = "quiet-mail"
EXTRA = {
    "issues/quiet.yaml": """\
issue: quiet
groups:
  - group: mail
    actions:
      - id: quiet-mail
        value: 1
        purpose: service
        treatments:
          - {id: quiet-mail-body, channel: email, placement: body, content: Quiet}
""",
}


def settings(folder: Path, learning: str) -> None:
    """Write the configuration with `learning` as nextbest.yaml's learning section."""
    nextbest = SMALL_BANK["nextbest.yaml"] + (f"learning:\n{learning}" if learning else "")
    write_config(folder, {**SMALL_BANK, **EXTRA, "nextbest.yaml": nextbest})


def engine_on(db: Path, folder: Path, *, learns: bool) -> Engine:
    clock, seed = FixedClock(T0), 1 if learns else 2  # not the same decision ids
    return Engine(open_store(str(db)), load_config(folder), clock=clock, seed=seed, learns=learns)


def answer(learner: Engine, n: int, seed: int = 3) -> None:
    """`n` decisions on the web hero, each action answered (and learned) by `learner`."""
    rng = random.Random(seed)
    for i in range(n):
        customer = f"s{seed}-c{i % 5}"  # new customers: no rejections to pause for
        learner.upsert_profile(customer, {"age": 25 + 7 * (i % 5), "income": 60000})
        learner.set_consent(customer, "marketing", "granted")
        request = DecisionRequest(
            channel="web", placements=HERO, customer_id=customer, assurance_level=1
        )
        decision = learner.decide(request)
        for a in decision.actions:
            outcome = rng.choice(["accepted", "rejected"])
            learner.record_outcome(decision.decision_id, a.action_id, outcome)


def prior_strength(engine: Engine) -> float:
    """Pseudo-responses of the untrained action's posterior."""
    index = engine.config.action_index[UNTRAINED]
    posterior = engine.models.posterior(np.array([index]), "web", {})
    return float(posterior.a[0] + posterior.b[0])


def responses(engine: Engine) -> dict[str, tuple[float, float]]:
    return {m["model_id"]: (m["responses"], m["positives"]) for m in engine.models.describe()}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    settings(folder, "")
    return folder


@pytest.fixture
def engines(tmp_path: Path, folder: Path) -> Iterator[tuple[Engine, Engine]]:
    """A learner and a reader on one file, as a server's worker 0 and another worker."""
    db = tmp_path / "nb.db"
    learner, reader = engine_on(db, folder, learns=True), engine_on(db, folder, learns=False)
    yield learner, reader
    learner.close()
    reader.close()


def test_new_learning_settings_are_in_effect_in_the_reloader_and_its_followers(
    engines: tuple[Engine, Engine], folder: Path
) -> None:
    learner, reader = engines
    answer(learner, 12)
    assert reader.refresh_models()
    learned = responses(learner)
    assert learned and responses(reader) == learned
    assert prior_strength(learner) == prior_strength(reader) == pytest.approx(5.0)

    settings(folder, "  prior_strength: 40\n  mode: adm\n")
    learner.reload(folder)
    assert reader.follow_config() is True
    for engine in (learner, reader):
        assert isinstance(engine.models, AdmModels)
        assert engine.models.prior_strength == 40
        assert engine.models.settings["mode"] == "adm"
        assert prior_strength(engine) == pytest.approx(40.0)
        assert responses(engine) == learned  # the saved states, loaded again

    # they keep agreeing as the learner goes on
    answer(learner, 6, seed=4)
    assert reader.refresh_models()
    assert reader.models.prior_strength == 40
    assert responses(reader) == responses(learner) != learned


def test_a_switch_of_model_kind_and_back_works_in_every_engine(
    engines: tuple[Engine, Engine], folder: Path, tmp_path: Path
) -> None:
    learner, reader = engines
    answer(learner, 10)
    assert reader.refresh_models()
    adm_learned = responses(learner)
    assert adm_learned

    settings(folder, "  model: beta\n")
    learner.reload(folder)
    assert reader.follow_config() is True
    for engine in (learner, reader):
        assert isinstance(engine.models, BetaBernoulliModels)
        assert responses(engine) == {}  # the ADM states are not Beta's: it starts fresh
    answer(learner, 8, seed=4)
    assert reader.refresh_models()  # would fail on the ADM states in the store
    beta_learned = responses(learner)
    assert beta_learned and responses(reader) == beta_learned
    # an engine started on the Beta configuration reads past the ADM states too
    late = engine_on(tmp_path / "nb.db", folder, learns=False)  # on the engines' file
    try:
        assert responses(late) == beta_learned
    finally:
        late.close()

    settings(folder, "")
    learner.reload(folder)
    assert reader.follow_config() is True
    learner.upsert_profile("fresh", {"age": 40, "income": 60000})
    learner.set_consent("fresh", "marketing", "granted")
    fresh = DecisionRequest(channel="web", placements=HERO, customer_id="fresh", assurance_level=1)
    for engine in (learner, reader):
        assert isinstance(engine.models, AdmModels)
        # the ADM states saved before the switch; Beta's are passed over
        assert responses(engine) == adm_learned
        assert engine.decide(fresh).actions
    answer(learner, 6, seed=5)
    assert reader.refresh_models()
    assert responses(reader) == responses(learner) != adm_learned


def test_the_bank_is_rebuilt_only_when_its_settings_change(
    engines: tuple[Engine, Engine], folder: Path
) -> None:
    learner, reader = engines
    answer(learner, 6)
    reader.refresh_models()
    banks = learner.models, reader.models
    # settings the pipeline reads at each decision, and a change outside `learning:`
    settings(folder, "  control_group: 0.1\n  maturity: {positives: 3}\n")
    (folder / "policies.yaml").write_text(
        SMALL_BANK["policies.yaml"].replace("age >= 18", "age >= 21")
    )
    learner.reload(folder)
    assert reader.follow_config() is True
    assert (learner.models, reader.models) == banks
    assert learner.models is banks[0] and reader.models is banks[1]

    settings(folder, "  control_group: 0.1\n  prior_strength: 12\n")
    learner.reload(folder)
    assert reader.follow_config() is True
    rebuilt = learner.models, reader.models
    assert rebuilt[0] is not banks[0] and rebuilt[1] is not banks[1]
    assert prior_strength(learner) == prior_strength(reader) == pytest.approx(12.0)

    # a change outside `learning:` only
    (folder / "policies.yaml").write_text(
        SMALL_BANK["policies.yaml"].replace("age >= 18", "age >= 30")
    )
    learner.reload(folder)
    assert reader.follow_config() is True
    assert learner.models is rebuilt[0] and reader.models is rebuilt[1]
