"""The `nextbest` command line (Typer). Thin: parse, call the engine, print."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from nextbest.errors import ConfigError, NextbestError, RequestError
from nextbest.types import DecisionRequest, Placement

app = typer.Typer(
    name="nextbest",
    help="nextbest — real-time next-best-action engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Work with configuration folders.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk-load data.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(import_app, name="import")
models_app = typer.Typer(help="Inspect and export the adaptive models.", no_args_is_help=True)
evaluate_app = typer.Typer(
    help="Offline evaluation of models and strategies.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys for the HTTP service.", no_args_is_help=True)
features_app = typer.Typer(help="Real-time features.", no_args_is_help=True)
outbox_app = typer.Typer(
    help="Messages event triggers chose (lists them; `run` decides those due).",
    invoke_without_command=True,
)
app.add_typer(outbox_app, name="outbox")
app.add_typer(keys_app, name="keys")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(evaluate_app, name="evaluate")

out = Console()
err = Console(stderr=True)

DEFAULT_DB = "nextbest.db"
DbOption = Annotated[
    str, typer.Option("--db", help="Store URL or SQLite file path.", envvar="NEXTBEST_DB")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Configuration folder (default: the packaged demo bank).",
        envvar="NEXTBEST_CONFIG",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class World(StrEnum):
    """The simulated bank's hidden truth (`nextbest.demo.truth.WORLDS`)."""

    SEGMENTED = "segmented"
    MILD = "mild"


