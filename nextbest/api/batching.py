"""Group commit for decisions: the requests that reach a worker together are decided
together and recorded in one transaction (`Engine.decide_many`).

A decision is a millisecond of CPU on the event loop, and its commit — the write lock, the
WAL frames of the pages it touched, the lock's release — is a sizeable share of it. Under
load several requests arrive in one turn of the event loop; the first to ask schedules the
batch for the next turn, every other one that asks before then joins it. A lone request
waits one turn (microseconds). Each answer still leaves only after its decision is
committed. One worker's batch is one transaction, so the other workers also find their
page caches emptied once per batch instead of once per decision.
"""

from __future__ import annotations

import asyncio

from nextbest.decision.engine import Engine
from nextbest.types import Decision, DecisionRequest


class DecisionBatcher:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: list[tuple[DecisionRequest, asyncio.Future[Decision]]] = []

    async def decide(self, request: DecisionRequest) -> Decision:
        """The committed decision for `request`; raises what deciding it raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        self._pending.append((request, future))
        if len(self._pending) == 1:
            loop.call_soon(self._run)
        return await future

    def _run(self) -> None:
        pending, self._pending = self._pending, []
        try:
            results = self.engine.decide_many([request for request, _ in pending])
        except BaseException as exc:  # no request may wait forever
            for _, future in pending:
                if not future.done():
                    future.set_exception(exc)
            raise
        for (_, future), result in zip(pending, results, strict=True):
            if future.done():  # the client went away; its decision stands
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
