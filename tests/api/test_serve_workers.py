"""What one worker of `nextbest serve --workers 2` is told or counts holds for all of
them: a configuration reload reaches every worker, and `/metrics` sums every worker's."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from nextbest.testing import SMALL_BANK, write_config
from tests.api.test_app import free_port, wait_until_serving

#: fresh connections a round: the kernel spreads them over the workers, so that one worker
#: left out of twelve has a chance of 2 × 2⁻¹² with two workers
ROUND = 12


@dataclass(frozen=True)
class Served:
    base: str
    headers: dict[str, str]
    folder: Path

    def get(self, path: str) -> httpx.Response:
        """On a new connection: the kernel picks the worker."""
        return httpx.get(f"{self.base}{path}", headers=self.headers, timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("workers")
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
        yield Served(base, headers, folder)
    finally:
        server.terminate()
        status = server.wait(timeout=30)
    # a clean stop: every worker closed its store (the last one to close removes the WAL)
    assert status == 0
    assert not Path(f"{db}-wal").exists()


def test_a_reload_through_one_worker_reaches_every_worker(served: Served) -> None:
    def versions() -> set[str]:
        return {served.get("/v1/config").json()["version"] for _ in range(ROUND)}

    (first,) = versions()
    (served.folder / "policies.yaml").write_text("eligibility: age >= 21\n")
    reloaded = httpx.post(f"{served.base}/v1/config/reload", headers=served.headers, timeout=30)
    assert reloaded.status_code == 200, reloaded.text
    second = reloaded.json()["version"]
    assert second != first
    deadline = time.monotonic() + 15
    while (seen := versions()) != {second}:
        assert time.monotonic() < deadline, f"workers still report {seen}"
        time.sleep(0.2)


def test_every_workers_metrics_count_every_workers_requests(served: Served) -> None:
    def healthz_requests() -> float:
        text = served.get("/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "nextbest_http_requests_total"
            and sample.labels["route"] == "/healthz"
        )

    before = {healthz_requests() for _ in range(ROUND)}
    assert len(before) == 1  # every scrape the same, whichever worker answers it
    for _ in range(2 * ROUND):
        assert served.get("/healthz").status_code == 200
    assert {healthz_requests() for _ in range(ROUND)} == {before.pop() + 2 * ROUND}
