"""`nextbest models report`, `nextbest models export` and `nextbest models expire`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from nextbest.cli.main import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    _fail,
    _open,
    _print_json,
    models_app,
    out,
)
from nextbest.errors import NextbestError
from nextbest.learning.report import ModelReport, PredictorBinning

EXPORT_FORMATS = ("pega-datamart",)
TOP_PREDICTORS = 5


def top_predictors(report: ModelReport) -> list[PredictorBinning]:
    """The active predictors that separate best (univariate AUC), then by importance."""
    ranked = sorted(report.binning.active, key=lambda p: (-p.performance, -p.importance, p.name))
    return ranked[:TOP_PREDICTORS]


def model_document(report: ModelReport) -> dict[str, Any]:
    binning = report.binning
    return {
        "model_id": report.model_id,
        "action_id": report.action_id,
        "issue": report.issue,
        "group": report.group,
        "channel": report.channel,
        "direction": report.direction,
        "responses": binning.responses,
        "positives": binning.positives,
        "success_rate": binning.positives / binning.responses if binning.responses else 0.0,
        "auc": binning.auc,
        "active_predictors": len(binning.active),
        "total_predictors": len(binning.predictors),
        "top_predictors": [
            {"name": p.name, "performance": p.performance, "importance": p.importance}
            for p in top_predictors(report)
        ],
        "binning": asdict(binning),
    }


def _reports(engine: Any) -> list[ModelReport]:
    reports: list[ModelReport] = engine.model_reports()
    return sorted(reports, key=lambda r: r.model_id)


@models_app.command("report")
def models_report(
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show every adaptive model: responses, success rate, AUC and its best predictors."""
    engine = _open(db, config)
    try:
        reports = _reports(engine)
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.close()
    if as_json:
        _print_json({"models": [model_document(r) for r in reports]})
        return
    table = Table(title=f"{len(reports)} adaptive models")
    table.add_column("model", no_wrap=True)
    for header in ("issue/group", "responses", "success", "AUC", "predictors", "top predictors"):
        table.add_column(header)
    for r in reports:
        b = r.binning
        table.add_row(
            r.model_id, f"{r.issue}/{r.group}", f"{b.responses:,.0f}",
            f"{b.positives / b.responses:.2%}" if b.responses else "-", f"{b.auc:.3f}",
            f"{len(b.active)}/{len(b.predictors)}",
            ", ".join(p.name for p in top_predictors(r)),
        )  # fmt: skip
    out.print(table)


@models_app.command("export")
def models_export(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write into (created if missing).")
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="Export format: pega-datamart.")
    ] = "pega-datamart",
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export the models and the interaction history as a Pega ADM datamart (Parquet)."""
    # imported here, like polars elsewhere in the CLI: keeps every other command's start fast
    from nextbest.learning.datamart import interaction_history_frame, read_history, write_datamart

    if fmt not in EXPORT_FORMATS:
        raise _fail(f"--format `{fmt}`: unknown export format; use {', '.join(EXPORT_FORMATS)}", 2)
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"--out `{out_dir}`: exists and is not a folder", 2)
    engine = _open(db, config)
    try:
        reports = _reports(engine)
        rows, decisions = read_history(engine.store)
        history = interaction_history_frame(rows, decisions)
        paths = write_datamart(
            reports, history, out_dir, exported_at=engine.clock.now().timestamp()
        )
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # a folder we may not create or write into
        raise _fail(f"--out `{out_dir}`: cannot write: {exc.strerror or exc}") from None
    finally:
        engine.close()
    summary = {
        "format": fmt,
        "models": len(reports),
        "interactions": history.height,
        "files": [str(p) for p in paths],
    }
    if as_json:
        _print_json(summary)
        return
    out.print(f"exported {len(reports)} models and {history.height} interactions to {out_dir}")
    for path in paths:
        out.print(f"  {path.name}", highlight=False, soft_wrap=True)


@models_app.command("expire")
def expire(
    db: DbOption = DEFAULT_DB, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Record the timeout outcome for returned actions older than `learning.response_timeout`."""
    engine = _open(db, config)
    try:
        expired = engine.expire_responses()
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.close()
    if as_json:
        _print_json({"expired": expired})
    else:
        out.print(f"{expired} responses timed out")
