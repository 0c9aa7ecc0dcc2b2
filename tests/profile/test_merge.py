"""Merging an anonymous visitor's profile into the customer it turns out to be, and
undoing it: unmerge restores both profiles exactly as if the merge had never happened."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.errors import ConflictError, NotFoundError
from nextbest.events.segment import ingest, parse
from nextbest.profile.features import rebuild, values
from nextbest.store import MemoryStore, open_store
from nextbest.testing import SMALL_BANK, T0, make_config
from nextbest.types import DecisionRequest, Placement

SCHEMA = (
    SMALL_BANK["schema.yaml"].replace(
        "  first_name: {type: text, pii: true}\n",
        "  first_name: {type: text, pii: true}\n  email: {type: text, pii: true}\n",
    )
    + """\
features:
  failed_logins_1d: {event: Login Failed, aggregate: count, window: 1d}
  card_views_1d: {on: page, event: Cards, aggregate: count, window: 1d}
  last_page: {on: page, property: path, aggregate: last, window: 7d}
"""
)
CONFIG = make_config({"schema.yaml": SCHEMA})
VISITOR, CUSTOMER = "anonymous:a1", "u1"

Make = Callable[[], Engine]


@pytest.fixture(params=["memory", "sqlite"])
def make(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Make]:
    def engine() -> Engine:
        store = (
            MemoryStore()
            if request.param == "memory"
            else open_store(str(tmp_path_factory.mktemp("merge") / "m.db"))
        )
        return Engine(store, CONFIG, clock=FixedClock(T0 + timedelta(hours=12)), seed=3)

    yield engine


def event(who: dict[str, str], kind: int, minutes: int, value: int) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    base: dict[str, Any] = {**who, "timestamp": at}
    if kind == 0:
        traits = {"age": 20 + value, "first_name": f"N{value}", "income": 1000 * value}
        return base | {"type": "identify", "traits": dict(list(traits.items())[: 1 + value % 3])}
    if kind == 1:
        return base | {"type": "track", "event": "Login Failed"}
    page = ("Cards", "Home")[value % 2]
    return base | {"type": "page", "name": page, "properties": {"path": f"/{page}/{value}"}}


#: (who: 0 visitor, 1 customer; kind; minutes after T0; a small value)
step = st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(0, 600), st.integers(0, 5))
WHO = ({"anonymousId": "a1"}, {"userId": CUSTOMER})


def run(engine: Engine, before: list[tuple[int, int, int, int]], link: bool, decide: bool) -> None:
    """The visitor's and the customer's events; maybe a decision for the visitor, and its
    outcome; then the customer identifies — with the visitor's anonymous id if `link`."""
    for n, (who, kind, minutes, value) in enumerate(before):
        message = event(WHO[who], kind, minutes, value) | {"messageId": f"m{n}"}
        ingest(engine, parse([message], ""))
    if decide:
        decision = engine.decide(
            DecisionRequest(channel="web", placements=(Placement("hero"),), customer_id=VISITOR)
        )
        for action in decision.actions:  # none without an age (eligibility: age >= 18)
            engine.record_outcome(decision.decision_id, action.action_id, "clicked")
    trigger = {"type": "identify", "userId": CUSTOMER, "messageId": "login",
               "traits": {"age": 44}, "timestamp": T0.isoformat()}  # fmt: skip
    ingest(engine, parse([trigger | ({"anonymousId": "a1"} if link else {})], ""))


