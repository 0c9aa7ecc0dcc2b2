"""A reload reaches every engine on the store: the one that reloads records the
activation, the others take it (`Engine.follow_config`, what a server's workers run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nextbest.config.loader import load_config
from nextbest.decision.engine import Engine
from nextbest.errors import ConfigError
from nextbest.store import open_store
from nextbest.testing import SMALL_BANK, T0, FixedClock, write_config
from nextbest.types import DecisionRequest, Placement

REQUEST = DecisionRequest(
    channel="web", placements=(Placement("hero", 1),), customer_id="c1", assurance_level=1
)


def engine_on(db: Path, folder: Path) -> Engine:
    engine = Engine(open_store(str(db)), load_config(folder), clock=FixedClock(T0), seed=1)
    engine.upsert_profile("c1", {"age": 45, "income": 80000, "in_arrears": False})
    engine.set_consent("c1", "marketing", "granted")
    return engine


def hero(engine: Engine) -> tuple[str, str | None]:
    """The decision's configuration version and the hero's action (None: nothing)."""
    decision = engine.decide(REQUEST)
    return decision.config_version, decision.actions[0].action_id if decision.actions else None


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config", SMALL_BANK)


@pytest.fixture
def engines(tmp_path: Path, folder: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one file, as two workers of a server."""
    db = tmp_path / "nb.db"
    one, two = engine_on(db, folder), engine_on(db, folder)
    yield one, two
    one.close()
    two.close()


def test_a_reload_reaches_the_other_engines_and_so_does_a_rollback(
    engines: tuple[Engine, Engine], folder: Path
) -> None:
    one, two = engines
    first = one.config.version
    assert two.follow_config() is False  # nothing reloaded yet
    assert hero(two)[1] is not None
    # nobody eligible for anything any more
    policies = folder / "policies.yaml"
    original = policies.read_text()
    policies.write_text(original.replace("eligibility: age >= 18", "eligibility: age >= 99"))
    second = one.reload(folder).version
    assert second != first and two.config.version == first
    assert two.follow_config() is True
    assert two.follow_config() is False  # taken once
    assert two.config.version == second
    assert hero(two) == (second, None)
    # a rollback to a version the store has seen before is news too
    policies.write_text(original)
    assert one.reload(folder).version == first
    assert two.follow_config() is True
    version, action = hero(two)
    assert version == first and action is not None


def test_a_failed_reload_changes_nobody(engines: tuple[Engine, Engine], folder: Path) -> None:
    one, two = engines
    before = one.config.version
    (folder / "policies.yaml").write_text("eligibility: age >>> 18\n")
    with pytest.raises(ConfigError):
        one.reload(folder)
    assert two.follow_config() is False
    assert one.config.version == two.config.version == before


def test_an_engine_that_reloaded_itself_or_started_later_has_nothing_to_follow(
    tmp_path: Path, folder: Path
) -> None:
    db = tmp_path / "nb.db"
    one = engine_on(db, folder)
    try:
        (folder / "policies.yaml").write_text("eligibility: age >= 21\n")
        reloaded = one.reload(folder).version
        assert one.follow_config() is False
        # a later engine runs the configuration it was started with, not an older reload
        write_config(folder, SMALL_BANK)
        later = engine_on(db, folder)
        try:
            assert later.config.version != reloaded
            assert later.follow_config() is False
            assert later.config.version != reloaded
        finally:
            later.close()
    finally:
        one.close()


def test_a_version_that_does_not_compile_here_is_reported_once_and_passed_over(
    engines: tuple[Engine, Engine],
) -> None:
    one, two = engines
    before = two.config.version
    # as if another release had activated files this one cannot compile
    one.store.record_activation("v-other", {"nextbest.yaml": "name: [\n"}, 1.0)
    with pytest.raises(ConfigError):
        two.follow_config()
    assert two.follow_config() is False
    assert two.config.version == before
