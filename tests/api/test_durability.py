"""Everything the HTTP service acknowledged survives a SIGKILL of the server process."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from nextbest.store import open_store
from nextbest.testing import SMALL_BANK, write_config
from tests.api.test_app import free_port, wait_until_serving


def test_sigkill_during_a_stream_of_ingests_and_outcomes_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    db, folder, port = str(tmp_path / "served.db"), tmp_path / "config", free_port()
    write_config(folder, SMALL_BANK)
    cli = [sys.executable, "-m", "nextbest.cli"]
    key = subprocess.run(
        [*cli, "keys", "create", "--role", "admin", "--db", db],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    server = subprocess.Popen(
        [*cli, "serve", "--db", db, "--config", str(folder), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, server, 30)

    events: list[tuple[str, str]] = []  # (customer, messageId) acknowledged
    decisions: list[str] = []
    outcomes: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        headers = {"authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
            i = 0
            while not stop.is_set():
                i += 1
                customer = f"c{i % 20}"
                try:
                    message = {
                        "userId": customer,
                        "messageId": f"m{i}",
                        "traits": {"age": 30 + i % 40},
                    }
                    if client.post("/v1/identify", json=message).status_code == 200:
                        events.append((customer, f"m{i}"))
                    body = {
                        "customer_id": customer,
                        "channel": "web",
                        "placements": [{"name": "hero"}],
                    }
                    response = client.post("/v1/decisions", json=body)
                    if response.status_code != 200:
                        continue
                    decision = response.json()
                    decisions.append(decision["decision_id"])
                    returned = decision["placements"]["hero"]
                    if returned:
                        outcome = {
                            "decision_id": decision["decision_id"],
                            "action_id": returned[0]["action_id"],
                            "outcome": "accepted",
                            "idempotency_key": f"k{i}",
                        }
                        if client.post("/v1/outcomes", json=outcome).status_code == 200:
                            outcomes.append(f"k{i}")
                except httpx.TransportError:
                    return  # the server is gone

    writer = threading.Thread(target=stream)
    writer.start()
    deadline = time.monotonic() + 60
    while len(outcomes) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
    server.wait(timeout=10)
    stop.set()
    writer.join(timeout=10)
    assert len(outcomes) >= 150, "the stream did not get going"

    store = open_store(db)
    try:
        stored = {
            (c, e.message_id)
            for c in {c for c, _ in events}
            for e in store.customer_events(c, 100_000)
        }
        assert set(events) <= stored
        assert all(store.get_decision(d) is not None for d in decisions)
        assert all(store.has_outcome(k) for k in outcomes)
    finally:
        store.close()
