"""The profile schema registry: which sources may write a trait, which one wins (source
priority, then recency), and how long a value is kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.errors import ConfigError, RequestError
from nextbest.events.segment import ingest, parse
from nextbest.profile.traits import TraitError
from nextbest.store import MemoryStore, open_store
from nextbest.store.base import apply_traits
from nextbest.testing import T0, make_config

SOURCES = ["crm", "agent", "web"]
RANKS = {name: i for i, name in enumerate(SOURCES)}

write = st.tuples(
    st.sampled_from([*SOURCES, "events", "api"]),  # the last two rank last, as equals
    st.integers(0, 5),  # when the value was true
    st.sampled_from(["age", "city"]),
    st.none() | st.integers(0, 3),  # None removes the trait
)


@given(st.lists(write, max_size=12))
def test_the_highest_source_then_the_latest_value_wins(writes: list[Any]) -> None:
    traits: dict[str, Any] = {}
    sources: dict[str, list[Any]] = {}
    for source, ts, key, value in writes:
        apply_traits(traits, sources, {key: value}, source, float(ts), RANKS)
    # the reference: per trait, the write of best rank, then latest time, then arrival
    for key in ("age", "city"):
        mine = [(i, w) for i, w in enumerate(writes) if w[2] == key]
        if not mine:
            assert key not in traits and key not in sources
            continue
        _, best = max(mine, key=lambda iw: (-RANKS.get(iw[1][0], 3), iw[1][1], iw[0]))
        assert traits.get(key) == best[3]
        assert sources[key] == [best[0], float(best[1])]


@given(st.permutations([("crm", 1, 10), ("agent", 5, 20), ("web", 9, 30), ("crm", 3, 40)]))
def test_the_outcome_does_not_depend_on_arrival_order(order: list[Any]) -> None:
    traits: dict[str, Any] = {}
    sources: dict[str, list[Any]] = {}
    for source, ts, value in order:
        apply_traits(traits, sources, {"age": value}, source, float(ts), RANKS)
    assert traits == {"age": 40} and sources == {"age": ["crm", 3.0]}


SCHEMA = """\
sources: [crm, agent]
profile:
  age: number
  income: {type: number, sources: [crm, import]}
  last_city: {type: text, retention: 1d}
  first_name: {type: text, pii: true}
  in_arrears: bool
  products: list<text>
context:
  page: text
"""
CONFIG = make_config({"schema.yaml": SCHEMA})


@pytest.fixture(params=["memory", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    store = MemoryStore() if request.param == "memory" else open_store(str(tmp_path / "t.db"))
    engine = Engine(store, CONFIG, clock=FixedClock(T0))
    yield engine
    engine.close()


def identify(engine: Engine, n: int, minutes: int, **traits: Any) -> None:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    message = {"type": "identify", "userId": "c1", "messageId": f"i{n}", "timestamp": at,
               "traits": traits}  # fmt: skip
    ingest(engine, parse([message], ""))


def test_precedence_through_events_and_the_api(engine: Engine) -> None:
    identify(engine, 1, 10, age=41, first_name="Ada")
    identify(engine, 2, 5, age=39)  # arrives later, but was true earlier: loses
    assert engine.store.get_profile("c1") == {"age": 41, "first_name": "Ada"}
    engine.upsert_profile("c1", {"age": 40}, source="crm")  # crm outranks events
    identify(engine, 3, 60, age=42, first_name="Ada L.")
    assert engine.store.get_profile("c1") == {"age": 40, "first_name": "Ada L."}
    sources = engine.store.trait_sources("c1")
    assert sources["age"] == ["crm", T0.timestamp()]
    assert sources["first_name"] == ["events", (T0 + timedelta(minutes=60)).timestamp()]
    engine.upsert_profile("c1", {"age": None}, source="crm")  # crm may remove it, too
    identify(engine, 4, 61, age=43)
    assert "age" not in (engine.store.get_profile("c1") or {})


def test_a_trait_only_some_sources_may_write(engine: Engine) -> None:
    with pytest.raises(RequestError) as caught:
        identify(engine, 1, 0, income=50_000)
    assert caught.value.field == "traits.income" and "crm, import" in caught.value.message
    with pytest.raises(TraitError):
        engine.upsert_profile("c1", {"income": 50_000})  # the API (`api`) may not either
    engine.upsert_profile("c1", {"income": 50_000}, source="crm")
    assert engine.store.get_profile("c1") == {"income": 50_000}
    with pytest.raises(RequestError) as unknown:
        engine.upsert_profile("c1", {"age": 3}, source="crn")
    assert unknown.value.field == "source"


def test_a_field_retention_removes_old_values(engine: Engine) -> None:
    identify(engine, 1, 0, last_city="Lisbon", age=30)
    engine.clock = FixedClock(T0 + timedelta(hours=30))
    identify(engine, 2, 29 * 60, last_city="Porto")  # this one is 1 h old at purge time
    engine.upsert_profile("c2", {"last_city": "Faro"}, source="crm")  # written now
    assert engine.purge()["traits"] == 0
    engine.clock = FixedClock(T0 + timedelta(hours=54))
    assert engine.purge()["traits"] == 1  # Porto was true 25 h ago; Faro, written 24 h ago, stays
    engine.clock = FixedClock(T0 + timedelta(hours=55))
    assert engine.purge()["traits"] == 1
    assert engine.store.get_profile("c1") == {"age": 30}
    assert "last_city" not in engine.store.trait_sources("c1")


def test_sources_are_checked_when_the_configuration_loads() -> None:
    bad = SCHEMA.replace("[crm, import]", "[crm, imprt]").replace("[crm, agent]", "[crm, crm]")
    with pytest.raises(ConfigError) as caught:
        make_config(
            {
                "schema.yaml": bad.replace(
                    "  age: number\n", "  age: number\n  short: {type: text, retention: 0s}\n"
                )
            }
        )
    text = str(caught.value)
    assert "unknown source `imprt`" in text and "did you mean `import`" in text
    assert "source `crm` is listed twice" in text
    assert "retention must be positive" in text
    assert "schema.yaml line 5: field `income`" in text  # located


def test_the_profile_route_shows_trait_sources_and_takes_a_source() -> None:
    from nextbest.api import create_app
    from tests.api.test_app import serving

    engine = Engine(MemoryStore(), CONFIG, clock=FixedClock(T0))
    with serving(create_app(engine, auth=False)) as client:
        done = client.patch("/v1/profiles/c1", json={"traits": {"age": 30}, "source": "agent"})
        assert done.status_code == 200, done.text
        assert done.json()["trait_sources"] == {"age": {"source": "agent", "at": T0.isoformat()}}
        lower = client.patch("/v1/profiles/c1", json={"traits": {"age": 31}})  # `api`
        assert lower.json()["traits"]["age"] == 30  # the agent's value holds
        for body, field in (
            ({"traits": {"age": 1}, "source": "nope"}, "source"),
            ({"traits": {"income": 1}}, "traits.income"),
        ):
            answer = client.patch("/v1/profiles/c1", json=body)
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["field"] == field
