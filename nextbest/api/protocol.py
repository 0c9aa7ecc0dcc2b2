"""uvicorn's httptools protocol, sending a response's headers and body in one write.

uvicorn writes the status line and headers as soon as the app starts its response, and the
body as a second write. With TCP_NODELAY (which `nextbest serve` needs, see serve.py) each
write is its own segment and its own wake-up of the client: two system calls, two packets
and two reads for every small JSON answer. aiohttp made the same change for the same
reason (aio-libs/aiohttp#10991). Here the header block is held back until the next write
— the body — and leaves with it; if no write follows within the same turn of the event
loop (a bodiless answer, a streamed one that is slow to start), it leaves alone then.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose header block waits for the write after it."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        chunk = bytes(data)
        if not self._held and chunk.startswith(b"HTTP/1.1 ") and chunk.endswith(b"\r\n\r\n"):
            self._held = chunk
            asyncio.get_running_loop().call_soon(self.flush)
            return
        if self._held:
            chunk, self._held = self._held + chunk, b""
        self._transport.write(chunk)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            self._transport.write(held)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # everything else (is_closing, pause_reading, get_extra_info, set_protocol, abort,
        # …) is the real transport's
        return getattr(self._transport, name)


class CoalescingProtocol(HttpToolsProtocol):
    """Also drains (see `nextbest.api.serve`): once told to, it answers each further
    request on the connection with `Connection: close` and then closes it."""

    draining = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, CoalescingTransport(transport)))

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.draining:
            self.cycle.keep_alive = False

    def drain(self) -> None:
        self.draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
