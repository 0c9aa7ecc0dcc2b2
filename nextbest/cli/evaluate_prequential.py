"""`nextbest evaluate prequential`: test-then-train over a CSV file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from nextbest.cli.main import JsonOption, _fail, _print_json, evaluate_app, out
from nextbest.errors import NextbestError
from nextbest.learning.base import Model

MODES = ("adm", "improved")


def _metric(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@evaluate_app.command("prequential")
def evaluate_prequential(
    data: Annotated[Path, typer.Option("--data", help="CSV file (or .parquet), one row a case.")],
    target: Annotated[str, typer.Option("--target", help="Column with the binary outcome.")],
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive",
            help="Target value that counts as positive (default: true/1, else the rarer value).",
        ),
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="AdmModel mode: adm | improved.")] = "adm",
    as_json: JsonOption = False,
) -> None:
    """Score then learn each row in file order with an adaptive model; AUC and log loss."""
    from nextbest.evaluation.prequential import prequential, read_table
    from nextbest.learning.adm import AdmModel

    if mode not in MODES:
        raise _fail(f"--mode: `{mode}` is not one of {', '.join(MODES)}", 2)

    def factory(predictors: Mapping[str, str]) -> Model:
        return AdmModel(predictors, mode=mode)

    try:
        result = prequential(read_table(data, required=(target,)), target, positive, factory)
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    result["data"] = str(data)
    result["mode"] = mode
    if as_json:
        _print_json(result)
        return
    kinds = list(result["predictors"].values())
    speed = result["rows_per_s"]
    out.print(
        f"{data.name}: {result['rows']:,} rows, {result['positives']:,} positive "
        f"({target} = {result['positive']}), {len(kinds)} predictors "
        f"({kinds.count('numeric')} numeric, {kinds.count('symbolic')} symbolic), mode {mode}",
        highlight=False,
    )
    out.print(
        f"AUC {_metric(result['auc'])} (last 30 %: {_metric(result['auc_last_30pct'])}), "
        f"log loss {_metric(result['log_loss'])} "
        f"(last 30 %: {_metric(result['log_loss_last_30pct'])})"
        + ("" if speed is None else f", {speed:,.0f} rows/s"),
        highlight=False,
    )
    if result["rows_skipped"]:
        out.print(f"skipped {result['rows_skipped']:,} rows without a {target} value")
