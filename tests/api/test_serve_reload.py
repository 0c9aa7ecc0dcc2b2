"""A configuration reload sent to one worker of a served engine reaches all of them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from nextbest.testing import SMALL_BANK, write_config
from tests.api.test_app import free_port, wait_until_serving

#: fresh connections a round: the kernel spreads them over the workers, so that one worker
#: left out of twelve has a chance of 2 × 2⁻¹² with two workers
ROUND = 12


def versions(base: str, headers: dict[str, str]) -> set[str]:
    """The configuration versions the workers report, one new connection a request."""
    return {
        httpx.get(f"{base}/v1/config", headers=headers, timeout=10).json()["version"]
        for _ in range(ROUND)
    }


def test_a_reload_through_one_worker_reaches_every_worker(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    folder = write_config(tmp_path / "config", SMALL_BANK)
    created = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "keys", "create", "--role", "admin", "--db", str(db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    headers = {"authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "serve", "--db", str(db), "--config", str(folder),
         "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_serving(base, server, 60)
        (first,) = versions(base, headers)
        (folder / "policies.yaml").write_text("eligibility: age >= 21\n")
        reloaded = httpx.post(f"{base}/v1/config/reload", headers=headers, timeout=30)
        assert reloaded.status_code == 200, reloaded.text
        second = reloaded.json()["version"]
        assert second != first
        deadline = time.monotonic() + 15
        while (seen := versions(base, headers)) != {second}:
            assert time.monotonic() < deadline, f"workers still report {seen}"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
