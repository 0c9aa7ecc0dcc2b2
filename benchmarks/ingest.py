"""Event ingestion in one process: Segment batches through validation, identifiers, traits,
ten real-time feature windows and event triggers into SQLite, beside a plain insert.

    python benchmarks/ingest.py --json [--batches 300] [--customers 2000]

The engine runs on the demo bank (its ten `features:`) on a real SQLite file in a temporary
folder. Each batch is 100 Segment messages — identify with traits, track `Login Failed`,
`Logged In` and `Card Payment` (amount, country, abroad), page (`Cards`, `Home`, with a
path) and screen — for customers drawn from the demo's; every messageId new. A batch goes
through `nextbest.events.segment.ingest` exactly as `POST /v1/batch` does after reading the
body: message validation, trait validation, identifier linking (one transaction a batch),
the suppression list, consent preferences,
the feature windows, one committed transaction (events, traits, feature states), and the
demo's three event triggers (their rules, cool-downs, channel choice and outbox rows; the
generated customers have no contact permission, so a firing trigger finds no channel and
runs no decision).

Baseline, same run: the same events as rows inserted into a bare table of the same columns
in another SQLite file with the same pragmas, one transaction per batch of 100.

Identity in the measured path: 8 % of the messages come from a customer's cookie only
(`anonymousId`, no `userId`: an anonymous profile until the cookie is linked, the
customer's afterwards), 2 % carry both — a login, which merges the cookie's anonymous
profile into the customer's (journaled) the first time. `merges` counts them.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.events.segment import ingest, parse
from nextbest.store import open_store

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BATCH = 100


def messages(batches: int, customers: int, seed: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    out = []
    n = 0
    for b in range(batches):
        batch = []
        for _ in range(BATCH):
            n += 1
            user = f"C{rng.randint(1, customers):06d}"
            at = (T0 - timedelta(seconds=rng.randint(0, 3 * 86400))).isoformat()
            kind = rng.random()
            base: dict[str, Any] = {"userId": user, "messageId": f"b{b}-{n}", "timestamp": at}
            visitor = rng.random()
            if visitor < 0.08:  # the customer browsing before logging in: their cookie only
                del base["userId"]
                base["anonymousId"] = f"k-{user}"
            elif visitor < 0.1:  # a login: the cookie's anonymous profile merges, once
                base["anonymousId"] = f"k-{user}"
            if kind < 0.1:
                base |= {"type": "identify", "traits": {"age": rng.randint(18, 90)}}
            elif kind < 0.25:
                base |= {"type": "track", "event": "Login Failed", "properties": {}}
            elif kind < 0.4:
                base |= {"type": "track", "event": "Logged In", "properties": {}}
            elif kind < 0.65:
                country = rng.choice(["DE", "DE", "DE", "FR", "ES", "US"])
                base |= {
                    "type": "track",
                    "event": "Card Payment",
                    "properties": {
                        "amount": round(rng.uniform(2, 400), 2),
                        "country": country,
                        "abroad": country != "DE",
                    },
                }
            elif kind < 0.9:
                page = rng.choice(["Cards", "Home", "Loans"])
                base |= {"type": "page", "name": page, "properties": {"path": f"/{page.lower()}"}}
            else:
                base |= {"type": "screen", "name": "Home"}
            batch.append(base)
        out.append(batch)
    return out


def run_engine(
    db: Path, batches: list[list[dict[str, Any]]], customers: int
) -> tuple[float, int, int]:
    engine = Engine(open_store(str(db)), _demo_config(), clock=FixedClock(T0), seed=1)
    try:
        started = time.perf_counter()
        for batch in batches:
            ingest(engine, parse(batch, "batch"), "batch")
        elapsed = time.perf_counter() - started
        ids = [f"C{i:06d}" for i in range(1, customers + 1)]
        kept = len(engine.store.feature_states(ids))
        merges = sum(len(engine.merges(c)) for c in ids)
    finally:
        engine.close()
    return elapsed, kept, merges


def _demo_config() -> Any:
    from nextbest.config.loader import load_config
    from nextbest.decision.engine import default_config_dir

    return load_config(default_config_dir())


def run_plain(db: Path, batches: list[list[dict[str, Any]]]) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (message_id TEXT PRIMARY KEY, type TEXT NOT NULL, customer_id TEXT, "
        "anonymous_id TEXT, name TEXT, ts REAL NOT NULL, received_ts REAL NOT NULL, "
        "payload TEXT NOT NULL)"
    )
    now = T0.timestamp()
    started = time.perf_counter()
    for batch in batches:
        rows = [
            (
                m["messageId"], m["type"], m.get("userId"), m.get("anonymousId"),
                m.get("event") or m.get("name"),
                datetime.fromisoformat(m["timestamp"]).timestamp(), now, json.dumps(m),
            )
            for m in batch
        ]  # fmt: skip
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nextbest-ingest-"))
    try:
        data = messages(args.batches, args.customers, seed=1)
        warm = messages(5, args.customers, seed=2)
        run_engine(work / "warm.db", warm, args.customers)  # imports, first compile: not measured
        engine_s, kept, merges = run_engine(work / "engine.db", data, args.customers)
        plain_s = run_plain(work / "plain.db", data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    events = args.batches * BATCH
    report = {
        "benchmark": "ingest",
        "events": events,
        "batch_size": BATCH,
        "feature_windows": len(_demo_config().features),
        "customers_with_features": kept,
        "merges": merges,
        "engine": {"seconds": round(engine_s, 3), "events_per_s": round(events / engine_s)},
        "baseline_plain_sqlite_insert": {
            "seconds": round(plain_s, 3),
            "events_per_s": round(events / plain_s),
        },
        "engine_vs_baseline": round(plain_s / engine_s, 3),
        "targets": {"events_per_s_ge_20000": events / engine_s >= 20_000},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"engine {report['engine']['events_per_s']:,} events/s, plain insert "
            f"{report['baseline_plain_sqlite_insert']['events_per_s']:,} events/s"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
