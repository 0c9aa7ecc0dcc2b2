"""`nextbest evaluate logged`: off-policy estimates from logged decisions."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nextbest.cli.main import JsonOption, _fail, _print_json, evaluate_app, out
from nextbest.errors import RequestError


class LogFormat(StrEnum):
    NEXTBEST = "nextbest"
    OBD = "obd"


class CandidatePolicy(StrEnum):
    ADAPTIVE = "adaptive"
    UNIFORM = "uniform"


ESTIMATORS = {
    "logged_value": "logged (what the log earned)",
    "replay": "replay",
    "ips": "IPS",
    "snips": "SNIPS",
    "dr": "doubly robust",
}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


@evaluate_app.command("logged")
def logged(
    data: Annotated[Path, typer.Option("--data", help="CSV file of logged decisions.")],
    fmt: Annotated[
        LogFormat, typer.Option("--format", help="Column layout: nextbest or obd (Open Bandit).")
    ] = LogFormat.NEXTBEST,
    policy: Annotated[
        CandidatePolicy, typer.Option(help="Candidate to evaluate: adaptive or uniform.")
    ] = CandidatePolicy.ADAPTIVE,
    min_propensity: Annotated[
        float, typer.Option(help="Clip logged propensities below this (0: no clipping).")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of replay's draws for a random candidate.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Estimate what a candidate strategy would have earned on logged decisions."""
    from nextbest.evaluation.logged import evaluate_logged, read_logged

    try:
        log = read_logged(data, "obd" if fmt is LogFormat.OBD else "nextbest")
        result = evaluate_logged(
            log,
            "uniform" if policy is CandidatePolicy.UNIFORM else "adaptive",
            min_propensity=min_propensity,
            seed=seed,
        )
    except RequestError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(result)
        return
    out.print(
        f"{result['rows']:,} rows, {result['actions']} actions, candidate "
        f"[bold]{result['policy']}[/bold]"
        + (
            f", propensities clipped at {min_propensity:g} ({result['clipped_rows']} rows)"
            if min_propensity
            else ""
        ),
        highlight=False,
    )
    table = Table("estimator", "value", "95% CI", title="estimated mean reward per row")
    for key, label in ESTIMATORS.items():
        estimate = result[key]
        if key == "replay":
            label += f" ({estimate['matched_rows']:,} matched rows)"
        interval = (
            "–"
            if estimate["ci_low"] is None
            else f"[{_number(estimate['ci_low'])}, {_number(estimate['ci_high'])}]"
        )
        table.add_row(label, _number(estimate["value"]), interval)
    out.print(table)
