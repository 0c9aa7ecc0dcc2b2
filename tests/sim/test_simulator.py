"""The simulator: reproducible, and the acceptance bar of the engine core."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.sim.simulator import START, simulate


def small_run(db: Path) -> dict[str, object]:
    engine = Engine.open(str(db), None, clock=FixedClock(START), seed=3)
    try:
        return simulate(engine, days=2, customers=300, interactions_per_day=80, seed=3).as_dict()
    finally:
        engine.close()


def test_same_seed_same_report(tmp_path: Path) -> None:
    first = small_run(tmp_path / "a.db")
    assert first == small_run(tmp_path / "b.db")
    assert first["config_version"]


def test_learning_beats_random_by_half_again(tmp_path: Path) -> None:
    """The issue's acceptance bar, run exactly as a user would: 30 days on the demo bank."""
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
    # issue 3: one model per action over all channels beats a rate per action × channel
    # (1.12× for this seed; 0.98× with a model per action × channel)
    assert report["last5_lift_vs_beta"] >= 1.05, report