def view(engine: Engine, customer_id: str) -> dict[str, Any]:
    """Everything a profile shows: traits, identifiers, events, features, history."""
    return {
        "profile": engine.store.get_profile(customer_id),
        "trait_sources": engine.store.trait_sources(customer_id),
        "identifiers": engine.identifiers_of(customer_id),
        "events": sorted(e.message_id for e in engine.store.customer_events(customer_id, 1000)),
        "features": engine.features_of(customer_id),
        "history": sorted(
            (r.action_id, r.outcome) for r in engine.store.history(customer_id=customer_id)
        ),
        "decisions": len(engine.store.decisions(customer_id=customer_id)),
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.lists(step, min_size=1, max_size=10).filter(lambda s: any(w == 0 for w, *_ in s)),
    decide=st.booleans(),
)
def test_unmerge_restores_both_profiles_exactly(
    make: Make, before: list[tuple[int, int, int, int]], decide: bool
) -> None:
    merged, apart = make(), make()
    run(merged, before, link=True, decide=decide)
    run(apart, before, link=False, decide=decide)

    # merged: the visitor is gone, the customer holds everything of both
    assert view(merged, VISITOR)["events"] == [] and merged.store.get_profile(VISITOR) is None
    assert merged.lookup("anonymous_id", "a1") == CUSTOMER
    both = view(apart, VISITOR)["events"] + view(apart, CUSTOMER)["events"]
    assert view(merged, CUSTOMER)["events"] == sorted(both)
    mine, theirs = apart.store.get_profile(CUSTOMER) or {}, apart.store.get_profile(VISITOR) or {}
    assert merged.store.get_profile(CUSTOMER) == {**theirs, **mine}  # the customer's own win
    events = [e for e in merged.store.all_events() if e.customer_id == CUSTOMER]
    rebuilt = rebuild(CONFIG.features, events).get(CUSTOMER, {})
    at = merged.clock.now().timestamp()
    assert merged.features_of(CUSTOMER) == values(rebuilt, CONFIG.features, at)
    assert view(merged, CUSTOMER)["decisions"] == int(decide)

    [merge] = merged.merges(CUSTOMER)
    assert (merge.from_id, merge.into_id, merge.status) == (VISITOR, CUSTOMER, "merged")
    done = merged.unmerge(merge.merge_id)
    assert done.status == "unmerged"
    for customer_id in (VISITOR, CUSTOMER):
        assert view(merged, customer_id) == view(apart, customer_id), customer_id
    merged.close()
    apart.close()


def test_a_link_alone_merges_and_unmerge_gives_back_the_very_profiles(make: Make) -> None:
    engine = make()
    run(engine, [(0, 0, 5, 2), (0, 2, 6, 0), (1, 0, 7, 4), (1, 1, 8, 1)], link=False, decide=True)
    visitor, customer = view(engine, VISITOR), view(engine, CUSTOMER)
    assert engine.link_identity(CUSTOMER, [("anonymous_id", "a1")]) == []
    [merge] = engine.merges(VISITOR)
    assert merge.moved == {"events": 2, "decisions": 1, "outbox": 0, "identifiers": 1,
                           "interactions": len(visitor["history"])}  # fmt: skip
    engine.unmerge(merge.merge_id)
    assert view(engine, VISITOR) == visitor and view(engine, CUSTOMER) == customer
    engine.close()


def test_a_customer_with_no_profile_before_has_none_after(make: Make) -> None:
    engine = make()
    ingest(engine, parse([event(WHO[0], 0, 5, 1) | {"messageId": "v"}], ""))
    engine.link_identity("u9", [("anonymous_id", "a1")])
    assert engine.store.get_profile("u9") == {"age": 21, "first_name": "N1"}
    engine.unmerge(engine.merges("u9")[0].merge_id)
    assert engine.store.get_profile("u9") is None
    assert engine.store.get_profile(VISITOR) == {"age": 21, "first_name": "N1"}
    engine.close()


def test_visitor_events_after_the_merge_follow_it_and_go_back_on_unmerge(make: Make) -> None:
    engine = make()
    run(engine, [(0, 2, 5, 0)], link=True, decide=False)
    ingest(engine, parse([event(WHO[0], 2, 9, 2) | {"messageId": "later"}], ""))
    assert "later" in view(engine, CUSTOMER)["events"]  # the cookie is the customer's now
    assert engine.features_of(CUSTOMER)["card_views_1d"] == 2
    engine.unmerge(engine.merges(CUSTOMER)[0].merge_id)
    assert view(engine, VISITOR)["events"] == ["later", "m0"]
    assert engine.features_of(VISITOR)["card_views_1d"] == 2
    assert engine.features_of(CUSTOMER)["card_views_1d"] == 0
    engine.close()


def test_a_visit_and_the_login_in_one_batch_merge(make: Make) -> None:
    engine = make()
    batch = [event(WHO[0], 2, 5, 0) | {"messageId": "visit"},
             {"type": "identify", "userId": CUSTOMER, "anonymousId": "a1", "messageId": "in"}]  # fmt: skip
    ingest(engine, parse(batch, "batch"))
    assert view(engine, CUSTOMER)["events"] == ["in", "visit"]
    assert view(engine, CUSTOMER)["features"]["card_views_1d"] == 1
    assert engine.merges(CUSTOMER)[0].from_id == VISITOR
    engine.close()


