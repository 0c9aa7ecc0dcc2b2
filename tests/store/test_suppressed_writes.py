"""A suppressed subject gets no new personal data, whatever the timing: every store write
looks the suppression list up inside its own transaction, so a write that was already
under way (its caller checked before an erasure committed, in another process, say)
stores nothing of them — while the rest of its batch is stored."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from nextbest.privacy import digest, run_regulation
from nextbest.store import MemoryStore, Store, open_store
from nextbest.store.base import (
    ConsentRecord,
    EventRecord,
    FeatureState,
    InteractionRow,
    OutcomeRecord,
    StoredDecision,
)
from tests.store import test_conformance as conformance

X = "x1"  # the suppressed subject
OTHER = "c2"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else open_store(str(tmp_path / "t.db"))
    s.set_suppressed([digest(X)], "reg_1", 1.0)
    yield s
    s.close()


def decision(decision_id: str, customer_id: str | None) -> StoredDecision:
    """A decision whose document holds something personal of the customer's."""
    document = {"features": {"first_name": f"name-of-{customer_id}"}}
    return conformance.decision(decision_id, customer_id, document=document)


def impression(decision_id: str, customer_id: str) -> InteractionRow:
    return InteractionRow(customer_id, decision_id, "a1", "i", "i/g", "web", "impression", 100.0)


def event(message_id: str, customer_id: str) -> EventRecord:
    payload = {"type": "identify", "userId": customer_id, "traits": {"first_name": "Ada"}}
    return EventRecord(message_id, "identify", customer_id, "anon", None, 50.0, 60.0, payload)


def features(events: Sequence[EventRecord]) -> dict[str, FeatureState]:
    return {e.customer_id: {"logins": [[e.ts, 1]]} for e in events if e.customer_id}


def outcome(customer_id: str, key: str) -> OutcomeRecord:
    return OutcomeRecord("d1", "a1", "accepted", 200.0, key, customer_id, "i", "i/g", "web")


def nothing_of(store: Store, customer_id: str) -> None:
    """Nothing at all stored about the customer."""
    data: dict[str, Any] = store.subject_data(customer_id)
    assert {k: v for k, v in data.items() if v} == {}


def test_upsert_profiles_leaves_out_the_suppressed(store: Store) -> None:
    assert store.upsert_profiles([(X, {"age": 30}), (OTHER, {"age": 40})], 1.0) == 1
    written = store.upsert_profiles(
        [(X, {"age": 31}), (OTHER, {"age": 41})], 2.0, source="api", ranks={}
    )
    assert written == 1
    assert store.get_profile(OTHER) == {"age": 41}
    assert store.upsert_profiles([(X, {"age": 32})], 3.0) == 0
    nothing_of(store, X)


def test_record_events_drops_the_suppressed_events_traits_features_and_identifiers(
    store: Store,
) -> None:
    new = store.record_events(
        [(event("m1", X), {"first_name": "Ada"}), (event("m2", OTHER), {"first_name": "Bo"})],
        60.0,
        features,
        identities=[("email", "x@example.com", X), ("email", "c2@example.com", OTHER)],
        ranks={},
    )
    assert new == [False, True]  # the dropped event is not new
    assert [e.message_id for e in store.customer_events(OTHER, 10)] == ["m2"]
    assert store.get_profile(OTHER) == {"first_name": "Bo"}
    assert set(store.feature_states([X, OTHER])) == {OTHER}
    assert store.owner("email", "c2@example.com") == OTHER
    assert store.owner("email", "x@example.com") is None
    assert store.dropped() == 1  # counted
    nothing_of(store, X)


def test_record_decisions_drops_the_suppressed_decision_and_keeps_the_others(
    store: Store,
) -> None:
    store.record_decisions(
        [
            (decision("d-x", X), [impression("d-x", X)]),
            (decision("d-other", OTHER), [impression("d-other", OTHER)]),
            (decision("d-anon", None), []),
        ]
    )
    assert store.get_decision("d-x") is None
    assert store.get_decision("d-other") == decision("d-other", OTHER)
    assert store.get_decision("d-anon") == decision("d-anon", None)
    assert store.customer_history(OTHER, 0.0) == [impression("d-other", OTHER)]
    assert store.unanswered(0.0, 1000.0, ["accepted"], 10) == [
        ("d-anon", "a1"),
        ("d-other", "a1"),
    ]
    assert store.counts()["interactions"] == 1
    nothing_of(store, X)


def test_record_outcome_of_the_suppressed_is_not_recorded(store: Store) -> None:
    assert store.record_outcome(outcome(X, "k-x")) is False
    assert not store.has_outcome("k-x")
    assert store.record_outcome(outcome(OTHER, "k-other")) is True
    assert store.dropped() == 1
    assert store.counts()["interactions"] == 1
    nothing_of(store, X)


def test_set_consents_leaves_out_the_suppressed_grants_but_keeps_withdrawals(
    store: Store,
) -> None:
    store.set_consents(
        [(X, "marketing", "granted", 10.0), (OTHER, "marketing", "granted", 10.0)],
        [ConsentRecord(X, "email", "granted", 10.0), ConsentRecord(OTHER, "email", "denied", 10.0)],
    )
    assert store.get_consents(OTHER) == {"marketing": "granted"}
    assert [r.status for r in store.permission_ledger(OTHER)] == ["denied"]
    nothing_of(store, X)
    # a withdrawal while restricted is kept: lifting the restriction must not revive a grant
    store.set_consents(
        [(X, "marketing", "revoked", 11.0)], [ConsentRecord(X, "sms", "denied", 11.0)]
    )
    assert [r.status for r in store.consent_ledger(X)] == ["revoked"]
    assert [r.status for r in store.permission_ledger(X)] == ["denied"]


def test_link_identifiers_leaves_out_the_suppressed(store: Store) -> None:
    store.link_identifiers([("email", "x@example.com", X), ("email", "c2@example.com", OTHER)], 1.0)
    assert store.owner("email", "c2@example.com") == OTHER
    assert store.owner("email", "x@example.com") is None
    assert store.link_identifiers([("phone", "+15550100", X)], 2.0) == []
    nothing_of(store, X)


def test_writes_in_flight_in_another_process_land_nothing_after_an_erasure(
    tmp_path: Path,
) -> None:
    """Two stores on one file, as two API workers: the second one's caller checked the
    subject before the first erased them, and writes after."""
    path = str(tmp_path / "shared.db")
    eraser, writer = open_store(path, shared=True), open_store(path, shared=True)
    try:
        writer.upsert_profiles([(X, {"first_name": "Ada"})], 1.0, source="api", ranks={})
        assert writer.suppressed([digest(X)]) == set()  # the caller's check, before
        regulation = run_regulation(eraser, "suppress_with_delete", [X], 2.0)
        assert regulation.status == "finished"
        # the writes that were under way
        assert writer.upsert_profiles([(X, {"first_name": "Ada"})], 3.0) == 0
        assert writer.record_events(
            [(event("m1", X), {"first_name": "Ada"})],
            3.0,
            features,
            identities=[("email", "x@example.com", X)],
        ) == [False]
        writer.record_decisions(
            [
                (decision("d-x", X), [impression("d-x", X)]),
                (decision("d-other", OTHER), [impression("d-other", OTHER)]),
            ]
        )
        writer.set_consents([(X, "marketing", "granted", 3.0)])
        assert writer.record_outcome(outcome(X, "k-x")) is False
        for s in (eraser, writer):
            nothing_of(s, X)
            assert s.get_decision("d-other") is not None
    finally:
        writer.close()
        eraser.close()
