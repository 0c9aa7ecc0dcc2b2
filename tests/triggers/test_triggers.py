"""Event triggers on the demo bank, on a real SQLite file: the event, the rule and the
cool-down decide whether a trigger fires; the preferred permitted channel carries it;
quiet hours make it wait; the outbox holds the chosen message."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nextbest.clock import FixedClock
from nextbest.config.loader import load_config
from nextbest.decision.engine import Engine, default_config_dir
from nextbest.events.segment import ingest, parse
from nextbest.store import open_store
from nextbest.store.base import ConsentRecord

NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 12:00 in Berlin, a Monday
NIGHT = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # 23:00 in Berlin: e-mail's quiet hours
CUSTOMER = {
    "first_name": "Ada", "age": 41, "income": 52000, "balance": 3000, "credit_score": 700,
    "tenure_years": 6, "products": ["CHECKING"], "in_arrears": False, "days_past_due": 0,
    "digital_active": True, "timezone": "Europe/Berlin", "segment": "mass",
}  # fmt: skip


def engine_at(db: Path, when: datetime) -> Engine:
    return Engine(open_store(str(db)), load_config(default_config_dir()), clock=FixedClock(when))


def setup(engine: Engine, cid: str, channels: dict[str, str]) -> None:
    engine.upsert_profile(cid, CUSTOMER)
    ts = engine.clock.now().timestamp() - 3600
    engine.add_consents(
        [ConsentRecord(cid, p, "granted", ts) for p in ("marketing", "personalization")],
        [ConsentRecord(cid, c, s, ts) for c, s in channels.items()],
    )


def track(cid: str, i: int, event: str, when: datetime, **props: Any) -> dict[str, Any]:
    return {"type": "track", "userId": cid, "event": event, "messageId": f"{cid}-{i}",
            "timestamp": when.isoformat(), "properties": props}  # fmt: skip


def test_three_failed_logins_send_a_security_message_on_the_permitted_channel(
    tmp_path: Path,
) -> None:
    engine = engine_at(tmp_path / "t.db", NOON)
    setup(engine, "c1", {"sms": "denied", "email": "granted"})
    logins = [track("c1", i, "Login Failed", NOON - timedelta(minutes=10 - i)) for i in range(2)]
    ingest(engine, parse(logins, "batch"), "batch")
    assert engine.store.outbox() == []  # two: the rule (failed_logins_1d >= 3) does not hold
    ingest(engine, parse([track("c1", 2, "Login Failed", NOON)], ""))
    [row] = engine.store.outbox()
    assert (row.trigger_id, row.status, row.channel) == ("failed-logins", "queued", "email")
    assert row.action_id in ("fraud-awareness", "info-security-tips") and row.content
    assert engine.get_decision(row.decision_id).channel == "email"
    # the cool-down: a fourth failed login the same day sends nothing more
    ingest(engine, parse([track("c1", 3, "Login Failed", NOON)], ""))
    assert len(engine.store.outbox()) == 1
    engine.close()


def test_no_permitted_channel_means_nothing_is_sent(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "t.db", NOON)
    setup(engine, "c2", {"sms": "denied", "email": "revoked"})
    ingest(engine, parse([track("c2", 1, "Loan Application Abandoned", NOON)], ""))
    [row] = engine.store.outbox()
    assert (row.status, row.channel, row.decision_id) == ("nothing", None, None)
    engine.close()


def test_quiet_hours_hold_the_message_until_they_end(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    engine = engine_at(db, NIGHT)
    setup(engine, "c3", {"email": "granted"})
    ingest(engine, parse([track("c3", 1, "Card Payment", NIGHT, amount=80, abroad=True)], ""))
    [row] = engine.store.outbox()
    assert (row.trigger_id, row.status, row.decision_id) == ("card-used-abroad", "waiting", None)
    # e-mail's quiet hours end at 08:00 in Berlin: 07:00 UTC the next day
    assert datetime.fromtimestamp(row.due_ts, UTC) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    assert engine.run_outbox() == 0  # not yet due
    engine.close()
    # the next morning `nextbest outbox run` decides it
    later = engine_at(db, datetime(2026, 3, 3, 7, 30, tzinfo=UTC))
    assert later.run_outbox() == 1
    [done] = later.store.outbox()
    assert (done.status, done.action_id) == ("queued", "travel-insurance")
    later.close()
    listed = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "outbox", "--db", str(db), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [r["status"] for r in json.loads(listed.stdout)["outbox"]] == ["queued"]


def test_two_processes_firing_at_once_send_one_message(tmp_path: Path) -> None:
    """Two engines on one file (two API workers) both see a Loan Application Abandoned
    event for the customer before either has fired: the cool-down is checked again with
    the firing, in one transaction, so one of them sends and the other does not."""
    db = tmp_path / "t.db"
    first, second = engine_at(db, NOON), engine_at(db, NOON)
    setup(first, "c9", {"sms": "denied", "email": "granted"})
    # the second engine's look at the cool-down comes before the first one's firing
    second.store.last_fired = lambda trigger_id, customer_id: None  # type: ignore[method-assign]
    ingest(first, parse([track("c9", 1, "Loan Application Abandoned", NOON)], ""))
    ingest(second, parse([track("c9", 2, "Loan Application Abandoned", NOON)], ""))
    rows = first.store.outbox()
    assert [r.event_id for r in rows] == ["c9-1"], rows
    assert rows[0].status in ("queued", "nothing")
    # and the decisions: only the winner decided a message
    decided = [
        r for r in first.store.history(customer_id="c9", limit=50) if r.outcome == "impression"
    ]
    assert {r.decision_id for r in decided} <= {rows[0].decision_id}
    first.close()
    second.close()


def test_a_decision_that_fails_leaves_the_message_for_the_next_outbox_run(
    tmp_path: Path, caplog: Any
) -> None:
    """The store fails while the trigger's decision is recorded: the event is ingested, the
    message waits (due now, not stuck `firing` until the cool-down ends), the log names the
    trigger but not the customer, and the next outbox run decides it."""
    engine = engine_at(tmp_path / "t.db", NOON)
    setup(engine, "c7", {"email": "granted"})
    write = engine.store.record_decisions

    def failing(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database is locked")

    engine.store.record_decisions = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="nextbest.triggers"):
        answer = ingest(engine, parse([track("c7", 1, "Loan Application Abandoned", NOON)], ""))
    assert answer["new"] == 1
    [row] = engine.store.outbox()
    assert (row.status, row.decision_id, row.due_ts) == ("waiting", None, NOON.timestamp())
    assert "loan" in caplog.text and "c7" not in caplog.text
    assert engine.run_outbox() == 0  # still failing: it stays waiting
    assert engine.store.outbox()[0].status == "waiting"
    engine.store.record_decisions = write  # type: ignore[method-assign]
    assert engine.run_outbox() == 1
    [done] = engine.store.outbox()
    assert done.status == "queued" and engine.get_decision(done.decision_id).customer_id == "c7"
    engine.close()


def waiting_message(db: Path) -> None:
    """A card-used-abroad message for c4 that waits for e-mail's quiet hours to end."""
    engine = engine_at(db, NIGHT)
    setup(engine, "c4", {"email": "granted"})
    ingest(engine, parse([track("c4", 1, "Card Payment", NIGHT, amount=80, abroad=True)], ""))
    assert [r.status for r in engine.store.outbox()] == ["waiting"]
    engine.close()