def test_an_unmerged_pair_does_not_merge_again(make: Make) -> None:
    engine = make()
    run(engine, [(0, 2, 5, 0)], link=True, decide=False)
    merge_id = engine.merges(CUSTOMER)[0].merge_id
    engine.unmerge(merge_id)
    again = {"type": "identify", "userId": CUSTOMER, "anonymousId": "a1", "messageId": "again"}
    ingest(engine, parse([again], ""))
    assert engine.lookup("anonymous_id", "a1") == VISITOR
    assert engine.store.claimants("anonymous_id", "a1") == [CUSTOMER]
    assert len(engine.merges(CUSTOMER)) == 1
    with pytest.raises(ConflictError):
        engine.unmerge(merge_id)
    with pytest.raises(NotFoundError):
        engine.unmerge(merge_id + 7)
    engine.close()


def test_a_shared_cookie_leads_to_no_one(make: Make) -> None:
    engine = make()
    run(engine, [(0, 2, 5, 0)], link=True, decide=False)  # u1 owns the cookie now
    other = {"type": "identify", "userId": "u2", "anonymousId": "a1", "messageId": "u2"}
    ingest(engine, parse([other], ""))  # a second person on the same device
    ingest(engine, parse([event(WHO[0], 2, 9, 2) | {"messageId": "after"}], ""))
    assert "after" in view(engine, VISITOR)["events"]
    assert "after" not in view(engine, CUSTOMER)["events"] + view(engine, "u2")["events"]
    engine.close()


def test_merges_over_http() -> None:
    from nextbest.api import create_app
    from tests.api.test_app import serving

    engine = Engine(MemoryStore(), CONFIG, clock=FixedClock(T0))
    with serving(create_app(engine, auth=False)) as client:
        for message in ({"anonymousId": "a1", "name": "Cards"},
                        {"userId": "u1", "anonymousId": "a1", "traits": {"age": 30}}):  # fmt: skip
            kind = "page" if "name" in message else "identify"
            assert client.post(f"/v1/{kind}", json=message).status_code == 200
        listed = client.get("/v1/profiles/u1/merges")
        assert listed.status_code == 200, listed.text
        [merge] = listed.json()["merges"]
        assert merge["from_id"] == VISITOR and merge["status"] == "merged"
        assert merge["moved"]["events"] == 1
        done = client.post(f"/v1/merges/{merge['merge_id']}/unmerge")
        assert done.status_code == 200 and done.json()["status"] == "unmerged"
        again = client.post(f"/v1/merges/{merge['merge_id']}/unmerge")
        assert again.status_code == 409 and again.json()["errors"][0]["field"] == "merge_id"
        assert client.post("/v1/merges/99/unmerge").status_code == 404
    assert engine.lookup("anonymous_id", "a1") == VISITOR


def test_merges_and_unmerge_on_the_command_line(tmp_path: Path) -> None:
    from tests.cli.test_import_events import run, small_bank

    db, config = str(tmp_path / "c.db"), small_bank(tmp_path / "config")
    file = tmp_path / "events.jsonl"
    file.write_text(
        "\n".join(json.dumps(m) for m in (
            {"type": "page", "anonymousId": "a1", "name": "Cards", "messageId": "p"},
            {"type": "identify", "userId": "u1", "anonymousId": "a1", "messageId": "i"},
        )) + "\n"
    )  # fmt: skip
    assert run("import", "events", str(file), "--db", db, "--config", config)[0] == 0
    code, out, err = run("merges", "u1", "--db", db, "--config", config, "--json")
    assert code == 0, err
    [merge] = json.loads(out)["merges"]
    assert (merge["from_id"], merge["status"], merge["moved"]["events"]) == (VISITOR, "merged", 1)
    code, out, err = run(
        "unmerge", str(merge["merge_id"]), "--db", db, "--config", config, "--json"
    )
    assert code == 0 and json.loads(out)["status"] == "unmerged", err
    code, _, err = run("unmerge", str(merge["merge_id"]), "--db", db, "--config", config)
    assert code == 1 and "already undone" in err
    assert run("unmerge", "42", "--db", db, "--config", config)[0] == 1
