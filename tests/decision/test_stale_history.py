"""Two processes deciding for one customer at once: a decision made on history that
another process has added to since is made again, so contact limits hold across the
workers of a server."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from nextbest.decision.engine import Engine
from nextbest.events.segment import ingest, parse
from nextbest.store import open_store
from nextbest.store.base import ConsentRecord
from nextbest.testing import T0, FixedClock, make_config
from nextbest.types import DecisionRequest, Direction, Placement

EMAIL = DecisionRequest(
    channel="email",
    direction=Direction.OUTBOUND,
    placements=(Placement("body", 1),),
    customer_id="c1",
    assurance_level=1,
)
NOON = T0.replace(hour=12)  # outside the e-mail's quiet hours


def engine_on(db: Path, seed: int) -> Engine:
    return Engine(open_store(str(db)), make_config(), clock=FixedClock(NOON), seed=seed)


def stale_mark(engine: Engine) -> None:
    """The engine's first history mark is the one of now, before the other process
    writes; later ones are read as they are."""
    read, marks = engine.store.history_mark, [engine.store.history_mark()]
    engine.store.history_mark = lambda: marks.pop() if marks else read()  # type: ignore[method-assign]


def stale_once(engine: Engine, rows: list[Any]) -> None:
    """The engine's first history read sees `rows`: what it read before the other process
    committed (the moment between its read and its write)."""
    read = engine.store.contact_history
    calls = []

    def contact_history(customer_id: str, since_ts: float) -> list[Any]:
        calls.append(customer_id)
        return list(rows) if len(calls) == 1 else read(customer_id, since_ts)

    engine.store.contact_history = contact_history  # type: ignore[method-assign]


def test_the_daily_email_limit_holds_when_two_processes_decide_at_once(tmp_path: Path) -> None:
    db = tmp_path / "nb.db"
    first, second = engine_on(db, 1), engine_on(db, 2)
    try:
        first.upsert_profile("c1", {"age": 40, "income": 50000, "in_arrears": False})
        first.add_consents(
            [ConsentRecord("c1", "marketing", "granted", 0.0)],
        )
        before = first.store.contact_history("c1", 0.0)
        stale_mark(second)
        stale_once(second, before)
        sent = first.decide(EMAIL)
        assert sent.actions, "the first e-mail of the day goes out"
        # the second process read the history before the first one's e-mail was written
        again = second.decide(EMAIL)
        assert again.actions == (), "one e-mail a day (email-daily), whichever worker decides"
        impressions = [
            r for r in first.store.history(customer_id="c1", limit=20) if r.channel == "email"
        ]
        assert len(impressions) == 1
    finally:
        first.close()
        second.close()


def test_a_batch_is_written_whole_once_the_stale_decision_is_made_again(tmp_path: Path) -> None:
    db = tmp_path / "nb.db"
    first, second = engine_on(db, 1), engine_on(db, 2)
    try:
        for customer in ("c1", "c2"):
            first.upsert_profile(customer, {"age": 40, "income": 50000, "in_arrears": False})
            first.add_consents([ConsentRecord(customer, "marketing", "granted", 0.0)])
        before = first.store.contact_history("c1", 0.0)
        stale_mark(second)
        stale_once(second, before)
        first.decide(EMAIL)
        other = dataclasses.replace(EMAIL, customer_id="c2")
        c1, c2 = second.decide_many([EMAIL, other])
        assert not isinstance(c1, Exception) and not isinstance(c2, Exception)
        assert c1.actions == () and c2.actions  # c1 had its e-mail; c2's is not held back
        assert second.store.get_decision(c2.decision_id) is not None
        assert second.store.get_decision(c1.decision_id) is not None
    finally:
        first.close()
        second.close()


def test_a_visitor_merged_meanwhile_is_decided_for_as_the_customer(tmp_path: Path) -> None:
    """A decision for a visitor; before its write, another process's identify merges the
    visitor into a known customer: the decision is made again for the customer, and
    nothing is left on the anonymous profile that is gone."""
    db = tmp_path / "nb.db"
    first, second = engine_on(db, 1), engine_on(db, 2)
    try:
        visit = [{"type": "page", "anonymousId": "v3", "name": "Cards", "messageId": "p-1"}]
        ingest(first, parse(visit, "batch"), "batch")
        identify = [
            {"type": "identify", "userId": "c3", "anonymousId": "v3", "messageId": "i-1",
             "traits": {"age": 40, "income": 50000, "in_arrears": False}}
        ]  # fmt: skip
        write = first.store.record_decisions
        merged = []

        def merge_first(*args: Any, **kwargs: Any) -> None:
            if not merged:  # the other worker's identify lands between read and write
                merged.append(ingest(second, parse(identify, "batch"), "batch"))
            write(*args, **kwargs)

        first.store.record_decisions = merge_first  # type: ignore[method-assign]
        request = DecisionRequest(
            channel="web", placements=(Placement("hero", 1),), anonymous_ids={"anonymous_id": "v3"}
        )
        decision = first.decide(request)
        assert merged and first.store.merges("c3"), "the visitor was merged meanwhile"
        assert decision.customer_id == "c3"
        stored = first.store.get_decision(decision.decision_id)
        assert stored is not None and stored.customer_id == "c3"
        assert first.store.history(customer_id="anonymous:v3", limit=10) == []
    finally:
        first.close()
        second.close()
