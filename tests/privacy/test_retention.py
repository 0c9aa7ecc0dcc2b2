"""Retention: with a frozen clock, `purge` removes what each store keeps past its time and
erases profiles inactive for too long — and nothing younger."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.events.segment import ingest, parse
from nextbest.store import MemoryStore, Store, open_store
from nextbest.store.base import Quarantined
from nextbest.testing import SMALL_BANK, T0, make_config
from nextbest.types import DecisionRequest, Placement

SETTINGS = (
    SMALL_BANK["nextbest.yaml"]
    + """\
retention:
  events: 30d
  decisions: 90d
  interactions: 90d
  quarantine: 7d
  profiles_inactive: 365d
"""
)
CONFIG = make_config({"nextbest.yaml": SETTINGS})


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else open_store(str(tmp_path / "r.db"))


def at(store: Store, when: timedelta) -> Engine:
    # a seed per moment: each engine makes its own decision ids
    return Engine(store, CONFIG, clock=FixedClock(T0 + when), seed=when.days)


def test_purge_keeps_only_what_is_young_enough(store: Store) -> None:
    old = at(store, timedelta(0))
    old.upsert_profile("gone", {"age": 50, "income": 60000, "in_arrears": False, "products": []})
    old.upsert_profile("kept", {"age": 40, "income": 60000, "in_arrears": False, "products": []})
    old.set_consent("kept", "marketing", "granted")
    track = {"type": "track", "userId": "kept", "event": "Viewed", "messageId": "e-old",
             "timestamp": T0.isoformat()}  # fmt: skip
    ingest(old, parse([track], ""))
    request = DecisionRequest(channel="web", placements=(Placement("hero"),), customer_id="kept",
                              assurance_level=1)  # fmt: skip
    first = old.decide(request)
    old.record_outcome(first.decision_id, first.actions[0].action_id, "clicked")
    store.quarantine([Quarantined(T0.timestamp(), "import:x", "1", "age", "bad", {})])
    # 400 days on: "kept" was updated 40 days ago, "gone" never since
    later = at(store, timedelta(days=400))
    ingest(
        later,
        parse(
            [{**track, "messageId": "e-new", "timestamp": (T0 + timedelta(days=400)).isoformat()}],
            "",
        ),
    )
    at(store, timedelta(days=360)).upsert_profile("kept", {"age": 41})
    recent = later.decide(request)
    counts = later.purge()
    assert counts == {
        "events": 1, "decisions": 1, "interactions": 1, "quarantine": 1, "profiles_inactive": 1,
    }  # fmt: skip
    assert store.get_profile("gone") is None
    assert store.get_profile("kept") == {
        "age": 41,
        "income": 60000,
        "in_arrears": False,
        "products": [],
    }
    assert [e.message_id for e in store.customer_events("kept", 10)] == ["e-new"]
    assert store.get_decision(first.decision_id) is None
    assert store.get_decision(recent.decision_id) is not None
    assert store.quarantined() == []
    assert later.purge() == {"events": 0, "decisions": 0, "interactions": 0, "quarantine": 0,
                             "profiles_inactive": 0}  # fmt: skip


def test_old_merge_journals_go_and_an_undone_pair_stays_apart(store: Store) -> None:
    config = make_config(
        {"nextbest.yaml": SMALL_BANK["nextbest.yaml"] + "retention:\n  merges: 30d\n"}
    )
    old = Engine(store, config, clock=FixedClock(T0))
    for n, cookie in enumerate(("a1", "a2")):
        visit = {"type": "identify", "anonymousId": cookie, "traits": {"age": 30 + n}}
        login = {"type": "identify", "userId": f"u{n}", "anonymousId": cookie}
        ingest(old, parse([visit], ""))
        ingest(old, parse([login], ""))
    undone = old.merges("u1")[0].merge_id
    old.unmerge(undone)
    later = Engine(store, config, clock=FixedClock(T0 + timedelta(days=31)))
    assert later.purge() == {"merges": 1}
    assert later.merges("u0") == []  # the journal is gone: no longer undoable
    [kept] = later.merges("u1")
    assert kept.status == "unmerged" and sum(kept.moved.values()) == 0
    ingest(later, parse([{"type": "identify", "userId": "u1", "anonymousId": "a2"}], ""))
    assert later.lookup("anonymous_id", "a2") == "anonymous:a2"  # still apart
