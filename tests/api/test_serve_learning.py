"""Two served workers on one SQLite file learn as one: worker 0 learns every outcome in log
order, the other takes its saved models — nothing learned is lost or overwritten."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from nextbest.decision.engine import Engine
from nextbest.store import open_store
from tests.api.test_app import REQUEST, free_port, wait_until_serving


def test_outcomes_sent_to_both_workers_are_all_learned_once(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    created = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "keys", "create", "--role", "admin", "--db", str(db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = created.stdout.strip().splitlines()[-1]
    seeded = Engine.open(str(db))
    for n in range(7):
        seeded.upsert_profile(f"visitor-{n}", {"age": 25 + 7 * n, "income": 40_000 + 9_000 * n})
        for purpose in ("marketing", "personalization"):
            seeded.set_consent(f"visitor-{n}", purpose, "granted")
    seeded.close()
    headers = {"authorization": f"Bearer {key}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "serve", "--db", str(db), "--port", str(port),
         "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sent = 0
    try:
        wait_until_serving(base, server, 60)
        for i in range(80):
            # a new connection each time: the kernel spreads them over both workers
            customer = f"visitor-{i % 7}"
            body = {**REQUEST, "customer_id": customer, "placements": [{"name": "hero"}]}
            decision = httpx.post(f"{base}/v1/decisions", json=body, headers=headers, timeout=10)
            assert decision.status_code == 200, decision.text
            actions = decision.json()["placements"]["hero"]
            if not actions:
                continue
            outcome = {
                "decision_id": decision.json()["decision_id"],
                "action_id": actions[0]["action_id"],
                "outcome": "accepted" if i % 3 == 0 else "rejected",
            }
            answer = httpx.post(f"{base}/v1/outcomes", json=outcome, headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            sent += 1
        assert sent >= 40
        # every worker's models show every response once the learner has learned them all
        # and the other worker has taken its saved models (within the refresh interval)
        deadline = time.monotonic() + 30
        while True:
            totals = {
                sum(
                    m["responses"]  # the action models' (a group model holds them again)
                    for m in httpx.get(f"{base}/v1/models", headers=headers).json()["models"]
                    if m["action_id"] is not None
                )
                for _ in range(12)
            }  # fmt: skip
            if totals == {sent}:
                break
            assert time.monotonic() < deadline, f"workers' models saw {totals}, {sent} sent"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=20)
    # the saved models equal learning the whole log again from nothing, in one process
    store = open_store(str(db))
    try:
        served = {m["model_id"]: m for m in Engine(store, _config()).models.describe()}
    finally:
        store.close()
    replay_db = tmp_path / "replay.db"
    shutil.copy(db, replay_db)
    with sqlite3.connect(replay_db) as conn:
        conn.execute("DELETE FROM model_state")
        conn.execute("UPDATE learning_mark SET through = 0")
    replay = Engine.open(str(replay_db))
    try:
        replayed = {m["model_id"]: m for m in replay.models.describe()}
    finally:
        replay.close()
    assert sum(m["responses"] for m in served.values() if m["action_id"] is not None) == sent
    assert served.keys() == replayed.keys()
    for model_id, model in served.items():
        assert model["responses"] == replayed[model_id]["responses"], model_id
        assert model["positives"] == replayed[model_id]["positives"], model_id


def _config():  # type: ignore[no-untyped-def]
    from nextbest.config.loader import load_config
    from nextbest.decision.engine import default_config_dir

    return load_config(default_config_dir())
