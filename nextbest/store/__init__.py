"""Storage: narrow protocols (`base`) and backends (`memory`, `sqlite`)."""

from __future__ import annotations

from pathlib import Path

from nextbest.errors import StoreError
from nextbest.store.base import InteractionRow, OutcomeRecord, Store, StoredDecision
from nextbest.store.memory import MemoryStore

__all__ = [
    "InteractionRow",
    "MemoryStore",
    "OutcomeRecord",
    "Store",
    "StoredDecision",
    "open_store",
]


def open_store(url: str, *, shared: bool = False) -> Store:
    """`memory://`, `sqlite:///path/file.db` or a plain file path (SQLite). `shared`:
    other processes write the store too (several API workers)."""
    if url.startswith("memory://"):
        return MemoryStore()
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise StoreError(
            f"store `{scheme}://` is not available yet; use a SQLite file path or sqlite:///path"
        )
    else:
        path = url
    if not path:
        raise StoreError("empty database path")
    from nextbest.store.sqlite import SQLiteStore

    return SQLiteStore.open(Path(path), shared=shared)
