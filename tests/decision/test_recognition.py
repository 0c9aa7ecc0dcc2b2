"""A decision request with only anonymous identifiers is decided for the profile they
point at: the visitor's own anonymous profile, or the customer the cookie was linked to —
never through an identifier several people share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.errors import RequestError
from nextbest.events.segment import ingest, parse
from nextbest.store import MemoryStore, open_store
from nextbest.testing import T0
from nextbest.types import DecisionRequest, Placement
from tests.profile.test_merge import CONFIG


@pytest.fixture(params=["memory", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    store = MemoryStore() if request.param == "memory" else open_store(str(tmp_path / "r.db"))
    engine = Engine(store, CONFIG, clock=FixedClock(T0), seed=5)
    yield engine
    engine.close()


def ask(engine: Engine, **ids: str) -> DecisionRequest:
    return DecisionRequest(channel="web", placements=(Placement("hero"),), anonymous_ids=ids)


def send(engine: Engine, *messages: dict[str, object]) -> None:
    ingest(engine, parse(list(messages), "batch"), "batch")


def test_a_visitor_is_decided_on_its_own_profile_and_then_as_the_customer(engine: Engine) -> None:
    send(engine, {"type": "page", "anonymousId": "a1", "name": "Cards", "timestamp": T0.isoformat()},
         {"type": "identify", "anonymousId": "a1", "traits": {"age": 25}})  # fmt: skip
    seen = engine.decide(ask(engine, anonymous_id="a1"))
    assert seen.customer_id == "anonymous:a1"
    assert seen.features["card_views_1d"] == 1 and seen.features["age"] == 25
    stored = engine.get_decision(seen.decision_id).document["request"]
    assert stored["recognized_by"] == "anonymous_id"
    send(engine, {"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"age": 31}})
    known = engine.decide(ask(engine, anonymous_id="a1"))
    assert known.customer_id == "u1" and known.features["age"] == 31
    # the visitor's decision moved with the merge
    assert len(engine.store.decisions(customer_id="u1")) == 2


def test_an_unknown_cookie_decides_for_the_visitor_to_be(engine: Engine) -> None:
    first = engine.decide(ask(engine, anonymous_id="new"))
    assert first.customer_id == "anonymous:new"
    assert engine.decide(ask(engine)).customer_id is None  # nothing to go by


def test_a_shared_cookie_recognizes_no_one(engine: Engine) -> None:
    send(engine, {"type": "page", "anonymousId": "t1", "name": "Home"},
         {"type": "identify", "userId": "u1", "anonymousId": "t1"},
         {"type": "identify", "userId": "u2", "anonymousId": "t1"})  # fmt: skip
    assert engine.decide(ask(engine, anonymous_id="t1")).customer_id == "anonymous:t1"


def test_other_identifiers_and_bad_values(engine: Engine) -> None:
    engine.link_identity("u2", [("device_id", "dev-7"), ("email", "Bo@Example.org")])
    both = engine.decide(ask(engine, anonymous_id="unknown", device_id="dev-7"))
    assert both.customer_id == "u2"  # the cookie is unknown; the device is u2's
    assert engine.decide(ask(engine, email="BO@example.org")).customer_id == "u2"
    for ids, field in (({"email": "not-an-address"}, "anonymous_ids.email"),
                       ({"user_id": "u2"}, "anonymous_ids.user_id")):  # fmt: skip
        with pytest.raises(RequestError) as caught:
            engine.decide(ask(engine, **ids))
        assert caught.value.field == field


def test_recognition_over_http() -> None:
    from nextbest.api import create_app
    from tests.api.test_app import serving

    engine = Engine(MemoryStore(), CONFIG, clock=FixedClock(T0))
    with serving(create_app(engine, auth=False)) as client:
        body = {"channel": "web", "placements": [{"name": "hero"}],
                "anonymous_ids": {"anonymous_id": "c-9"}}  # fmt: skip
        answer = client.post("/v1/decisions", json=body)
        assert answer.status_code == 200 and answer.json()["customer_id"] == "anonymous:c-9"
        bad = client.post("/v1/decisions", json={**body, "anonymous_ids": {"phone": "12"}})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "anonymous_ids.phone"
