"""The simulator: reproducible, and the acceptance bar of the engine core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.cli.main import World
from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.demo.truth import WORLDS
from nextbest.sim.simulator import START, simulate


def small_run(db: Path, world: str = "segmented") -> dict[str, Any]:
    engine = Engine.open(str(db), None, clock=FixedClock(START), seed=3)
    try:
        return simulate(
            engine, days=2, customers=300, interactions_per_day=80, seed=3, world=world
        ).as_dict()
    finally:
        engine.close()


def test_same_seed_same_report(tmp_path: Path) -> None:
    first = small_run(tmp_path / "a.db")
    assert first == small_run(tmp_path / "b.db")
    assert first["config_version"]
    assert first["world"] == "segmented"


def test_the_world_is_chosen_by_name(tmp_path: Path) -> None:
    mild = small_run(tmp_path / "mild.db", "mild")
    assert mild["world"] == "mild"
    segmented = small_run(tmp_path / "segmented.db")
    # the same customers and dice: only the truth differs, and with it the oracle's result
    assert mild["days"] != segmented["days"]
    result = CliRunner().invoke(
        app, ["simulate", "--world", "flat", "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2
    assert "flat" in result.output and "segmented" in result.output


def test_learning_beats_random_by_half_again(tmp_path: Path) -> None:
    """The acceptance bars, run exactly as a user would: 30 days on the demo bank (its
    default, segmented world)."""
    result = CliRunner().invoke(
        app, ["simulate", "--days", "30", "--json", "--db", str(tmp_path / "sim.db")]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["days"]) == 30
    engine = report["last5_acceptance_rate"]
    baseline = report["last5_baseline_acceptance_rate"]
    oracle = report["last5_oracle_acceptance_rate"]
    learnable = report["last5_learnable_acceptance_rate"]
    assert engine >= 1.5 * baseline, report
    assert oracle >= learnable >= engine * 0.95
    # issue 3: the ADM-class models beat a Beta-Bernoulli rate per action × channel by 20 %
    # (1.222× for this seed; 1.10× with a model per action × channel, 1.01× as ADM is
    # documented; in the mild world 1.12×, where even the learnable arm reaches only 1.13×)
    assert report["last5_lift_vs_beta"] >= 1.2, report


def test_the_command_offers_every_world() -> None:
    assert {world.value for world in World} == set(WORLDS)
