"""`nextbest serve`: a real process on a real port, on a real SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.test_app import REQUEST, free_port, wait_until_serving


def test_serve_answers_on_its_port_and_keeps_what_it_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "served.db"
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "nextbest.cli",
            "keys",
            "create",
            "--role",
            "channel",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]  # the key is the last line
    command = [sys.executable, "-m", "nextbest.cli", "serve", "--db", str(db), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, server, 30)
        body = {**REQUEST, "customer_id": "anyone", "placements": [{"name": "hero"}]}
        headers = {"authorization": f"Bearer {key}"}
        assert httpx.post(f"{base}/v1/decisions", json=body, timeout=10).status_code == 401
        decision = httpx.post(f"{base}/v1/decisions", json=body, headers=headers, timeout=10).json()
    finally:
        server.terminate()
        status = server.wait(timeout=10)
        if server.stderr is not None:
            server.stderr.close()
    # SIGTERM is a clean stop: the worker closed its store, which checkpointed the WAL
    assert status == 0
    assert not Path(f"{db}-wal").exists()
    # the acknowledged decision is in the file
    from nextbest.store import open_store

    store = open_store(str(db))
    try:
        assert store.get_decision(decision["decision_id"]) is not None
    finally:
        store.close()
