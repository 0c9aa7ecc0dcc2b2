"""A response's header block leaves together with its body, in one write."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from nextbest.api.protocol import CoalescingTransport

HEADERS = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _pair() -> tuple[_Recorder, CoalescingTransport]:
    real = _Recorder()
    return real, CoalescingTransport(cast(Any, real))


def test_headers_wait_for_the_body_and_leave_with_it() -> None:
    async def run() -> list[bytes]:
        real, transport = _pair()
        transport.write(HEADERS)
        assert real.writes == []
        transport.write(b"{}")
        await asyncio.sleep(0)
        return real.writes

    assert asyncio.run(run()) == [HEADERS + b"{}"]


def test_headers_without_a_body_leave_within_the_same_turn_of_the_loop() -> None:
    async def run() -> list[bytes]:
        real, transport = _pair()
        transport.write(HEADERS)
        await asyncio.sleep(0)
        return real.writes

    assert asyncio.run(run()) == [HEADERS]


def test_closing_sends_what_is_held_first_and_other_writes_pass_through() -> None:
    async def run() -> _Recorder:
        real, transport = _pair()
        transport.write(b"0\r\n\r\n")  # a chunk, not a header block
        transport.write(HEADERS)
        transport.close()
        assert transport.is_closing()  # the real transport's answer
        return real

    real = asyncio.run(run())
    assert real.writes == [b"0\r\n\r\n", HEADERS] and real.closed
