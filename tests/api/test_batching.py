"""Group commit: decisions asked for in one turn of the event loop share one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from nextbest.api.batching import DecisionBatcher
from nextbest.decision.engine import Engine
from nextbest.errors import RequestError
from nextbest.store.base import InteractionRow, StoredDecision
from nextbest.store.memory import MemoryStore
from nextbest.testing import make_config
from nextbest.types import Decision, DecisionRequest, Placement


class Counting(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[list[str]] = []

    def record_decisions(
        self,
        decisions: Sequence[tuple[StoredDecision, Sequence[InteractionRow]]],
        *,
        seen: int | None = None,
    ) -> None:
        super().record_decisions(decisions, seen=seen)
        self.writes.append([d.decision_id for d, _ in decisions])


def web(customer: str, channel: str = "web") -> DecisionRequest:
    return DecisionRequest(
        channel=channel, placements=(Placement("hero"),), customer_id=customer, assurance_level=1
    )


def test_requests_of_one_turn_are_committed_together_and_answered_each() -> None:
    store = Counting()
    batcher = DecisionBatcher(Engine(store, make_config(), seed=1))

    async def run() -> list[Decision | BaseException]:
        together = await asyncio.gather(
            *(batcher.decide(web(f"c{i}")) for i in range(5)),
            batcher.decide(web("c9", channel="fax")),
            return_exceptions=True,
        )
        alone = await batcher.decide(web("c1"))  # a lone request is not kept waiting
        return [*together, alone]

    results = asyncio.run(run())
    decided = [r for r in results if isinstance(r, Decision)]
    assert isinstance(results[5], RequestError) and results[5].field == "channel"
    assert store.writes == [[d.decision_id for d in decided[:5]], [decided[5].decision_id]]
    # every answer is a stored decision
    assert all(store.get_decision(d.decision_id) is not None for d in decided)


def test_a_failing_engine_fails_every_waiting_request() -> None:
    class Broken(Engine):
        def decide_many(self, requests: Sequence[DecisionRequest]) -> list[Decision | Exception]:
            raise MemoryError

    batcher = DecisionBatcher(Broken(MemoryStore(), make_config(), seed=1))

    async def run() -> list[Decision | BaseException]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: None)  # the callback's own raise
        return await asyncio.gather(
            batcher.decide(web("c1")), batcher.decide(web("c2")), return_exceptions=True
        )

    assert [type(r) for r in asyncio.run(run())] == [MemoryError, MemoryError]
    with pytest.raises(MemoryError):
        asyncio.run(batcher.decide(web("c1")))
