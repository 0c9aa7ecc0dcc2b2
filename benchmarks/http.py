"""Load on the HTTP service: decisions and event batches, beside a trivial endpoint.

    python benchmarks/http.py --json [--seconds 10] [--workers 2] [--selection-draws K]

Starts `nextbest serve --workers N` on 127.0.0.1 with a 1,000-action library (the one of
benchmarks/decide.py), 2,000 demo customers with marketing and personalization consent and
warm ADM models, and drives it with `wrk` from a separate process (installed with apt-get
if missing) for a bounded time each:

* `baseline` — `GET /healthz`, the same server's trivial endpoint;
* `decisions` — `POST /v1/decisions` (hero + sidebar × 2 on the web channel), a different
  customer and page context on every request;
* `events` — `POST /v1/batch` with 100 identify/track/page messages a request, every
  messageId new.

Prints requests/s and p50/p95/p99 latency for each (events also as events/s) and the
decisions' rate as a share of the baseline's measured in the same run. The machines are
shared, and their speed drifts over the windows: so the share is also measured in
`--rounds` pairs of short windows, baseline and decisions back to back (after the
decisions' window, before the events'), and its median over the pairs
(`decisions_vs_baseline_paired`) is what the 15 % target is checked against.

`--selection-draws K` sets the library's `arbitration.selection_draws` (32, as in the demo
bank, unless given): the Monte-Carlo redraws behind each returned action's logged
selection probability, the largest single cost of a decision. `--selection-draws 0` shows
what the rest of the decision costs (it then logs 1, which is wrong for Thompson sampling:
a measurement, not a setting to run).
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file is named like the standard library's `http` package: take its folder off the
# import path before anything imports `http`
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

_spec = importlib.util.spec_from_file_location("decide_benchmark", HERE / "decide.py")
assert _spec is not None and _spec.loader is not None
_decide = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_decide)
build_config = _decide.build_config

from nextbest.api.auth import create_key  # noqa: E402
from nextbest.config.loader import load_config  # noqa: E402
from nextbest.demo.profiles import generate_profiles  # noqa: E402
from nextbest.learning import AdmModels, model_features  # noqa: E402
from nextbest.profile.traits import coerce_traits  # noqa: E402
from nextbest.store import open_store  # noqa: E402

PAGES = ("home", "cards", "loans", "savings", "travel")

REPORT = """
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.stderr:write(string.format(
    'WRK {"requests": %d, "seconds": %.3f, "errors": %d, "non2xx": %d, '
    .. '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\\n',
    summary.requests, seconds,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""

DECISIONS = """
local key = "%s"
local counter = 0
request = function()
  counter = counter + 1
  local pages = {"home", "cards", "loans", "savings", "travel"}
  local body = string.format(
    '{"customer_id": "C%%06d", "channel": "web", "identity": {"assurance_level": 1}, '
    .. '"placements": [{"name": "hero"}, {"name": "sidebar", "count": 2}], '
    .. '"context": {"page": "%%s"}}',
    (counter %% 2000) + 1, pages[(counter %% 5) + 1])
  return wrk.format("POST", "/v1/decisions",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
"""

EVENTS = """
local key = "%s"
local counter = 0
local thread_id = tostring(math.random(1, 1000000000))
request = function()
  counter = counter + 1
  local items = {}
  for i = 1, 100 do
    local id = thread_id .. "-" .. counter .. "-" .. i
    local user = string.format("C%%06d", (counter * 100 + i) %% 2000 + 1)
    local kind = i %% 3
    if kind == 0 then
      items[i] = string.format('{"type": "identify", "userId": "%%s", "messageId": "%%s", "traits": {"age": %%d}}', user, id, 20 + i %% 50)
    elseif kind == 1 then
      items[i] = string.format('{"type": "track", "userId": "%%s", "messageId": "%%s", "event": "Viewed", "properties": {"page": "cards"}}', user, id)
    else
      items[i] = string.format('{"type": "page", "anonymousId": "a%%s", "messageId": "%%s", "name": "Home"}', user, id)
    end
  end
  local body = '{"batch": [' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/v1/batch",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
"""


def progress(message: str) -> None:
    sys.stderr.write(message + "\n")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    progress("installing wrk (apt-get)")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    assert found, "wrk is not available"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_library(folder: Path, selection_draws: int | None = None) -> None:
    """The 1,000-action library in `folder`; `selection_draws` replaces the bank's."""
    folder.mkdir(parents=True, exist_ok=True)
    build_config(folder, 1000, 0)
    if selection_draws is not None:
        settings_file = folder / "nextbest.yaml"
        settings = yaml.safe_load(settings_file.read_text())
        settings["arbitration"]["selection_draws"] = selection_draws
        settings_file.write_text(yaml.safe_dump(settings, sort_keys=False))


def prepare(folder: Path, db: str, selection_draws: int | None = None) -> str:
    """The library, customers, warm models and an API key; returns the key."""
    write_library(folder, selection_draws)
    config = load_config(folder)
    store = open_store(db)
    try:
        profiles = list(generate_profiles(2000, 0))
        store.upsert_profiles(profiles, 0.0)
        store.set_consents(
            [
                (cid, p, "granted", 0.0)
                for cid, _ in profiles
                for p in ("marketing", "personalization")
            ]
        )
        bank = AdmModels.from_config(config)
        bank.bind(config)
        rng = np.random.default_rng(0)
        typed = [coerce_traits(config.traits, t) for _, t in profiles]
        responses = []
        for action in config.actions:
            rate = rng.uniform(0.005, 0.2)
            for _ in range(int(rng.integers(20, 200))):
                x = model_features(
                    config, typed[int(rng.integers(len(typed)))], {"page": str(rng.choice(PAGES))}
                )
                responses.append((action.id, "web", bool(rng.random() < rate), x))
        bank.learn_many(responses)
        store.save_model_states(bank.to_state())
        return create_key(store, "admin", "benchmark", time.time())[1]
    finally:
        store.close()


def run_wrk(
    wrk: str, url: str, script: str | None, seconds: int, connections: int
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write((script or "") + REPORT)
        path = f.name
    try:
        result = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", path, url],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(path)
    line = next(x for x in result.stderr.splitlines() if x.startswith("WRK "))
    data: dict[str, Any] = json.loads(line[4:])
    data["rps"] = round(data["requests"] / data["seconds"], 1)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="paired 2-s windows for the share")
    parser.add_argument(
        "--selection-draws", type=int, default=None, help="arbitration.selection_draws (32)"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="nextbest-http-"))
    db = str(work / "bench.db")
    progress("preparing the library, customers and models")
    key = prepare(work / "config", db, args.selection_draws)
    draws = load_config(work / "config").arbitration.selection_draws
    port = free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "nextbest.cli", "serve", "--db", db, "--config", str(work / "config"),
         "--port", str(port), "--workers", str(args.workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not come up")
            time.sleep(0.2)
        progress("warming up")
        run_wrk(wrk, base + "/v1/decisions", DECISIONS % key, 2, args.connections)
        progress(f"baseline: GET /healthz for {args.seconds} s")
        baseline = run_wrk(wrk, base + "/healthz", None, args.seconds, args.connections)
        progress(f"decisions: POST /v1/decisions for {args.seconds} s")
        decisions = run_wrk(
            wrk, base + "/v1/decisions", DECISIONS % key, args.seconds, args.connections
        )
        progress(f"paired: /healthz and /v1/decisions, 2 s each, {args.rounds} times")
        paired = []
        for _ in range(args.rounds):
            trivial = run_wrk(wrk, base + "/healthz", None, 2, args.connections)
            deciding = run_wrk(wrk, base + "/v1/decisions", DECISIONS % key, 2, args.connections)
            paired.append(round(deciding["rps"] / trivial["rps"], 3) if trivial["rps"] else 0.0)
        progress(f"events: POST /v1/batch (100 a request) for {args.seconds} s")
        events = run_wrk(wrk, base + "/v1/batch", EVENTS % key, args.seconds, args.connections)
        events["events_per_s"] = round(events["rps"] * 100, 1)
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    share = round(float(np.median(paired)), 3) if paired else None
    report = {
        "benchmark": "http",
        "workers": args.workers,
        "connections": args.connections,
        "seconds": args.seconds,
        "selection_draws": draws,
        "baseline": baseline,
        "decisions": decisions,
        "events": events,
        "decisions_vs_baseline": round(decisions["rps"] / baseline["rps"], 3)
        if baseline["rps"]
        else None,
        "decisions_vs_baseline_rounds": paired,
        "decisions_vs_baseline_paired": share,
        "targets": {
            "decisions_rps_ge_2000": decisions["rps"] >= 2000,
            "decisions_p99_le_25ms": decisions["p99_ms"] <= 25,
            "decisions_ge_15pct_of_baseline": share is not None and share >= 0.15,
            "events_per_s_ge_20000": events["events_per_s"] >= 20000,
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name in ("baseline", "decisions", "events"):
            r = report[name]
            print(
                f"{name:10} {r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:.2f}  p99 {r['p99_ms']:.2f} ms"
            )


if __name__ == "__main__":
    main()
