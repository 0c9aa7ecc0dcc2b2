"""The command line, end to end on real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from nextbest.cli import app
from nextbest.testing import SMALL_BANK, write_config

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_config_validate_demo_bank() -> None:
    code, out, _ = run("config", "validate", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["valid"] and summary["issues"] == 6 and summary["actions"] >= 90


def test_config_validate_reports_every_problem(tmp_path: Path) -> None:
    files = dict(SMALL_BANK)
    files["policies.yaml"] = files["policies.yaml"].replace("age >= 18", "age >= ")
    files["issues/information.yaml"] = files["issues/information.yaml"].replace(
        "value: 1", "value: x + 1"
    )
    write_config(tmp_path, files)
    code, out, err = run("config", "validate", str(tmp_path))
    assert code == 1
    assert "policies.yaml line 1: rule `age >=`: expected a value after `>=`" in err
    assert (
        "issues/information.yaml line 6: action `info-tips`: rule `x + 1`: unknown field `x`" in err
    )
    code, out, _ = run("config", "validate", str(tmp_path), "--json")
    problems = json.loads(out)["problems"]
    assert {(p["file"], p["line"]) for p in problems} == {
        ("policies.yaml", 1),
        ("issues/information.yaml", 6),
    }


def test_import_decide_outcome_history(tmp_path: Path) -> None:
    db = str(tmp_path / "nb.db")
    config = tmp_path / "config"
    write_config(config, SMALL_BANK)
    csv = tmp_path / "people.csv"
    csv.write_text(
        "customer_id,first_name,age,income,in_arrears,products\n"
        "c1,Ada,40,50000,false,CHECKING|SAVINGS\n"
        "c2,Bo,young,1000,false,\n"
        ",Cy,30,1,true,\n"
    )
    code, out, _ = run(
        "import", "profiles", str(csv), "--db", db, "--config", str(config), "--json"
    )
    assert code == 0, out
    summary = json.loads(out)
    assert summary["imported"] == 1 and summary["rejected"] == 2
    assert {"row": 3, "field": "age", "message": "expected a number, got `young`"} in summary[
        "errors"
    ]

    parquet = tmp_path / "more.parquet"
    pl.DataFrame({"customer_id": ["c3"], "age": [25], "in_arrears": [False]}).write_parquet(parquet)
    code, out, _ = run(
        "import", "profiles", str(parquet), "--db", db, "--config", str(config), "--json"
    )
    assert json.loads(out)["imported"] == 1

    code, out, err = run(
        "decide", "--channel", "web", "--placement", "hero", "--placement", "sidebar:2",
        "--customer", "c1", "--assurance", "1", "--context", "page=cards", "--explain",
        "--db", db, "--config", str(config), "--json",
    )  # fmt: skip
    assert code == 0, err
    decision = json.loads(out)
    assert decision["config_version"] and decision["actions"]
    # no marketing consent was imported: only the service action may come back
    assert {a["action_id"] for a in decision["actions"]} == {"info-tips"}
    action = decision["actions"][0]["action_id"]

    code, out, _ = run(
        "outcome",
        decision["decision_id"],
        action,
        "accepted",
        "--db",
        db,
        "--config",
        str(config),
        "--json",
    )
    assert code == 0 and json.loads(out) == {"recorded": True, "duplicate": False}
    code, out, _ = run(
        "outcome",
        decision["decision_id"],
        action,
        "accepted",
        "--db",
        db,
        "--config",
        str(config),
        "--json",
    )
    assert json.loads(out) == {"recorded": False, "duplicate": True}
    code, _, err = run(
        "outcome", "no-such-decision", action, "accepted", "--db", db, "--config", str(config)
    )
    assert code == 1 and "decision_id: no decision `no-such-decision`" in err

    code, out, _ = run(
        "consent", "c1", "marketing", "granted", "--db", db, "--config", str(config), "--json"
    )
    assert code == 0 and json.loads(out)["purposes"]["marketing"] == {
        "allowed": True,
        "reason": "consent granted",
    }
    code, _, err = run(
        "consent", "c1", "marketting", "granted", "--db", db, "--config", str(config)
    )
    assert code == 1 and "purpose: unknown purpose `marketting`" in err

    code, out, _ = run("history", "--customer", "c1", "--db", db, "--json")
    data = json.loads(out)
    assert data["counts"]["decisions"] == 1
    assert [r["outcome"] for r in data["interactions"]] == ["accepted"]
    code, out, _ = run("history", "--decision", decision["decision_id"], "--db", db, "--json")
    assert json.loads(out)["decision"]["decision_id"] == decision["decision_id"]


def test_decide_rejects_bad_input_with_the_field(tmp_path: Path) -> None:
    db = str(tmp_path / "nb.db")
    code, _, err = run("decide", "--channel", "fax", "--placement", "hero", "--db", db)
    assert code == 1 and "channel: unknown channel `fax`" in err
    code, _, err = run("decide", "--channel", "web", "--placement", "hero:x", "--db", db)
    assert code == 2 and "--placement `hero:x`" in err
    code, _, err = run("import", "profiles", str(tmp_path / "missing.csv"), "--db", db)
    assert code == 1 and "file not found" in err


def test_simulate_json(tmp_path: Path) -> None:
    db = str(tmp_path / "sim.db")
    code, out, err = run(
        "simulate",
        "--days",
        "2",
        "--customers",
        "300",
        "--interactions",
        "60",
        "--db",
        db,
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert len(report["days"]) == 2 and report["days"][0]["interactions"] == 60
    for key in (
        "last5_acceptance_rate",
        "last5_baseline_acceptance_rate",
        "last5_oracle_acceptance_rate",
        "last5_learnable_acceptance_rate",
    ):
        assert 0 <= report[key] <= 1


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    code, out, err = run(
        "demo",
        "--days",
        "2",
        "--customers",
        "200",
        "--interactions",
        "40",
        "--db",
        str(tmp_path / "d.db"),
        "--no-serve",
    )
    assert code == 0, err
    assert "last 5 days" in out and "nextbest decide" in out
