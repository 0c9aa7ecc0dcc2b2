"""Segment-compatible ingestion: `/v1/identify`, `/v1/track`, `/v1/page`, `/v1/screen`,
`/v1/group`, `/v1/alias`, `/v1/batch` — what Segment's and RudderStack's SDKs send.

The body is read by hand: it may be gzip-compressed (`Content-Encoding: gzip`), its size is
checked against Segment's limits before it is parsed, and the write key may come in the
body (`writeKey`) as well as in the `Authorization` header (Basic username or Bearer).
Success is Segment's `200 {"success": true}`.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from nextbest.api.auth import authorize
from nextbest.api.jsonbody import JSONDecodeError, loads
from nextbest.api.problems import problem
from nextbest.errors import NotFoundError, RequestError
from nextbest.events.segment import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, TYPES, ingest, parse

BATCH_LEVEL = ("context", "integrations")  # batch fields each message inherits


class TooLarge(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnsupportedEncoding(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


#: the most of a request body read, compressed or not: gzip cannot make a body much
#: smaller than this inflate to less than the limit (stored blocks add 5 bytes in 64 KB)
READ_LIMIT = MAX_BATCH_BYTES + 64 * 1024


async def _read(request: Request) -> bytes:
    """The body as sent, read as it streams in; past `READ_LIMIT` (or a Content-Length
    saying so) the request is too large at once, the rest never read."""
    too_large = TooLarge(f"a request may be at most {MAX_BATCH_BYTES // 1024} KB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > READ_LIMIT:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > READ_LIMIT:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _body(request: Request) -> Any:
    raw = await _read(request)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        raw = _gunzip(raw)
    elif encoding not in ("", "identity"):
        raise UnsupportedEncoding(f"`{encoding}`: send the body as is or gzip-compressed")
    if len(raw) > MAX_BATCH_BYTES:
        raise TooLarge(f"a request may be at most {MAX_BATCH_BYTES // 1024} KB")
    try:
        return loads(raw)
    except JSONDecodeError as exc:
        raise RequestError("body", f"is not valid JSON ({exc.msg})") from None


def _gunzip(raw: bytes) -> bytes:
    """One whole gzip member, inflated up to one byte past the limit (a longer body is too
    large whatever follows). A stream cut short, or with bytes after its end, is invalid."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(raw, MAX_BATCH_BYTES + 1)
    except zlib.error:
        raise RequestError("body", "is not valid gzip") from None
    if len(inflated) > MAX_BATCH_BYTES:
        return inflated
    if not inflater.eof or inflater.unused_data:
        raise RequestError("body", "is not valid gzip (cut short, or bytes after its end)")
    return inflated


_POSITION = re.compile(r"^batch\[(\d+)\]")


def accept(engine: Any, items: list[Any], prefix: str, source: str) -> None:
    """Ingest the messages — or, if one is rejected (a 422 or 404 follows, and nothing of
    the request is written), keep that message in the quarantine with the field and the
    reason before the error goes on: a bad record is never silently lost."""
    try:
        ingest(engine, parse(items, prefix), prefix)
    except (RequestError, NotFoundError) as exc:
        found = _POSITION.match(exc.field)
        position, record = (
            (found.group(0), items[int(found.group(1))]) if found else (None, items[0])
        )
        engine.quarantine(source, position, exc.field, exc.message, record)
        raise


def register(app: FastAPI, engine: Any, auth: bool) -> None:
    def check(request: Request, data: Any) -> None:
        if not auth:
            return
        header = request.headers.get("authorization")
        key = data.get("writeKey") if isinstance(data, dict) else None
        if not header and isinstance(key, str) and key:
            header = f"Bearer {key}"
        authorize(engine.store, header, "ingest")

    async def receive(request: Request, kind: str) -> dict[str, bool]:
        data = await _body(request)
        check(request, data)
        if not isinstance(data, dict):
            raise RequestError("body", "must be a JSON object")
        data = {k: v for k, v in data.items() if k != "writeKey"}
        if data.setdefault("type", kind) != kind:
            raise RequestError("type", f"must be `{kind}` on /v1/{kind}")
        await run_in_threadpool(accept, engine, [data], "", f"api:/v1/{kind}")
        return {"success": True}

    def endpoint(kind: str) -> Any:
        async def one(request: Request) -> dict[str, bool]:
            return await receive(request, kind)

        one.__doc__ = f"A Segment `{kind}` message."
        return one

    body = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
    for kind in TYPES:
        app.post(f"/v1/{kind}", tags=["events"], name=f"ingest_{kind}", openapi_extra=body)(
            endpoint(kind)
        )

    @app.post("/v1/batch", tags=["events"], openapi_extra=body)
    async def batch(request: Request) -> dict[str, bool]:
        """`{"batch": [messages, each with its "type"], "context"?, "writeKey"?}`."""
        data = await _body(request)
        check(request, data)
        items = data.get("batch") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise RequestError("batch", "must be a non-empty array of messages")
        if len(items) > MAX_BATCH_EVENTS:
            raise RequestError("batch", f"at most {MAX_BATCH_EVENTS} messages")
        merged = []
        for item in items:
            if isinstance(item, dict):
                for field in BATCH_LEVEL:
                    if field in data and field not in item:
                        item = {**item, field: data[field]}
            merged.append(item)
        await run_in_threadpool(accept, engine, merged, "batch", "api:/v1/batch")
        return {"success": True}

    @app.exception_handler(TooLarge)
    def _too_large(request: Request, exc: TooLarge) -> Any:
        return problem(413, "payload too large", [{"field": "body", "message": exc.message}])

    @app.exception_handler(UnsupportedEncoding)
    def _encoding(request: Request, exc: UnsupportedEncoding) -> Any:
        errors = [{"field": "Content-Encoding", "message": exc.message}]
        return problem(415, "unsupported content encoding", errors)
