"""`Engine.decide_many`: decisions made together, recorded together, as if one at a time."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from nextbest.decision.engine import Engine
from nextbest.errors import RequestError
from nextbest.store.base import InteractionRow, StoredDecision
from nextbest.store.memory import MemoryStore
from nextbest.testing import make_config, make_engine
from nextbest.types import Decision, DecisionRequest, Placement

ADULT = {"first_name": "Ada", "age": 40, "income": 50000, "in_arrears": False, "products": []}


def email(customer: str) -> DecisionRequest:
    return DecisionRequest(
        channel="email", placements=(Placement("body"),), customer_id=customer, assurance_level=1
    )


def web(customer: str | None) -> DecisionRequest:
    return DecisionRequest(
        channel="web",
        placements=(Placement("hero", 1), Placement("sidebar", 2)),
        customer_id=customer,
        assurance_level=1,
    )


REQUESTS = [
    email("c1"),
    web("c2"),
    email("c1"),  # again: the first e-mail counts against the limit of one a day
    DecisionRequest(channel="fax", placements=(Placement("hero"),), customer_id="c2"),
    web(None),
    web("c1"),
    email("c2"),
]


def prepared(engine: Engine) -> Engine:
    for customer in ("c1", "c2"):
        engine.upsert_profile(customer, dict(ADULT))
        engine.set_consent(customer, "marketing", "granted")
    return engine


def summary(result: Decision | Exception) -> object:
    if isinstance(result, Exception):
        return type(result), getattr(result, "field", None)
    return result.decision_id, [(a.action_id, a.propensity) for a in result.actions]


def one_at_a_time(engine: Engine, requests: Sequence[DecisionRequest]) -> list[object]:
    out: list[object] = []
    for request in requests:
        try:
            out.append(summary(engine.decide(request)))
        except RequestError as exc:
            out.append(summary(exc))
    return out


def test_decide_many_decides_and_records_as_one_at_a_time() -> None:
    alone = prepared(make_engine(seed=5))
    together = prepared(make_engine(seed=5))
    expected = one_at_a_time(alone, REQUESTS)
    got = [summary(r) for r in together.decide_many(REQUESTS)]
    assert got == expected
    assert expected[2] == (expected[2][0], [])  # type: ignore[index]  # the limit held
    assert got[3] == (RequestError, "channel")  # its neighbours were decided all the same
    for customer in ("c1", "c2"):
        assert together.store.decisions(customer_id=customer) == alone.store.decisions(
            customer_id=customer
        )
        assert together.store.customer_history(customer, 0.0) == alone.store.customer_history(
            customer, 0.0
        )


class Counting(MemoryStore):
    """Counts the write transactions and fails the ones it is told to."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []
        self.fail = False

    def record_decisions(
        self,
        decisions: Sequence[tuple[StoredDecision, Sequence[InteractionRow]]],
        *,
        seen: int | None = None,
    ) -> None:
        if self.fail:
            raise OSError("disk full")
        self.writes.append(len(decisions))
        super().record_decisions(decisions, seen=seen)


def test_one_transaction_unless_a_customer_comes_again() -> None:
    store = Counting()
    engine = prepared(Engine(store, make_config(), seed=1))
    engine.decide_many([web("c1"), web("c2"), web(None), email("c2")])
    assert store.writes == [3, 1]  # c2 again: what came before is committed first
    store.writes.clear()
    engine.decide_many([web("c1"), web("c2"), web(None)])
    assert store.writes == [3]


def test_a_failed_write_answers_each_of_its_requests_and_stores_nothing() -> None:
    store = Counting()
    engine = prepared(Engine(store, make_config(), seed=1))
    store.fail = True
    results = engine.decide_many([web("c1"), web("c2")])
    assert [type(r) for r in results] == [OSError, OSError]
    assert store.decisions(customer_id="c1") == store.decisions(customer_id="c2") == []
    with pytest.raises(OSError):
        engine.decide(web("c1"))
