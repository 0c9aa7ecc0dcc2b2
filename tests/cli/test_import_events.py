"""`nextbest import events` streams JSON Lines through ingestion; what it cannot accept is
quarantined with the reason (`nextbest quarantine`), never dropped or half-applied."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nextbest.store import open_store
from nextbest.testing import SMALL_BANK


def small_bank(folder: Path) -> str:
    for name, text in SMALL_BANK.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return str(folder)


def run(*args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", *args], capture_output=True, text=True
    )
    return done.returncode, done.stdout, done.stderr


def test_events_import_quarantines_what_it_cannot_take(tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    lines = [
        json.dumps({"type": "identify", "userId": "C000001", "messageId": "m1",
                    "traits": {"age": 33}}),
        "{not json",
        json.dumps({"type": "track", "event": "Viewed", "messageId": "m2"}),  # nobody
        json.dumps({"type": "identify", "userId": "C000002", "messageId": "m3",
                    "traits": {"age": "young"}}),
        json.dumps({"type": "identify", "userId": "C000001", "messageId": "m1",
                    "traits": {"age": 33}}),  # a resend
        "",
        json.dumps({"type": "page", "userId": "C000003", "name": "Cards", "messageId": "m4"}),
    ]  # fmt: skip
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(lines) + "\n")
    config = small_bank(tmp_path / "config")  # no personalization purpose: traits go in
    code, out, err = run("import", "events", str(file), "--db", db, "--config", config, "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "lines": 6, "new": 2, "duplicates": 1, "dropped_suppressed": 0, "quarantined": 3,
    }  # fmt: skip
    code, out, _ = run("quarantine", "--db", db, "--json")
    held = {(r["position"], r["field"]) for r in json.loads(out)["quarantine"]}
    assert held == {("2", "line"), ("3", "body"), ("4", "traits.age")}, held
    store = open_store(db)
    try:
        assert store.get_profile("C000001") == {"age": 33}
        assert store.get_profile("C000002") is None  # nothing of the bad message applied
        [bad] = store.quarantined(source="import:events:events.jsonl", limit=1)  # newest
        assert bad.record["traits"] == {"age": "young"}  # kept as received
    finally:
        store.close()


def test_rejected_profile_rows_are_quarantined(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    file = tmp_path / "profiles.csv"
    file.write_text("customer_id,age\nC1,40\nC2,young\n,50\n")
    code, out, err = run("import", "profiles", str(file), "--db", db, "--json")
    assert code == 0, err
    assert json.loads(out)["imported"] == 1
    code, out, _ = run(
        "quarantine", "--db", db, "--source", "import:profiles:profiles.csv", "--json"
    )
    rows = json.loads(out)["quarantine"]
    assert {(r["position"], r["field"]) for r in rows} == {("3", "age"), ("4", "customer_id")}
    assert any(r["record"].get("age") == "young" for r in rows)
