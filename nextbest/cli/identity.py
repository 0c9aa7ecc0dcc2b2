"""`nextbest merges` and `nextbest unmerge`: the merge journal of the identity graph."""

from __future__ import annotations

from typing import Annotated

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
    _when,
    app,
    out,
)
from nextbest.errors import ConflictError, NotFoundError
from nextbest.store.base import Merge


def _table(merges: list[Merge]) -> Table:
    table = Table("merge", "when", "from (anonymous)", "into", "status", "moved")
    for m in merges:
        moved = ", ".join(f"{k} {v}" for k, v in m.moved.items() if v)
        table.add_row(str(m.merge_id), _when(m.ts), m.from_id, m.into_id, m.status, moved)
    return table


@app.command("merges")
def merges(
    customer_id: Annotated[str, typer.Argument(help="The profile: a customer or anonymous:<id>.")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The journaled merges into or from a profile, oldest first."""
    engine = _open(db, config)
    try:
        found = engine.merges(customer_id)
    finally:
        engine.close()
    if as_json:
        _print_json({"merges": [m._asdict() for m in found]})
    else:
        out.print(_table(found) if found else f"no merges into or from {customer_id}")


@app.command("unmerge")
def unmerge(
    merge_id: Annotated[int, typer.Argument(help="The merge, as `nextbest merges` lists it.")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Undo a merge: both profiles as before it, their events, history and identifiers
    back, their feature windows rebuilt. The pair does not merge again on its own."""
    engine = _open(db, config)
    try:
        done = engine.unmerge(merge_id)
    except (NotFoundError, ConflictError) as exc:
        raise _fail(exc.message) from None
    finally:
        engine.close()
    if as_json:
        _print_json(done._asdict())
    else:
        out.print(_table([done]))
