"""`nextbest demo` simulates, then serves the API and prints working demo keys."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.test_app import free_port, wait_until_serving


def test_demo_serves_the_api_with_the_keys_it_prints(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "nextbest.cli", "demo", "--days", "1", "--customers", "100",
               "--interactions", "20", "--db", str(tmp_path / "demo.db"), "--port", str(port)]  # fmt: skip
    log = tmp_path / "demo.out"
    with log.open("w") as sink:
        demo = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.DEVNULL,
            env={"COLUMNS": "400", **__import__("os").environ},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base, demo, 120)
            text = log.read_text()
            key = re.search(r"demo channel key: (nb_\S+)", text)
            assert key, text
            body = {"customer_id": "C000001", "channel": "web", "placements": [{"name": "hero"}]}
            response = httpx.post(
                f"{base}/v1/decisions",
                json=body,
                headers={"authorization": f"Bearer {key.group(1)}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
        finally:
            demo.terminate()
            demo.wait(timeout=20)
