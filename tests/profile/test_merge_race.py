"""Two processes on one store: a visitor's events ingested while another process merges
the visitor into a known customer land on the customer's profile — events, traits,
feature windows and consent preferences — not on the anonymous profile the merge
removed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.events.segment import ingest, parse
from nextbest.store import open_store
from nextbest.testing import SMALL_BANK, T0, make_config

SCHEMA = (
    SMALL_BANK["schema.yaml"]
    + """\
features:
  card_views_1d: {on: page, event: Cards, aggregate: count, window: 1d}
"""
)
BANK = SMALL_BANK["nextbest.yaml"].replace(
    "marketing: {basis: consent}", "marketing: {basis: consent, segment_categories: [Advertising]}"
)
CONFIG = make_config({"nextbest.yaml": BANK, "schema.yaml": SCHEMA})
AT = (T0 + timedelta(hours=1)).isoformat()
IDENTIFY = [
    {"type": "identify", "userId": "c3", "anonymousId": "v3", "messageId": "i-1",
     "timestamp": AT, "traits": {"age": 40}}
]  # fmt: skip


def engine_on(db: Path, seed: int) -> Engine:
    return Engine(open_store(str(db)), CONFIG, clock=FixedClock(T0 + timedelta(hours=2)), seed=seed)


def merged_between_read_and_write(first: Engine, second: Engine) -> list[Any]:
    """`second`'s identify merges visitor v3 into c3 just before `first` writes."""
    write, merged = first.store.record_events, []

    def merge_first(*args: Any, **kwargs: Any) -> list[bool]:
        if not merged:
            merged.append(ingest(second, parse(IDENTIFY, "batch"), "batch"))
        return write(*args, **kwargs)

    first.store.record_events = merge_first  # type: ignore[method-assign]
    return merged


def test_a_visit_ingested_during_the_merge_lands_on_the_customer(tmp_path: Path) -> None:
    db = tmp_path / "nb.db"
    first, second = engine_on(db, 1), engine_on(db, 2)
    try:
        visit = {"type": "page", "anonymousId": "v3", "name": "Cards", "timestamp": AT}
        ingest(first, parse([{**visit, "messageId": "p-1"}], "batch"), "batch")
        merged = merged_between_read_and_write(first, second)
        answer = ingest(
            first,
            parse(
                [
                    {**visit, "messageId": "p-2",
                     "context": {"consent": {"categoryPreferences": {"Advertising": False}}}},
                    {"type": "identify", "anonymousId": "v3", "messageId": "i-2",
                     "timestamp": AT, "traits": {"income": 52000}},
                ],
                "batch",
            ),
            "batch",
        )  # fmt: skip
        assert merged and first.store.merges("c3"), "the visitor was merged meanwhile"
        assert answer["new"] == 2
        events = {e.message_id for e in first.store.customer_events("c3", 10)}
        assert events == {"p-1", "p-2", "i-1", "i-2"}
        assert first.store.customer_events("anonymous:v3", 10) == []
        assert first.store.get_profile("anonymous:v3") is None
        profile = first.store.get_profile("c3")
        assert profile is not None and profile["income"] == 52000 and profile["age"] == 40
        assert first.features_of("c3", first.clock.now())["card_views_1d"] == 2
        said = [(c.subject, c.status, c.source) for c in first.store.consent_ledger("c3")]
        assert ("marketing", "denied", "segment") in said
    finally:
        first.close()
        second.close()


def test_traits_redirected_to_the_customer_follow_the_customers_consent(tmp_path: Path) -> None:
    """The visitor may be personalized (no objection on record); the customer it was merged
    into meanwhile objected. The visitor's identify traits now describe the customer, so
    the customer's objection withholds them."""
    config = make_config(
        {
            "nextbest.yaml": SMALL_BANK["nextbest.yaml"].replace(
                "marketing: {basis: consent}",
                "marketing: {basis: consent}\n  personalization: {basis: legitimate_interest}",
            ),
            "schema.yaml": SMALL_BANK["schema.yaml"],
        }
    )
    db = tmp_path / "nb.db"
    clock = FixedClock(T0 + timedelta(hours=2))
    first = Engine(open_store(str(db)), config, clock=clock, seed=1)
    second = Engine(open_store(str(db)), config, clock=clock, seed=2)
    try:
        second.upsert_profile("c3", {"age": 40})
        second.add_consents(
            [second.consent_record("c3", "denied", purpose="personalization", at=T0)]
        )
        visit = {"type": "page", "anonymousId": "v3", "name": "Cards", "timestamp": AT}
        ingest(first, parse([{**visit, "messageId": "p-1"}], "batch"), "batch")
        merged = merged_between_read_and_write(first, second)
        identify = {"type": "identify", "anonymousId": "v3", "messageId": "i-2",
                    "timestamp": AT, "traits": {"income": 52000}}  # fmt: skip
        answer = ingest(first, parse([identify], "batch"), "batch")
        assert merged and first.store.merges("c3"), "the visitor was merged meanwhile"
        assert answer["new"] == 1
        assert {e.message_id for e in first.store.customer_events("c3", 10)} >= {"i-2"}
        profile = first.store.get_profile("c3")
        assert profile is not None and "income" not in profile
        assert answer["traits_withheld"] == 1  # the answer says so, as for any customer
    finally:
        first.close()
        second.close()


def test_a_new_visitors_first_events_land_on_the_customer_identified_meanwhile(
    tmp_path: Path,
) -> None:
    """The visitor is new to the store, so identifying it merges nothing: it only links
    v3 to c3. Its first page view, resolved before that and written after, still lands on
    c3 — not on an anonymous profile its id no longer leads to."""
    db = tmp_path / "nb.db"
    first, second = engine_on(db, 1), engine_on(db, 2)
    try:
        merged = merged_between_read_and_write(first, second)
        visit = {"type": "page", "anonymousId": "v3", "name": "Cards", "timestamp": AT,
                 "messageId": "p-1"}  # fmt: skip
        assert ingest(first, parse([visit], "batch"), "batch")["new"] == 1
        assert merged and not first.store.merges("c3"), "linked meanwhile, nothing merged"
        assert {e.message_id for e in first.store.customer_events("c3", 10)} == {"i-1", "p-1"}
        assert first.store.customer_events("anonymous:v3", 10) == []
        assert first.store.get_profile("anonymous:v3") is None
        assert first.features_of("c3", first.clock.now())["card_views_1d"] == 1
    finally:
        first.close()
        second.close()
