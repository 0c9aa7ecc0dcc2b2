"""The cold-start experiment: a new action with and without the hierarchical prior."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.config.loader import load_config
from nextbest.decision.engine import DEMO_CONFIG
from nextbest.sim.coldstart import CHECKPOINTS, cold_start_experiment


def test_the_hierarchical_prior_starts_near_the_truth_and_adm_at_one_half() -> None:
    report = cold_start_experiment(load_config(DEMO_CONFIG), actions=2, warm=1500, seed=3)
    data = report.as_dict()
    hierarchical, none = data["curves"]["hierarchical"], data["curves"]["none"]
    assert [row["responses"] for row in none] == list(CHECKPOINTS)
    assert abs(none[0]["rate_error"] - abs(0.5 - data["true_rate"])) < 1e-9  # ADM's 0.5
    assert hierarchical[0]["rate_error"] < none[0]["rate_error"] / 3
    # both learn: after 400 responses each is far nearer the truth than at the start
    assert none[-1]["rate_error"] < none[0]["rate_error"] / 5
    assert hierarchical[-1]["mean_abs_error"] < 0.1
    assert (
        data["faster"]
        and data["early_rate_error"]["hierarchical"] < data["early_rate_error"]["none"]
    )


def test_cli_prints_both_curves() -> None:
    result = CliRunner().invoke(app, ["simulate", "--cold-start", "--json", "--seed", "2"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["curves"]) == {"hierarchical", "none"}
    assert len(data["action_ids"]) >= 2