WorldOption = Annotated[
    World,
    typer.Option(
        help="How strongly profile and context decide acceptance in the simulated bank.",
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _open(db: str, config: Path | None, **kwargs: Any) -> Any:
    from nextbest.decision.engine import Engine

    try:
        return Engine.open(db, config, **kwargs)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    except NextbestError as exc:
        raise _fail(str(exc)) from None


def _when(ts: float) -> str:
    """An epoch-seconds time as shown in tables: ISO-8601 UTC, to the second."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


# --- decide / outcome / history ----------------------------------------------------------


def _parse_placement(text: str) -> Placement:
    name, _, count = text.partition(":")
    if count and not count.isdigit():
        raise _fail(f"--placement `{text}`: write NAME or NAME:COUNT", 2)
    return Placement(name, int(count) if count else 1)


def _parse_context(items: list[str]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--context `{item}`: write KEY=VALUE", 2)
        try:
            context[key] = json.loads(value)
        except json.JSONDecodeError:
            context[key] = value
    return context


@app.command()
def decide(
    channel: Annotated[str, typer.Option(help="Channel, e.g. web, app, email.")],
    placement: Annotated[list[str], typer.Option(help="Placement NAME or NAME:COUNT; repeatable.")],
    customer: Annotated[str | None, typer.Option(help="customer_id; omit for anonymous.")] = None,
    context: Annotated[list[str], typer.Option(help="Context KEY=VALUE; repeatable.")] = [],  # noqa: B006
    assurance: Annotated[int, typer.Option(help="Identity assurance level 0–4.")] = 0,
    interaction: Annotated[str | None, typer.Option(help="interaction_id.")] = None,
    explain: Annotated[bool, typer.Option(help="Explain every removed action.")] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide the next best actions for one customer and record the decision."""
    engine = _open(db, config)
    try:
        request = DecisionRequest(
            channel=channel,
            placements=tuple(_parse_placement(p) for p in placement),
            customer_id=customer,
            context=_parse_context(context),
            assurance_level=assurance,
            interaction_id=interaction,
            explain=explain,
        )
        result = engine.decide(request)
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.close()
    if as_json:
        _print_json(result.to_document())
        return
    out.print(f"decision [bold]{result.decision_id}[/bold]  config {result.config_version}")
    table = Table("placement", "#", "action", "propensity", "value", "priority", "P(selected)")
    for a in result.actions:
        table.add_row(
            a.placement, str(a.rank), a.action_id + (" (fallback)" if a.fallback else ""),
            f"{a.propensity:.3f}", f"{a.value:g}", f"{a.priority:.4g}",
            f"{a.selection_probability:.2f}",
        )  # fmt: skip
    out.print(table)
    for a in result.actions:
        out.print(f"{a.placement} #{a.rank} {a.treatment_id}: {a.content}", highlight=False)
    for hint in result.step_up:
        out.print(f"step up: {hint.action_id} needs assurance level {hint.required_level}")
    for removal in result.removed:
        rule = f" — `{removal.rule}`" if removal.rule else ""
        out.print(f"removed {removal.action_id} at {removal.stage}: {removal.reason}{rule}")


@app.command()
def outcome(
    decision_id: Annotated[str, typer.Argument(help="The decision_id the action came from.")],
    action_id: Annotated[str, typer.Argument(help="The action the customer responded to.")],
    outcome: Annotated[
        str, typer.Argument(help="impression|clicked|accepted|rejected|ignored|converted")
    ],
    value: Annotated[float | None, typer.Option(help="Revenue, for converted.")] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key.")] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record an outcome for an action of an earlier decision; the models learn at once."""
    engine = _open(db, config)
    try:
        recorded = engine.record_outcome(
            decision_id, action_id, outcome, value=value, idempotency_key=key
        )
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.close()
    if as_json:
        _print_json({"recorded": recorded, "duplicate": not recorded})
    else:
        out.print("recorded" if recorded else "already recorded (duplicate ignored)")


@app.command()
def consent(
    customer_id: Annotated[str, typer.Argument(help="The customer.")],
    subject: Annotated[
        str, typer.Argument(help="A purpose from nextbest.yaml (e.g. marketing), or a channel.")
    ],
    status: Annotated[str, typer.Argument(help="granted | denied | revoked")],
    channel: Annotated[
        bool, typer.Option("--channel", help="SUBJECT is a channel: a contact permission.")
    ] = False,
    expires: Annotated[
        datetime | None, typer.Option(help="When it lapses (ISO date or date-time, UTC).")
    ] = None,
    source: Annotated[str, typer.Option(help="Where it was given.")] = "cli",
    policy_version: Annotated[
        int | None, typer.Option(min=1, help="The purpose's policy version it was given under.")
    ] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Append a consent (or, with --channel, a contact-permission) record to the customer's
    ledger and print where every purpose and permission channel stands."""
    engine = _open(db, config)
    try:
        record = engine.consent_record(
            customer_id,
            status,
            purpose=None if channel else subject,
            channel=subject if channel else None,
            expires=None if expires is None else expires.replace(tzinfo=expires.tzinfo or UTC),
            source=source,
            policy_version=policy_version,
        )
        engine.add_consents([] if channel else [record], [record] if channel else [])
        purposes, channels = engine.consent_standing(customer_id)
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.close()
    standing = {
        "purposes": {p: {"allowed": s.allowed, "reason": s.reason} for p, s in purposes.items()},
        "permissions": {c: {"allowed": s.allowed, "reason": s.reason} for c, s in channels.items()},
    }
    if as_json:
        _print_json({"customer_id": customer_id, **standing})
    else:
        for kind, entries in standing.items():
            shown = ", ".join(
                f"{name}={'yes' if e['allowed'] else 'no'} ({e['reason']})"
                for name, e in sorted(entries.items())
            )
            out.print(f"{customer_id} {kind}: {shown or '-'}")


@app.command()
def history(
    customer: Annotated[str | None, typer.Option(help="Only this customer_id.")] = None,
    decision: Annotated[str | None, typer.Option(help="One decision, with its actions.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Inspect the interaction history: decisions, impressions and outcomes."""
    from nextbest.store import open_store

    try:
        store = open_store(db)
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    try:
        if decision is not None:
            stored = store.get_decision(decision)
            if stored is None:
                raise _fail(f"decision_id: no decision `{decision}`")
            rows = store.history(decision_id=decision, limit=limit)
            data: dict[str, Any] = {
                "decision": asdict(stored),
                "interactions": [r._asdict() for r in rows],
            }
        else:
            decisions = store.decisions(customer_id=customer, limit=limit)
            rows = store.history(customer_id=customer, limit=limit)
            data = {
                "counts": store.counts(),
                "decisions": [asdict(d) for d in decisions],
                "interactions": [r._asdict() for r in rows],
            }
    finally:
        store.close()
    if as_json:
        _print_json(data)
        return
    if "counts" in data:
        out.print("counts: " + ", ".join(f"{k}={v}" for k, v in data["counts"].items()))
    table = Table("time", "customer", "decision", "action", "channel", "outcome", "value")
    for r in rows:
        table.add_row(
            _when(r.ts),
            r.customer_id or "-",
            r.decision_id[:8],
            r.action_id,
            r.channel,
            r.outcome,
            "" if r.value is None else f"{r.value:g}",
        )
    out.print(table)


# --- config -------------------------------------------------------------------------------


@config_app.command("validate")
def config_validate(
    folder: Annotated[Path | None, typer.Argument(help="Folder (default: the demo bank).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a configuration folder and report every problem with file and line."""
    from nextbest.config.loader import load_config
    from nextbest.decision.engine import default_config_dir

    try:
        config = load_config(folder or default_config_dir())
    except ConfigError as exc:
        if as_json:
            _print_json({"valid": False, "problems": [asdict(p) for p in exc.problems]})
        else:
            for problem in exc.problems:
                err.print(str(problem), highlight=False, markup=False, soft_wrap=True)
            err.print(f"{len(exc.problems)} problem(s)")
        raise typer.Exit(1) from None
    summary = {
        "valid": True,
        "version": config.version,
        "issues": len(config.issues),
        "groups": len(config.groups),
        "actions": config.n_actions,
        "rules": len(config.rules),
        "contact_policies": len(config.contact_rules),
    }
    if as_json:
        _print_json(summary)
    else:
        out.print(
            f"valid: {summary['actions']} actions in {summary['groups']} groups over "
            f"{summary['issues']} issues, {summary['rules']} distinct rules, "
            f"{summary['contact_policies']} contact policies (version {summary['version']})"
        )


# --- import -------------------------------------------------------------------------------


def _rows(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    """Rows streamed in batches, every value as read (CSV: text, validated later)."""
    import polars as pl

    frame = pl.scan_parquet(path) if fmt == "parquet" else pl.scan_csv(path, infer_schema=False)
    for batch in frame.collect_batches():
        yield from batch.iter_rows(named=True)


@import_app.command("profiles")
def import_profiles(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file, one customer a row.")],
    id_column: Annotated[str, typer.Option(help="Column with the customer_id.")] = "customer_id",
    source: Annotated[
        str, typer.Option(help="The trait source (schema.yaml `sources:`) the values come from.")
    ] = "import",
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import customer profiles; each row is validated against the schema, all or nothing."""
    from nextbest.profile import TraitError

    if not file.is_file():
        raise _fail(f"{file}: file not found")
    fmt = "parquet" if file.suffix.lower() in (".parquet", ".pq") else "csv"
    engine = _open(db, config)
    imported = 0
    rejected: list[dict[str, Any]] = []
    batch: list[tuple[str, dict[str, Any]]] = []
    try:
        from nextbest.profile.traits import validate_traits
        from nextbest.store.base import Quarantined

        try:
            engine.check_source(source)
        except RequestError as exc:
            raise _fail(exc.message) from None
        types, writers = engine.config.traits, engine.config.trait_writers
        ranks = engine.config.trait_ranks
        ts = engine.clock.now().timestamp()
        with _progress() as progress:
            task = progress.add_task(f"importing {file.name}", total=None)
            for line, row in enumerate(_rows(file, fmt), start=2 if fmt == "csv" else 1):
                record = dict(row)
                customer_id = row.pop(id_column, None)
                if customer_id in (None, ""):
                    rejected.append(
                        {"row": line, "field": id_column, "message": "missing customer_id",
                         "record": record}
                    )  # fmt: skip
                    continue
                try:
                    traits = validate_traits(types, row, source=source, writers=writers)
                except TraitError as exc:
                    rejected.append(
                        {"row": line, "field": exc.field, "message": exc.message, "record": record}
                    )
                    continue
                batch.append((str(customer_id), traits))
                if len(batch) >= 5000:
                    imported += engine.store.upsert_profiles(batch, ts, source=source, ranks=ranks)
                    progress.advance(task, len(batch))
                    batch.clear()
            if batch:
                imported += engine.store.upsert_profiles(batch, ts, source=source, ranks=ranks)
        # rejected rows are kept, with why: `nextbest quarantine`
        engine.store.quarantine(
            [
                Quarantined(
                    ts, f"import:profiles:{file.name}", str(r["row"]), r["field"], r["message"],
                    json.loads(json.dumps(r["record"], default=str)),
                )
                for r in rejected
            ]
        )  # fmt: skip
    except Exception as exc:  # a file polars cannot read at all
        if isinstance(exc, typer.Exit):
            raise
        raise _fail(f"{file}: cannot read as {fmt}: {exc}") from None
    finally:
        engine.close()
    errors = [{k: v for k, v in r.items() if k != "record"} for r in rejected[:100]]
    summary = {"imported": imported, "rejected": len(rejected), "errors": errors}
    if as_json:
        _print_json(summary)
    else:
        out.print(f"imported {imported} profiles, rejected {len(rejected)}")
        for r in rejected[:20]:
            out.print(f"  row {r['row']}: {r['field']}: {r['message']}", highlight=False)
    if rejected and not imported:
        raise typer.Exit(1)


# --- simulate / demo ----------------------------------------------------------------------


def _run_simulation(
    db: str,
    config: Path | None,
    days: int,
    customers: int,
    interactions: int,
    seed: int,
    world: World = World.SEGMENTED,
) -> Any:
    from nextbest.clock import FixedClock
    from nextbest.sim.simulator import START, simulate

    engine = _open(db, config, clock=FixedClock(START), seed=seed)
    try:
        with _progress() as progress:
            task = progress.add_task("simulating", total=days * interactions)
            report = simulate(
                engine,
                days=days,
                customers=customers,
                interactions_per_day=interactions,
                seed=seed,
                world=world.value,
                progress=lambda done, total: progress.update(task, completed=done),
            )
    except NextbestError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.close()
    return report


def _print_report(report: Any) -> None:
    data = report.as_dict()
    beta = "last5_beta_acceptance_rate" in data
    columns = [
        "day", "engine", "random", "oracle", "learnable", *(["beta"] if beta else []),
        "engine value",
    ]  # fmt: skip
    table = Table(*columns, title="acceptance rate per day")
    for day in data["days"]:
        table.add_row(
            str(day["day"]),
            f"{day['acceptance_rate']:.2%}",
            f"{day['baseline_acceptance_rate']:.2%}",
            f"{day['oracle_acceptance_rate']:.2%}",
            f"{day['learnable_acceptance_rate']:.2%}",
            *([f"{day['beta_acceptance_rate']:.2%}"] if beta else []),
            f"{day['value']:,.0f}",
        )
    out.print(table)
    lift = data["last5_lift_vs_baseline"]
    out.print(
        f"last 5 days: engine {data['last5_acceptance_rate']:.2%}, random "
        f"{data['last5_baseline_acceptance_rate']:.2%}, oracle "
        f"{data['last5_oracle_acceptance_rate']:.2%} (learnable "
        f"{data['last5_learnable_acceptance_rate']:.2%})"
        + (f", beta-bernoulli {data['last5_beta_acceptance_rate']:.2%}" if beta else "")
        + (f" — {lift:.2f}× the random baseline" if lift else "")
    )


def _print_cold_start(data: dict[str, Any]) -> None:
    table = Table(
        "responses",
        "hierarchical",
        "none (ADM: start at 0.5)",
        title=(
            f"new actions on {data['channel']}: error of the believed rate (true {data['true_rate']:.2%})"
        ),
    )
    for h, n in zip(data["curves"]["hierarchical"], data["curves"]["none"], strict=True):
        table.add_row(
            str(h["responses"]),
            f"{h['rate_error']:.4f} (per customer {h['mean_abs_error']:.4f})",
            f"{n['rate_error']:.4f} (per customer {n['mean_abs_error']:.4f})",
        )
    out.print(table)


@app.command()
def simulate(
    days: Annotated[int, typer.Option(min=1, max=3650)] = 30,
    customers: Annotated[int, typer.Option(min=10, max=1_000_000)] = 20_000,
    interactions: Annotated[int, typer.Option(help="Interactions per day.", min=1)] = 1000,
    seed: Annotated[int, typer.Option()] = 7,
    world: WorldOption = World.SEGMENTED,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    cold_start: Annotated[
        bool,
        typer.Option(
            "--cold-start",
            help="Instead: how fast new actions learn, with and without the hierarchical prior.",
        ),
    ] = False,
) -> None:
    """Send simulated customers through the engine; compare with random, an oracle and a
    Beta-Bernoulli baseline."""
    if cold_start:
        from nextbest.config.loader import load_config
        from nextbest.decision.engine import default_config_dir
        from nextbest.sim.coldstart import cold_start_experiment

        try:
            loaded = load_config(config or default_config_dir())
        except ConfigError as exc:
            raise _fail(str(exc)) from None
        data = cold_start_experiment(loaded, seed=seed, world=world.value).as_dict()
        if as_json:
            _print_json(data)
        else:
            _print_cold_start(data)
        return
    report = _run_simulation(db, config, days, customers, interactions, seed, world)
    if as_json:
        _print_json(report.as_dict())
    else:
        _print_report(report)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=365)] = 14,
    customers: Annotated[int, typer.Option(min=10, max=1_000_000)] = 20_000,
    interactions: Annotated[int, typer.Option(help="Interactions per day.", min=1)] = 1000,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Then serve the HTTP API on the result.")
    ] = True,
    host: Annotated[str, typer.Option(help="Interface for the API.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Run the demo bank: generate customers, simulate days of decisions, show the result,
    then serve the HTTP API on it (Ctrl-C stops)."""
    out.print(f"[bold]nextbest demo[/bold] — store {db}, {customers:,} customers, {days} days")
    report = _run_simulation(db, config, days, customers, interactions, 7)
    _print_report(report)
    out.print(
        f"Try: nextbest decide --db {db} --customer C000001 --channel web "
        "--placement hero --context page=cards --assurance 1 --explain"
    )
    if not serve_api:
        return
    import time

    from nextbest.api.auth import create_key
    from nextbest.api.serve import serve as run

    store = _store(db)
    try:
        channel = create_key(store, "channel", "demo channel", time.time())[1]
        admin = create_key(store, "admin", "demo admin", time.time())[1]
    finally:
        store.close()
    base = f"http://{host}:{port}"
    out.print(f"API at {base} (docs at {base}/docs)")
    out.print(f"demo channel key: {channel}")
    out.print(f"demo admin key:   {admin}")
    out.print(
        f"Try: curl -s {base}/v1/decisions -H 'Authorization: Bearer {channel}' "
        '-H \'Content-Type: application/json\' -d \'{"customer_id": "C000001", '
        '"channel": "web", "placements": [{"name": "hero"}]}\''
    )
    try:
        run(db, config, host, port, 1)
    except OSError as exc:
        raise _fail(f"--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option(help="channel, agent, marketer, data-scientist, auditor or admin.")
    ],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create an API key; prints the key once, as the last line (only its digest is stored)."""
    import time

    from nextbest.api.auth import ROLES, create_key

    if role not in ROLES:
        raise _fail(f"--role: unknown role `{role}` (one of: {', '.join(ROLES)})")
    store = _store(db)
    try:
        key, secret = create_key(store, role, name or role, time.time())
    finally:
        store.close()
    err.print(f"created {key.key_id} ({key.role}); the key is shown once:")
    sys.stdout.write(secret + "\n")


@keys_app.command("revoke")
def keys_revoke(key_id: str, db: DbOption = DEFAULT_DB) -> None:
    """Revoke an API key by its id (`key_…`); requests with it get 401 from then on."""
    import time

    store = _store(db)
    try:
        done = store.revoke_key(key_id, time.time())
    finally:
        store.close()
    if not done:
        raise _fail(f"no active key `{key_id}`")
    out.print(f"revoked {key_id}")


@outbox_app.callback()
def outbox(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only rows with this status: waiting, queued, nothing.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """List the outbox, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    store = _store(db)
    try:
        rows = store.outbox(status=status, limit=limit)
    finally:
        store.close()
    if as_json:
        _print_json({"outbox": [r._asdict() for r in rows]})
        return
    table = Table("created", "customer", "trigger", "status", "channel", "due", "action")
    for r in rows:
        table.add_row(
            _when(r.created_ts),
            r.customer_id,
            r.trigger_id,
            r.status,
            r.channel or "",
            _when(r.due_ts),
            r.action_id or "",
        )
    out.print(table)


@outbox_app.command("run")
def outbox_run(db: DbOption = DEFAULT_DB, config: ConfigOption = None) -> None:
    """Decide the waiting messages whose quiet hours are over (run it from cron)."""
    engine = _open(db, config)
    try:
        done = engine.run_outbox()
    finally:
        engine.close()
    out.print(f"decided {done} waiting message(s)")


@features_app.command("rebuild")
def features_rebuild(
    db: DbOption = DEFAULT_DB, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Recompute every customer's real-time features from the stored events, replace the
    kept state, and report how many customers' values differed from it (0 expected)."""
    engine = _open(db, config)
    try:
        summary = engine.rebuild_features()
    finally:
        engine.close()
    if as_json:
        _print_json(summary)
    else:
        out.print(
            f"rebuilt the features of {summary['customers']} customers; "
            f"{summary['differed']} differed from the kept state"
        )


@keys_app.command("list")
def keys_list(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """List API keys (ids, names, roles; never the secrets)."""
    store = _store(db)
    try:
        keys = store.list_keys()
    finally:
        store.close()
    rows = [k._asdict() for k in keys]
    if as_json:
        _print_json({"keys": rows})
        return
    table = Table("key", "name", "role", "created", "revoked")
    for k in keys:
        table.add_row(
            k.key_id,
            k.name,
            k.role,
            _when(k.created_ts),
            _when(k.revoked_ts) if k.revoked_ts else "",
        )
    out.print(table)


def _store(db: str) -> Any:
    from nextbest.store import open_store

    try:
        return open_store(db)
    except NextbestError as exc:
        raise _fail(str(exc)) from None


@app.command()
def serve(
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the decision API over HTTP (FastAPI on uvicorn)."""
    from nextbest.api.serve import serve as run
    from nextbest.config.loader import load_config
    from nextbest.decision.engine import default_config_dir

    try:  # a broken configuration stops here, with its problems, not in every worker
        load_config(config or default_config_dir())
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"nextbest serving {db} on http://{host}:{port} with {workers} worker(s) (docs at /docs)"
    )
    try:
        status = run(db, config, host, port, workers)
    except OSError as exc:
        raise _fail(f"--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if status:
        raise _fail(f"a worker stopped with exit status {status}; the others were stopped")


def main() -> None:
    app()


# command groups that live in their own modules register themselves on import
from nextbest.cli import (  # noqa: E402, F401
    evaluate_logged,
    evaluate_prequential,
    identity,
    imports,
    models,
)
