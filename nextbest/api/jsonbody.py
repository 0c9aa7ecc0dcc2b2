"""Every JSON request body is parsed by one parser, orjson, on every route.

The standard library's parser, which FastAPI and Starlette use, accepts what the store
cannot keep and the engine cannot use: lone UTF-16 surrogates (`"\\ud800"`: a record that
then cannot be written as UTF-8 or read back), `NaN` and `Infinity`, integers of any length
(past 4,300 digits `int()` raises), and nesting deep enough to exhaust the stack. orjson
rejects each as invalid JSON, which the API answers with a 422 naming the body; integers
beyond 64 bits become floats, as in JavaScript.

FastAPI's routes read the body through `request.json()`: `JSONRoute` gives them a request
whose `json()` is orjson's. orjson's error is a `json.JSONDecodeError`, which FastAPI
turns into its `json_invalid` validation error. The other readers (the fast decision path,
ingestion) call `loads`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

#: what `loads` raises: a subclass of `json.JSONDecodeError`
JSONDecodeError = orjson.JSONDecodeError


def loads(raw: bytes) -> Any:
    return orjson.loads(raw)


class JSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class JSONRoute(APIRoute):
    """A route whose handler reads JSON bodies with `loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_orjson(request: Request) -> Response:
            return await handler(JSONRequest(request.scope, request.receive))

        return with_orjson
