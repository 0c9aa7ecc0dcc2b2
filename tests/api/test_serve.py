"""`nextbest serve`: a real process on a real port, on a real SQLite file."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
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


def test_a_stopping_server_answers_a_kept_connection_once_more_and_closes_it(
    tmp_path: Path,
) -> None:
    """SIGTERM stops the listening socket at once but keeps an open connection for a short
    drain: the client's next request there gets its answer, with `Connection: close`,
    instead of a connection closed under it (a rolling restart loses no request a client
    already sent)."""
    port = free_port()
    db = tmp_path / "served.db"
    command = [sys.executable, "-m", "nextbest.cli", "serve", "--db", str(db), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server, 30)
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        kept.request("GET", "/healthz")
        first = kept.getresponse()
        first.read()
        assert first.status == 200 and first.getheader("connection") != "close"
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # until the server no longer accepts: its shutdown has begun
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                break
            assert time.monotonic() < deadline, "the server kept accepting"
            time.sleep(0.01)
        kept.request("GET", "/healthz")
        last = kept.getresponse()
        last.read()
        assert last.status == 200
        assert last.getheader("connection") == "close"
        kept.close()
    finally:
        if server.poll() is None:
            server.terminate()
        status = server.wait(timeout=10)
    assert status == 0
