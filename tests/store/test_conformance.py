"""Every store backend passes the same checks (memory, and a real SQLite file)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.store import MemoryStore, Store, open_store
from nextbest.store.base import (
    EventRecord,
    InteractionRow,
    OutboxRow,
    OutcomeRecord,
    StaleHistory,
    StoredDecision,
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else open_store(str(tmp_path / "t.db"))
    yield s
    s.close()


def decision(
    decision_id: str = "d1",
    customer_id: str | None = "c1",
    ts: float = 100.0,
    document: dict[str, Any] | None = None,
) -> StoredDecision:
    action = {
        "action_id": "a1", "treatment_id": "t1", "issue": "i", "group": "g", "channel": "web",
        "placement": "hero", "rank": 1, "content": "hi", "propensity": 0.3, "model_propensity": 0.2,
        "value": 10.0, "lever": 1.0, "context_weight": 1.0, "priority": 3.0,
        "selection_probability": 0.5, "fallback": False, "reasons": ["x"],
    }  # fmt: skip
    return StoredDecision(
        decision_id, ts, customer_id, "i1", "web", "inbound", "v1", [action],
        document if document is not None else {"seed": 1},
    )  # fmt: skip


def row(ts: float, outcome: str = "impression", customer_id: str = "c1") -> InteractionRow:
    return InteractionRow(customer_id, "d1", "a1", "i", "i/g", "web", outcome, ts)


def outcome(key: str, ts: float = 200.0, kind: str = "accepted") -> OutcomeRecord:
    return OutcomeRecord("d1", "a1", kind, ts, key, "c1", "i", "i/g", "web", 5.0)


def test_profiles_merge_key_by_key(store: Store) -> None:
    assert store.get_profile("c1") is None
    store.upsert_profiles([("c1", {"age": 30, "products": ["A"]}), ("c2", {"age": 40})], 1.0)
    store.upsert_profiles([("c1", {"income": 100, "products": ["B"]})], 2.0)
    assert store.get_profile("c1") == {"age": 30, "income": 100, "products": ["B"]}
    assert store.count_profiles() == 2
    assert store.customer_ids(10) == ["c1", "c2"]
    assert store.customer_ids(1, offset=1) == ["c2"]


def test_consents_latest_wins(store: Store) -> None:
    store.set_consents([("c1", "marketing", "granted", 10.0), ("c1", "marketing", "revoked", 20.0)])
    store.set_consents([("c1", "marketing", "granted", 15.0), ("c1", "service", "denied", 1.0)])
    assert store.get_consents("c1") == {"marketing": "revoked", "service": "denied"}
    assert store.get_consents("nobody") == {}


def test_decision_round_trip(store: Store) -> None:
    stored = decision()
    store.record_decisions([(stored, [row(100.0)])])
    assert store.get_decision("d1") == stored
    assert store.get_decision("nope") is None
    assert [d.decision_id for d in store.decisions(customer_id="c1")] == ["d1"]
    assert store.customer_history("c1", 0.0) == [row(100.0)]


def test_decision_ids_are_unique(store: Store) -> None:
    store.record_decisions([(decision(), [row(100.0)])])
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error
        store.record_decisions([(decision(), [row(101.0)])])
    assert store.customer_history("c1", 0.0) == [row(100.0)]  # nothing half-written


def test_decisions_of_one_call_are_stored_all_or_none(store: Store) -> None:
    store.record_decisions([(decision("d1"), [row(100.0)]), (decision("d2"), [row(110.0)])])
    assert [store.get_decision(d) is not None for d in ("d1", "d2")] == [True, True]
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error
        # d3 is new, d1 is not: neither d3 nor its impression may stay behind
        store.record_decisions([(decision("d3"), [row(120.0)]), (decision("d1"), [])])
    with pytest.raises(Exception):  # noqa: B017
        store.record_decisions([(decision("d4"), []), (decision("d4"), [])])
    assert store.get_decision("d3") is None and store.get_decision("d4") is None
    assert [r.ts for r in store.customer_history("c1", 0.0)] == [100.0, 110.0]
    store.record_decisions([])  # nothing to do


def test_outcome_idempotency(store: Store) -> None:
    store.record_decisions([(decision(), [])])
    assert not store.has_outcome("k1")
    assert store.record_outcome(outcome("k1"))
    assert store.has_outcome("k1")
    assert not store.record_outcome(outcome("k1"))
    rows = store.history(decision_id="d1")
    assert [(r.outcome, r.value) for r in rows] == [("accepted", 5.0)]
    assert store.counts()["outcomes_by_type"] == {"accepted": 1}


def test_training_rows_come_in_log_order_with_their_features(store: Store) -> None:
    document = {"seed": 1, "features": {"age": 40, "context.page": "cards"}}
    store.record_decisions([(dataclasses.replace(decision(), document=document), [row(100.0)])])
    store.record_outcome(outcome("k1"))
    store.record_outcome(outcome("k2", kind="clicked"))
    store.record_outcome(outcome("k3", 130.0, "rejected"))
    store.record_decisions([(decision("d2"), [row(140.0)])])
    rows, through = store.training_rows(0, ["accepted", "rejected"], 10)
    assert [(r.outcome, r.action_id, r.channel) for r in rows] == [
        ("accepted", "a1", "web"),
        ("rejected", "a1", "web"),
    ]
    assert rows[0].features == {"age": 40, "context.page": "cards"}
    assert rows[0].row < rows[1].row < through  # past the trailing impression
    assert store.training_rows(through, ["accepted", "rejected"], 10) == ([], through)
    # a full page stops at its last row
    first, mark = store.training_rows(0, ["accepted", "rejected"], 1)
    assert [r.outcome for r in first] == ["accepted"] and mark == first[0].row
    assert [r.outcome for r in store.training_rows(mark, ["accepted", "rejected"], 1)[0]] == [
        "rejected"
    ]


def test_learning_is_saved_with_its_mark_which_never_moves_back(store: Store) -> None:
    assert store.load_learning() == ({}, 0)
    assert store.save_learning({"a1@web": {"alpha": 2.0}}, 3)
    assert store.save_learning({"a2@web": {"alpha": 1.0}}, 3)  # another learner, level
    assert not store.save_learning({"a1@web": {"alpha": 9.0}}, 2)  # behind: nothing written
    assert store.load_learning() == ({"a1@web": {"alpha": 2.0}, "a2@web": {"alpha": 1.0}}, 3)
    assert store.learned_through() == 3
    store.save_model_states({"a1@web/reservoir": {"rows": []}})
    assert store.load_learning(skip_suffix="/reservoir")[0].keys() == {"a1@web", "a2@web"}
    assert set(store.load_model_states()) == {"a1@web", "a2@web", "a1@web/reservoir"}


def test_model_states_keep_infinities(store: Store) -> None:
    # a quantile sketch that has seen nothing holds min = +inf, max = -inf
    store.save_model_states({"enc": {"min": math.inf, "max": -math.inf, "n": 0}})
    assert store.load_model_states()["enc"] == {"min": math.inf, "max": -math.inf, "n": 0}


def test_history_window_is_inclusive_and_ordered(store: Store) -> None:
    store.record_decisions(
        [(decision(), [row(300.0), row(100.0), row(200.0), row(150.0, customer_id="c2")])]
    )
    assert [r.ts for r in store.customer_history("c1", 200.0)] == [200.0, 300.0]
    assert [r.ts for r in store.history(customer_id="c1", limit=2)] == [300.0, 200.0]
    assert store.counts()["interactions"] == 4


def test_config_versions(store: Store) -> None:
    store.save_config_version("v1", {"a.yaml": "x: 1"}, 1.0)
    store.save_config_version("v1", {"a.yaml": "changed"}, 2.0)  # first one is kept
    assert store.get_config_version("v1") == {"a.yaml": "x: 1"}
    assert store.get_config_version("v2") is None


def test_activations_are_numbered_upwards_and_the_newest_is_the_live_one(store: Store) -> None:
    assert store.last_activation() is None
    store.save_config_version("v0", {"a.yaml": "x: 0"}, 0.5)  # saved, never made live
    assert store.last_activation() is None
    first = store.record_activation("v1", {"a.yaml": "x: 1"}, 1.0)
    assert store.get_config_version("v1") == {"a.yaml": "x: 1"}
    second = store.record_activation("v2", {"a.yaml": "x: 2"}, 2.0)
    back = store.record_activation("v1", {"a.yaml": "x: 1"}, 3.0)  # a rollback is news too
    assert first < second < back
    assert store.last_activation() == (back, "v1")
    assert store.get_config_version("v2") == {"a.yaml": "x: 2"}


_ids = itertools.count()
traits = st.dictionaries(
    st.text(alphabet="abcdefgh_", min_size=1, max_size=8),
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.text(max_size=20)
    | st.lists(st.text(max_size=5), max_size=3),
    max_size=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=traits, second=traits)
def test_profile_merge_property(
    store: Store, first: dict[str, object], second: dict[str, object]
) -> None:
    """Stored traits equal the key-by-key merge; a null value removes the trait."""
    customer_id = f"p{next(_ids)}"  # the fixture's store is shared by all examples
    store.upsert_profiles([(customer_id, first)], 1.0)
    store.upsert_profiles([(customer_id, second)], 2.0)
    expected = {k: v for k, v in first.items() if v is not None}
    for k, v in second.items():
        if v is None:
            expected.pop(k, None)
        else:
            expected[k] = v
    assert (store.get_profile(customer_id) or {}) == expected


def test_unanswered_lists_returned_actions_without_an_answer(store: Store) -> None:
    store.record_decisions([(decision("d1", ts=100.0), [])])
    store.record_decisions([(decision("d2", ts=150.0), [])])
    store.record_decisions([(decision("d3", ts=300.0), [])])  # too young
    answers = ["accepted", "converted", "rejected", "ignored"]
    assert store.unanswered(0.0, 200.0, answers, 10) == [("d1", "a1"), ("d2", "a1")]
    # an impression or a click is no answer; an acceptance is
    store.record_outcome(OutcomeRecord("d1", "a1", "clicked", 120.0, "k1", "c1", "i", "i/g", "web"))
    store.record_outcome(
        OutcomeRecord("d2", "a1", "accepted", 160.0, "k2", "c1", "i", "i/g", "web")
    )
    assert store.unanswered(0.0, 200.0, answers, 10) == [("d1", "a1")]
    assert store.unanswered(120.0, 200.0, answers, 10) == []  # d1 is older than the window
    assert store.unanswered(0.0, 200.0, answers, 0) == []


def test_api_keys_by_digest_and_revocation(store: Store) -> None:
    from nextbest.store.base import ApiKey

    store.add_key(ApiKey("k1", "web", "channel", 1.0), "digest-1")
    store.add_key(ApiKey("k2", "ops", "admin", 2.0), "digest-2")
    assert store.find_key("digest-1") == ApiKey("k1", "web", "channel", 1.0, None)
    assert store.find_key("nope") is None
    assert store.revoke_key("k1", 5.0) and not store.revoke_key("k1", 6.0)
    assert not store.revoke_key("nobody", 6.0)
    found = store.find_key("digest-1")
    assert found is not None and found.revoked_ts == 5.0
    assert [k.key_id for k in store.list_keys()] == ["k1", "k2"]


def test_a_firing_is_claimed_once_per_cooldown(store: Store) -> None:
    def row(outbox_id: str, ts: float, trigger: str = "t1") -> OutboxRow:
        return OutboxRow(outbox_id, "c1", trigger, f"e-{outbox_id}", "firing", None, ts, ts)

    assert store.claim_firing(row("o1", 100.0), cooldown=60.0)
    assert not store.claim_firing(row("o2", 130.0), cooldown=60.0)  # inside the cool-down
    assert store.claim_firing(row("o3", 130.0, trigger="t2"), cooldown=60.0)  # another trigger
    assert store.claim_firing(row("o4", 161.0), cooldown=60.0)
    assert sorted(r.outbox_id for r in store.outbox()) == ["o1", "o3", "o4"]
    assert store.last_fired("t1", "c1") == 161.0


def test_decisions_on_a_history_that_moved_on_are_refused_whole(store: Store) -> None:
    mark = store.history_mark()
    store.record_decisions([(decision("d1", "c1"), [row(100.0, customer_id="c1")])])
    assert store.history_mark() > mark
    # c1's history moved on since `mark`; c2's did not
    with pytest.raises(StaleHistory) as stale:
        store.record_decisions(
            [(decision("d2", "c2"), [row(101.0, customer_id="c2")]), (decision("d3", "c1"), [])],
            seen=mark,
        )
    assert stale.value.customers == {"c1"}
    assert store.get_decision("d2") is None and store.get_decision("d3") is None
    store.record_decisions([(decision("d2", "c2"), [])], seen=mark)  # c2 alone: no conflict
    store.record_decisions([(decision("d3", "c1"), [])], seen=store.history_mark())
    assert store.get_decision("d2") is not None and store.get_decision("d3") is not None


def test_leased_outbox_rows_are_passed_by_until_the_lease_ends(store: Store) -> None:
    def row(outbox_id: str, status: str, due: float) -> OutboxRow:
        return OutboxRow(outbox_id, "c1", "t1", f"e-{outbox_id}", status, "email", due, 1.0)

    store.put_outbox([row("o1", "waiting", 5.0), row("o2", "waiting", 3.0),
                      row("o3", "queued", 1.0), row("o4", "waiting", 50.0)])  # fmt: skip
    leased = store.lease_due(10.0, 70.0, 10)
    assert [(r.outbox_id, r.due_ts) for r in leased] == [("o2", 3.0), ("o1", 5.0)]
    assert store.lease_due(10.0, 70.0, 10) == []
    assert [r.outbox_id for r in store.lease_due(60.0, 120.0, 10)] == ["o4"]
    # a lease that ran out: due again, here both at once; `limit` takes one
    assert len(store.lease_due(70.0, 130.0, 1)) == 1
    assert len(store.lease_due(70.0, 130.0, 10)) == 1


def test_events_for_a_visitor_merged_since_the_mark_are_refused_whole(store: Store) -> None:
    def visit(message_id: str, customer_id: str) -> tuple[EventRecord, None]:
        record = EventRecord(message_id, "page", customer_id, "v1", "Home", 10.0, 10.0, {})
        return record, None

    store.record_events(
        [visit("e0", "anonymous:v0")], 10.0, identities=[("anonymous_id", "v0", "anonymous:v0")]
    )
    store.link_identifiers([("anonymous_id", "v0", "c0")], 10.0)  # merged before the mark
    store.record_events(
        [visit("e1", "anonymous:v1")], 10.0, identities=[("anonymous_id", "v1", "anonymous:v1")]
    )
    mark = store.identity_mark()
    store.link_identifiers([("anonymous_id", "v1", "c1")], 11.0)  # merges anonymous:v1
    assert store.identity_mark().merges > mark.merges
    batch = [visit("e2", "c2"), visit("e3", "anonymous:v1")]
    with pytest.raises(StaleHistory) as stale:
        store.record_events(batch, 12.0, seen=mark)
    assert stale.value.customers == {"anonymous:v1"}
    assert store.customer_events("c2", 10) == []
    # a link to the merged visitor counts too; a visitor merged before the mark does not
    with pytest.raises(StaleHistory):
        store.record_events(
            [], 12.0, identities=[("anonymous_id", "v9", "anonymous:v1")], seen=mark
        )
    assert store.record_events([visit("e4", "anonymous:v0")], 12.0, seen=mark) == [True]
    assert store.record_events(batch, 12.0, seen=store.identity_mark()) == [True, True]


def test_events_for_a_new_visitor_claimed_since_the_mark_are_refused_whole(store: Store) -> None:
    """A visitor new to the store (no profile, no link), resolved to its anonymous profile,
    whose anonymous id a known customer claims before the events are written: they would
    land on a profile no one will look at again, so nothing is written."""

    def visit(message_id: str, customer_id: str, aid: str) -> tuple[EventRecord, None]:
        record = EventRecord(message_id, "page", customer_id, aid, "Home", 10.0, 10.0, {})
        return record, None

    store.link_identifiers([("anonymous_id", "v0", "c0")], 10.0)  # claimed before the mark
    mark = store.identity_mark()
    store.link_identifiers([("anonymous_id", "v5", "c5")], 11.0)  # no profile: no merge
    assert store.identity_mark().links > mark.links
    assert store.identity_mark().merges == mark.merges
    batch = [visit("e1", "c2", "v2"), visit("e2", "anonymous:v5", "v5")]
    with pytest.raises(StaleHistory) as stale:
        store.record_events(batch, 12.0, seen=mark)
    assert stale.value.customers == {"anonymous:v5"}
    assert store.customer_events("c2", 10) == []
    # a visitor whose id was claimed before the mark (a shared device, left with no one)
    # and a visitor still nobody's are written as resolved
    kept = [visit("e3", "anonymous:v0", "v0"), visit("e4", "anonymous:v6", "v6")]
    assert store.record_events(kept, 12.0, seen=mark) == [True, True]
    # claiming an identifier an anonymous profile owns moves it (a merge), not a new link
    store.link_identifiers([("anonymous_id", "v6", "anonymous:v6")], 12.0)
    moved = store.identity_mark()
    store.link_identifiers([("anonymous_id", "v6", "c6")], 13.0)
    assert store.identity_mark().links == moved.links
    assert store.record_events(batch, 12.0, seen=store.identity_mark()) == [True, True]


def test_erasing_a_customer_erases_what_is_left_under_the_visitors_merged_into_them(
    store: Store,
) -> None:
    """A merge moves a visitor's events and history to the customer, not its consent
    records, and a write racing the merge can still land under the visitor's id: all of
    it is the customer's, and goes with them. A visitor whose merge was undone has its own
    data back, which stays; so does an unrelated visitor's."""

    def visit(message_id: str, customer_id: str, aid: str) -> tuple[EventRecord, None]:
        return EventRecord(message_id, "page", customer_id, aid, "Home", 10.0, 10.0, {}), None

    for aid in ("v1", "v2", "v3"):
        anon = f"anonymous:{aid}"
        store.record_events(
            [visit(f"e-{aid}", anon, aid)], 10.0, identities=[("anonymous_id", aid, anon)]
        )
        store.set_consents([(anon, "marketing", "granted", 10.0)])
    store.link_identifiers([("anonymous_id", "v1", "c1")], 11.0)  # merges anonymous:v1
    store.link_identifiers([("anonymous_id", "v2", "c1")], 11.0)
    undone = next(m for m in store.merges("c1") if m.from_id == "anonymous:v2")
    assert store.unmerge(undone.merge_id, 12.0, None) is not None
    # what a write that resolved the visitor before the merge leaves under its id
    store.record_events([visit("late", "anonymous:v1", "v1")], 13.0)
    assert store.consent_ledger("anonymous:v1") and store.customer_events("anonymous:v1", 10)

    counts = store.erase_subject("c1")

    assert store.consent_ledger("anonymous:v1") == []
    assert store.customer_events("anonymous:v1", 10) == []
    assert store.customer_events("c1", 10) == [] and store.merges("c1") == []
    assert counts["consents"] == 1 and counts["events"] == 2  # e-v1 (moved) and late
    for kept in ("anonymous:v2", "anonymous:v3"):
        assert len(store.consent_ledger(kept)) == 1
        assert len(store.customer_events(kept, 10)) == 1
