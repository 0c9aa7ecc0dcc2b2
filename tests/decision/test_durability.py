"""Acknowledged decisions and outcomes survive a SIGKILL of the process that wrote them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nextbest.store import open_store

WRITER = r"""
import sys
from nextbest.decision.engine import Engine
from nextbest.testing import SMALL_BANK, write_config
from pathlib import Path
from nextbest.types import DecisionRequest, Placement

db, folder = sys.argv[1], Path(sys.argv[2])
write_config(folder, SMALL_BANK)
engine = Engine.open(db, folder)
for i in range(100_000):
    cid = f"c{i % 50}"
    engine.upsert_profile(cid, {"age": 40, "income": 50000, "in_arrears": False})
    d = engine.decide(DecisionRequest(channel="web", placements=(Placement("hero"),), customer_id=cid))
    print("decision", d.decision_id, flush=True)
    if d.actions:
        key = f"k{i}"
        engine.record_outcome(d.decision_id, d.actions[0].action_id, "rejected", idempotency_key=key)
        print("outcome", key, flush=True)
"""


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(tmp_path / "config")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    acknowledged: list[tuple[str, str]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        kind, ident = line.split()
        acknowledged.append((kind, ident))
        if len(acknowledged) >= 400:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert len(acknowledged) >= 400, "the writer did not get going"
    store = open_store(str(db))
    try:
        for kind, ident in acknowledged:
            if kind == "decision":
                assert store.get_decision(ident) is not None, ident
            else:
                assert store.has_outcome(ident), ident
    finally:
        store.close()
