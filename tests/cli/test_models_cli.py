"""`nextbest models report` and `nextbest models export`, on an engine with fabricated models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pdstools import IH, ADMDatamart
from typer.testing import CliRunner

from nextbest.cli import app, models
from nextbest.learning.report import ModelReport
from nextbest.store.base import Store
from nextbest.testing import T0, FixedClock
from tests.learning.test_datamart import engine_with_history, fabricated_reports

runner = CliRunner()


class FakeEngine:
    """What the commands use of an engine, with the models the ADM bank would report."""

    def __init__(self, reports: list[ModelReport], store: Store) -> None:
        self.reports, self.store, self.clock = reports, store, FixedClock(T0)
        self.closed = False

    def model_reports(self) -> list[ModelReport]:
        return self.reports

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine(fabricated_reports(), engine_with_history()[0].store)
    monkeypatch.setattr(models, "_open", lambda db, config: fake)
    return fake


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception  # errors are messages, never tracebacks
    return result.exit_code, result.stdout, result.stderr


def test_report_json_lists_every_model(engine: FakeEngine) -> None:
    code, out, _ = run("models", "report", "--json")
    assert code == 0 and engine.closed
    found = json.loads(out)["models"]
    assert [m["model_id"] for m in found] == sorted(r.model_id for r in engine.reports)
    gold = next(m for m in found if m["model_id"] == "gold-card@web")
    assert gold["responses"] == 1000 and gold["positives"] == 120
    assert gold["success_rate"] == pytest.approx(0.12)
    assert (gold["active_predictors"], gold["total_predictors"]) == (2, 3)
    assert [p["name"] for p in gold["top_predictors"]] == ["Customer.Products", "Customer.Age"]
    assert set(gold["top_predictors"][0]) == {"name", "performance", "importance"}
    assert gold["binning"]["classifier"]["entry_type"] == "Classifier"
    assert len(gold["binning"]["predictors"][0]["bins"]) == 5


def test_report_table(engine: FakeEngine) -> None:
    code, out, _ = run("models", "report")
    assert code == 0
    assert "3 adaptive models" in out and "gold-card@web" in out
    assert "12.00%" in out and "0.834" in out and "2/3" in out


def test_export_writes_a_datamart_pdstools_loads(engine: FakeEngine, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    code, out, _ = run(
        "models", "export", "--format", "pega-datamart", "--out", str(folder), "--json"
    )
    assert code == 0 and engine.closed
    summary = json.loads(out)
    assert (summary["models"], summary["interactions"]) == (3, 5)
    assert len(summary["files"]) == 3 and all(Path(f).parent == folder for f in summary["files"])
    dm = ADMDatamart.from_ds_export(base_path=folder)
    assert dm.model_data is not None and dm.model_data.collect().height == 3
    assert IH.from_ds_export(summary["files"][2]).data.collect().height == 5


def test_export_defaults_to_pega_datamart(engine: FakeEngine, tmp_path: Path) -> None:
    code, out, _ = run("models", "export", "--out", str(tmp_path))
    assert code == 0
    assert "exported 3 models and 5 interactions" in out


def test_export_rejects_an_unknown_format(engine: FakeEngine, tmp_path: Path) -> None:
    code, out, err = run("models", "export", "--format", "csv", "--out", str(tmp_path))
    assert code != 0
    assert "--format `csv`" in err and "pega-datamart" in err
    assert "Traceback" not in out + err
    assert not engine.closed  # refused before opening anything
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_file_as_out(engine: FakeEngine, tmp_path: Path) -> None:
    target = tmp_path / "models.parquet"
    target.write_text("")
    code, _, err = run("models", "export", "--out", str(target))
    assert code != 0 and "--out" in err and "not a folder" in err


def test_export_reports_an_unwritable_out(engine: FakeEngine, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run("models", "export", "--out", str(blocker / "sub"))
    assert code != 0 and "--out" in err and "cannot write" in err
    assert engine.closed


def test_export_needs_out(engine: FakeEngine) -> None:
    code, out, err = run("models", "export")
    assert code == 2 and "--out" in out + err


def test_expire_without_a_timeout_expires_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "expire", "--json", "--db", str(tmp_path / "e.db")])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"expired": 0}


def test_keys_create_prints_the_key_last_and_stores_only_its_digest(tmp_path: Path) -> None:
    db = str(tmp_path / "k.db")
    runner = CliRunner()
    created = runner.invoke(
        app, ["keys", "create", "--role", "agent", "--name", "desk", "--db", db]
    )
    assert created.exit_code == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("nb_")
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json", "--db", db]).stdout)["keys"]
    assert [(k["name"], k["role"]) for k in listed] == [("desk", "agent")]
    assert secret not in (tmp_path / "k.db").read_bytes().decode("latin-1")
    revoked = runner.invoke(app, ["keys", "revoke", listed[0]["key_id"], "--db", db])
    assert revoked.exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", listed[0]["key_id"], "--db", db]).exit_code == 1
    bad = runner.invoke(app, ["keys", "create", "--role", "wizard", "--db", db])
    assert bad.exit_code == 1 and "--role" in bad.stderr
