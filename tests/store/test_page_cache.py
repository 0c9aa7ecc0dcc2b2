"""A store that other processes write too keeps SQLite's page cache small."""

from __future__ import annotations

from pathlib import Path

from nextbest.decision.engine import Engine
from nextbest.store import open_store
from nextbest.store.sqlite import CACHE_KIB, SHARED_CACHE_KIB, SQLiteStore


def _cache_kib(store: object) -> int:
    assert isinstance(store, SQLiteStore)
    with store.snapshot():
        (value,) = store._raw.execute("PRAGMA cache_size").fetchone()
    return -int(value)


def test_a_shared_store_keeps_a_small_page_cache_and_one_alone_a_large_one(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "n.db")
    alone, shared = open_store(db), open_store(db, shared=True)
    try:
        assert _cache_kib(alone) == CACHE_KIB
        assert _cache_kib(shared) == SHARED_CACHE_KIB < CACHE_KIB
    finally:
        alone.close()
        shared.close()


def test_an_engine_opened_for_several_workers_passes_shared_on(tmp_path: Path) -> None:
    engine = Engine.open(str(tmp_path / "n.db"), shared=True)
    try:
        assert _cache_kib(engine.store) == SHARED_CACHE_KIB
    finally:
        engine.close()
