"""`snapshot()`: the reads inside see one committed state, while another writer goes on."""

from __future__ import annotations

from pathlib import Path

from nextbest.store.sqlite import SQLiteStore


def test_reads_in_a_snapshot_see_one_committed_state(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    mine, other = SQLiteStore.open(db), SQLiteStore.open(db)  # as two API workers
    try:
        mine.upsert_profiles([("c1", {"age": 30})], 0.0)
        with mine.snapshot():
            assert mine.get_profile("c1") == {"age": 30}
            other.upsert_profiles([("c1", {"age": 31}), ("c2", {"age": 40})], 1.0)
            assert mine.get_profile("c1") == {"age": 30}  # still the state it began with
            assert mine.get_profile("c2") is None
            with mine.snapshot():  # nested: the same snapshot
                assert mine.get_profile("c1") == {"age": 30}
        assert mine.get_profile("c1") == {"age": 31}
        mine.upsert_profiles([("c3", {"age": 50})], 2.0)  # the read ended: writes go on
        assert other.get_profile("c3") == {"age": 50}
    finally:
        mine.close()
        other.close()
