"""A well-formed `POST /v1/decisions` answered beside FastAPI's routing (a plain ASGI layer).

FastAPI's route handling — matching, the dependency graph, reading and parsing the body,
validating the parsed object — costs about 80 µs a request, as much as a tenth of a whole
decision. This layer answers the common case itself: a JSON body (parsed as every body is,
see `jsonbody`) that pydantic validates, under a key whose role may decide. Every
other request, and every one that fails a check (no or a wrong key, a body that does not
validate, a gzip or non-JSON body), goes on to FastAPI with its body replayed, which answers
it exactly as if this layer were not there: one place decides what a client error says.

Errors the endpoint itself raises (an unknown channel, say) are answered by the app's own
exception handlers, looked up as Starlette's exception middleware does. The request's
`route` is set in the scope, so the metrics middleware outside labels it as FastAPI would.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nextbest.api.auth import AuthError
from nextbest.api.jsonbody import JSONDecodeError, loads

#: exceptions and their handlers, as `FastAPI.exception_handlers` holds them
Handlers = dict[Any, Callable[[Request, Exception], Any]]


class FastPost:
    """Answers `POST path` with `await endpoint(model)` when the body validates as `model` and
    `check(authorization header)` passes; hands everything else to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        model: type[BaseModel],
        check: Callable[[str | None], object],
        endpoint: Callable[[Any], Awaitable[Response]],
        route: BaseRoute,
        handlers: Handlers,
    ) -> None:
        self.app = app
        self.path = path
        self.model = model
        self.check = check
        self.endpoint = endpoint
        self.route = route
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        authorization: str | None = None
        json = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-type":
                json = value.split(b";", 1)[0].strip().lower() == b"application/json"
            elif name == b"content-encoding":
                json = False  # FastAPI reads it (and says what it makes of it)
                break
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if json:
            try:
                self.check(authorization)
                parsed = self.model.model_validate(loads(body))
            except (AuthError, JSONDecodeError, ValidationError):
                pass
            else:
                await self._answer(parsed, scope, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _answer(self, parsed: BaseModel, scope: Scope, send: Send) -> None:
        scope["route"] = self.route
        try:
            response = await self.endpoint(parsed)
        except Exception as exc:
            handler = next(
                (self.handlers[k] for k in type(exc).__mro__ if k in self.handlers), None
            )
            if handler is None:
                raise
            response = handler(Request(scope), exc)
            if inspect.isawaitable(response):
                response = await response

        async def nothing() -> Message:  # a Response does not read the request
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that gives the body already read first, then what the client sends."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