MORNING = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)


def test_two_outbox_runs_at_once_decide_each_message_once(tmp_path: Path) -> None:
    """A server's outbox run and a cron job's `nextbest outbox run` overlap: the message the
    first one took is leased, so the second passes it by."""
    db = tmp_path / "t.db"
    waiting_message(db)
    first, second = engine_at(db, MORNING), engine_at(db, MORNING)
    decide, during = first.decide, []

    def decide_while_the_other_runs(*args: Any, **kwargs: Any) -> Any:
        during.append(second.run_outbox())
        return decide(*args, **kwargs)

    first.decide = decide_while_the_other_runs  # type: ignore[method-assign]
    assert first.run_outbox() == 1
    assert during == [0]
    [row] = first.store.outbox()
    assert row.status == "queued"
    decided = [r for r in first.store.history(customer_id="c4", limit=50)]
    assert {r.decision_id for r in decided} == {row.decision_id}
    first.close()
    second.close()


def test_a_message_leased_by_a_run_that_stopped_comes_due_again(tmp_path: Path) -> None:
    from nextbest.triggers import LEASE_SECONDS

    db = tmp_path / "t.db"
    waiting_message(db)
    engine = engine_at(db, MORNING)
    now = MORNING.timestamp()
    [leased] = engine.store.lease_due(now, now + LEASE_SECONDS, 10)  # and then it stopped
    assert leased.customer_id == "c4"
    assert engine.run_outbox() == 0
    engine.close()
    later = engine_at(db, MORNING + timedelta(seconds=LEASE_SECONDS + 1))
    assert later.run_outbox() == 1
    assert [r.status for r in later.store.outbox()] == ["queued"]
    later.close()


def test_a_running_server_sends_the_message_when_quiet_hours_end(tmp_path: Path) -> None:
    """The serving worker's upkeep runs the outbox: no cron job is needed."""
    from nextbest.api.serve import _Upkeep

    db = tmp_path / "t.db"
    waiting_message(db)
    engine = engine_at(db, MORNING)
    upkeep = _Upkeep(engine)
    upkeep.start()
    try:
        deadline = time.monotonic() + 10
        while engine.store.outbox()[0].status == "waiting" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        upkeep.stopped.set()
        upkeep.join()
    [row] = engine.store.outbox()
    assert (row.status, row.action_id) == ("queued", "travel-insurance")
    engine.close()
