"""The WAL is checkpointed and starts over under steady writes, by one process at a time."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from nextbest.store.sqlite import SQLiteStore


def _salt(db: Path) -> bytes:
    # the WAL header's salts change each time the WAL starts over from the beginning
    with open(f"{db}-wal", "rb") as wal:
        return wal.read(24)[16:24]


def _restarts(store: SQLiteStore, db: Path, seconds: float) -> int:
    seen = {_salt(db)}
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        i += 1
        store.upsert_profiles([(f"c{i % 50}", {"age": 20 + i % 60})], float(i))
        seen.add(_salt(db))
    return len(seen) - 1


def test_the_wal_starts_over_under_steady_writes_and_the_checkpoint_turn_moves_on(
    tmp_path: Path,
) -> None:
    db = tmp_path / "n.db"
    first = SQLiteStore.open(db, checkpoint_interval=0.05)
    second = SQLiteStore.open(db, checkpoint_interval=0.05)  # as a second API worker would
    try:
        # without the RESTART step a PASSIVE checkpoint never reaches the end of a WAL
        # that is written all the time, and the WAL would only grow
        assert _restarts(second, db, 1.0) >= 3
        first.close()  # the process that held the checkpoint turn ends
        assert _restarts(second, db, 1.0) >= 3  # the other one has taken it over
    finally:
        second.close()


def test_a_long_reader_does_not_hold_writers_back(tmp_path: Path) -> None:
    """A RESTART checkpoint waits for readers of older snapshots while it holds the writer
    lock; it gives up after a few ms instead, and tries again next round."""
    db = tmp_path / "n.db"
    store = SQLiteStore.open(db, checkpoint_interval=0.05)
    try:
        store.upsert_profiles([("c0", {"age": 30})], 0.0)
        reader = sqlite3.connect(db)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM profiles").fetchall()  # a snapshot, held
        store.upsert_profiles([("c1", {"age": 31})], 1.0)  # the snapshot is old now
        slowest = 0.0
        end = time.monotonic() + 1.5
        i = 0
        while time.monotonic() < end:
            i += 1
            start = time.monotonic()
            store.upsert_profiles([(f"c{i % 50}", {"age": 20 + i % 60})], float(i))
            slowest = max(slowest, time.monotonic() - start)
        reader.rollback()
        reader.close()
        assert slowest < 0.5, slowest
    finally:
        store.close()
