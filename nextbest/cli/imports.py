"""`nextbest import events`, `nextbest quarantine` and `nextbest purge`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
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
    _progress,
    _store,
    _when,
    app,
    import_app,
    out,
)
from nextbest.errors import RequestError
from nextbest.events.segment import ingest, parse

BATCH = 100


@import_app.command("events")
def import_events(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one Segment message a line.")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import Segment messages from a JSON Lines file, streamed in batches of 100, exactly
    as `POST /v1/batch` takes them; a line that is no JSON or no valid message goes to the
    quarantine with the reason, and the rest goes in."""
    if not file.is_file():
        raise _fail(f"{file}: file not found")
    source = f"import:events:{file.name}"
    engine = _open(db, config)
    totals = {"lines": 0, "new": 0, "duplicates": 0, "dropped_suppressed": 0, "quarantined": 0}

    def hold(line: int, field: str, reason: str, record: Any) -> None:
        engine.quarantine(source, str(line), field, reason, record)
        totals["quarantined"] += 1

    def load(batch: list[tuple[int, Any]]) -> None:
        good: list[tuple[int, Any]] = []
        for line, item in batch:  # each message checked alone, so one bad one holds no other
            try:
                parse([item], "")
                good.append((line, item))
            except RequestError as exc:
                hold(line, exc.field, exc.message, item)
        if not good:
            return
        try:  # the batch at once; a request error writes nothing, so it can be retried
            count(ingest(engine, parse([item for _, item in good], "batch"), "batch"))
            return
        except RequestError:
            pass
        for line, item in good:  # one by one, to find the message with a bad trait value
            try:
                count(ingest(engine, parse([item], "")))
            except RequestError as exc:
                hold(line, exc.field, exc.message, item)

    def count(summary: dict[str, int]) -> None:
        for key in ("new", "duplicates", "dropped_suppressed"):
            totals[key] += summary[key]

    try:
        batch: list[tuple[int, Any]] = []
        with _progress() as progress, file.open(encoding="utf-8", errors="replace") as lines:
            task = progress.add_task(f"importing {file.name}", total=None)
            for number, text in enumerate(lines, start=1):
                if not text.strip():
                    continue
                totals["lines"] += 1
                try:
                    # as the API parses bodies (nextbest.api.jsonbody)
                    batch.append((number, orjson.loads(text)))
                except orjson.JSONDecodeError as exc:
                    hold(number, "line", f"not JSON: {exc.msg}", text.rstrip("\n")[:2000])
                if len(batch) >= BATCH:
                    load(batch)
                    progress.advance(task, len(batch))
                    batch = []
            if batch:
                load(batch)
    finally:
        engine.close()
    if as_json:
        _print_json(totals)
    else:
        out.print(
            f"{totals['lines']} lines: {totals['new']} new events, {totals['duplicates']} "
            f"duplicates, {totals['dropped_suppressed']} dropped (suppressed), "
            f"{totals['quarantined']} quarantined"
        )


@app.command("quarantine")
def quarantine(
    source: Annotated[
        str | None, typer.Option(help="Only this source, e.g. import:events:clicks.jsonl.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Records an import could not accept, newest first, with the field and the reason."""
    store = _store(db)
    try:
        rows = store.quarantined(source=source, limit=limit)
    finally:
        store.close()
    if as_json:
        _print_json({"quarantine": [r._asdict() for r in rows]})
        return
    table = Table("when", "source", "at", "field", "reason")
    for r in rows:
        table.add_row(_when(r.ts), r.source, r.position or "", r.field, r.reason)
    out.print(table)


@app.command("purge")
def purge(
    db: DbOption = DEFAULT_DB, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Apply the retention times of nextbest.yaml (`retention:`): delete what each store
    keeps past its time; erase profiles inactive for too long. Run it from cron."""
    engine = _open(db, config)
    try:
        counts = engine.purge()
    finally:
        engine.close()
    if as_json:
        _print_json(counts)
    else:
        shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing configured"
        out.print(f"purged: {shown}")
