"""Features from ingested events: kept in the events' transaction, read by rules, models and
the profile API, and equal after `nextbest features rebuild`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.events.segment import ingest, parse
from nextbest.store import MemoryStore, open_store
from nextbest.testing import SMALL_BANK, T0, make_config
from nextbest.types import DecisionRequest, Placement

SCHEMA = (
    SMALL_BANK["schema.yaml"]
    + """\
features:
  failed_logins_1d: {event: Login Failed, aggregate: count, window: 1d}
  spend_abroad_30d: {event: Card Payment, where: {abroad: true}, property: amount, aggregate: sum, window: 30d}
"""
)
TIPS = SMALL_BANK["issues/information.yaml"].replace(
    "        purpose: service\n",
    "        purpose: service\n        eligibility: failed_logins_1d >= 3\n",
)
CONFIG = make_config({"schema.yaml": SCHEMA, "issues/information.yaml": TIPS})


def track(i: int, event: str, minutes_ago: float, **props: Any) -> dict[str, Any]:
    return {
        "type": "track", "userId": "c1", "event": event, "messageId": f"m-{i}",
        "timestamp": (T0 - timedelta(minutes=minutes_ago)).isoformat(), "properties": props,
    }  # fmt: skip


def tips_shown(engine: Engine) -> bool:
    request = DecisionRequest(
        channel="web", placements=(Placement("sidebar", 3),), customer_id="c1", assurance_level=1
    )
    return any(a.action_id == "info-tips" for a in engine.decide(request).actions)


def test_features_feed_rules_and_equal_a_rebuild(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    engine = Engine(open_store(str(db)), CONFIG, clock=FixedClock(T0), seed=1)
    engine.upsert_profile("c1", {"age": 40, "income": 50000, "in_arrears": False, "products": []})
    batch = [
        track(1, "Login Failed", 30), track(2, "Login Failed", 20),
        track(3, "Card Payment", 60 * 24 * 2, amount=120.5, abroad=True),
        track(4, "Card Payment", 60, amount=40, abroad=False),
        track(5, "Card Payment", 60 * 24 * 40, amount=999, abroad=True),  # outside 30 days
    ]  # fmt: skip
    ingest(engine, parse(batch, "batch"), "batch")
    assert engine.features_of("c1") == {"failed_logins_1d": 2, "spend_abroad_30d": 120.5}
    assert not tips_shown(engine)
    ingest(engine, parse([track(6, "Login Failed", 5)], ""))
    ingest(engine, parse([track(6, "Login Failed", 5)], ""))  # a resend counts once
    assert engine.features_of("c1")["failed_logins_1d"] == 3
    assert tips_shown(engine)  # the rule reads the feature like a profile field
    decision = engine.decide(
        DecisionRequest(
            channel="web", placements=(Placement("hero"),), customer_id="c1", assurance_level=1
        )
    )
    assert decision.features["failed_logins_1d"] == 3  # and so do the models
    # a day after each, a failed login leaves the window — exactly at its edge
    engine.clock = FixedClock(T0 + timedelta(days=1) - timedelta(minutes=30, seconds=1))
    assert engine.features_of("c1")["failed_logins_1d"] == 3
    engine.clock = FixedClock(T0 + timedelta(days=1) - timedelta(minutes=30))
    assert engine.features_of("c1")["failed_logins_1d"] == 2
    engine.clock = FixedClock(T0 + timedelta(days=1) - timedelta(minutes=5))
    assert engine.features_of("c1")["failed_logins_1d"] == 0
    engine.clock = FixedClock(T0)
    kept = engine.features_of("c1")
    engine.close()
    # the CLI's rebuild from the stored events finds nothing to correct
    folder = tmp_path / "config"
    for name, text in {
        **SMALL_BANK,
        "schema.yaml": SCHEMA,
        "issues/information.yaml": TIPS,
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "features", "rebuild", "--db", str(db),
         "--config", str(folder), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == {"customers": 1, "differed": 0}
    reopened = Engine(open_store(str(db)), CONFIG, clock=FixedClock(T0), seed=1)
    assert reopened.features_of("c1") == kept
    reopened.close()


def test_a_feature_may_not_be_written_as_a_trait() -> None:
    engine = Engine(MemoryStore(), CONFIG, clock=FixedClock(T0))
    message = {"type": "identify", "userId": "c2", "traits": {"failed_logins_1d": 99, "age": 30}}
    ingest(engine, parse([message], ""))
    assert engine.store.get_profile("c2") == {"age": 30}  # stays in the stored event only
