"""The fast path answers only a well-formed, authorized POST; everything else reaches the
app behind it with the body intact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nextbest.api.auth import AuthError
from nextbest.api.fastpath import FastPost


class Body(BaseModel):
    name: str


class Behind:
    """The app behind the fast path: answers 299 with the body it was given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await PlainTextResponse(body, status_code=299)(scope, receive, send)


def check(header: str | None) -> None:
    if header != "Bearer good":
        raise AuthError(401, "no")


async def endpoint(body: Body) -> Response:
    if body.name == "lookup":
        raise KeyError(body.name)
    if body.name == "boom":
        raise RuntimeError(body.name)
    return PlainTextResponse(f"fast:{body.name}")


def call(
    app: ASGIApp, method: str, path: str, headers: dict[str, str], *chunks: bytes
) -> tuple[int, bytes]:
    """One request through `app`, its body in `chunks`: the status and the body answered."""
    scope = {
        "type": "http", "method": method, "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


class Client:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return call(self.app, "POST", path, headers, body)


def client() -> tuple[Client, Behind]:
    behind = Behind()
    route = Route("/x", endpoint=lambda request: Response())
    app = FastPost(
        behind,
        path="/x",
        model=Body,
        check=check,
        endpoint=endpoint,
        route=route,
        handlers={LookupError: lambda request, exc: PlainTextResponse("handled", 418)},
    )
    return Client(app), behind


GOOD = {"authorization": "Bearer good", "content-type": "application/json"}


def test_a_well_formed_authorized_post_is_answered_by_the_endpoint() -> None:
    c, behind = client()
    assert c.post("/x", b'{"name": "ada"}', GOOD) == (200, b"fast:ada")
    json = {**GOOD, "content-type": "Application/JSON; charset=utf-8"}
    assert c.post("/x", b'{"name": "ada"}', json) == (200, b"fast:ada")
    assert behind.bodies == []


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("POST", "/x", GOOD, b'{"name": 1}'),  # does not validate
        ("POST", "/x", GOOD, b'{"name": "ada"'),  # not JSON
        ("POST", "/x", {**GOOD, "authorization": "Bearer bad"}, b'{"name": "ada"}'),
        ("POST", "/x", {"content-type": "application/json"}, b'{"name": "ada"}'),
        ("POST", "/x", {**GOOD, "content-type": "text/plain"}, b'{"name": "ada"}'),
        ("POST", "/x", {**GOOD, "content-encoding": "gzip"}, b'{"name": "ada"}'),
        ("PUT", "/x", GOOD, b'{"name": "ada"}'),
        ("POST", "/y", GOOD, b'{"name": "ada"}'),
    ],
)
def test_everything_else_reaches_the_app_behind_with_its_body(
    method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    c, behind = client()
    assert call(c.app, method, path, headers, body) == (299, body)
    assert behind.bodies == [body]


def test_a_body_in_chunks_is_read_whole() -> None:
    c, _ = client()
    assert call(c.app, "POST", "/x", GOOD, b'{"na', b'me": "ad', b'a"}') == (200, b"fast:ada")
    # and so is one that goes on
    assert call(c.app, "POST", "/x", GOOD, b'{"na', b'me": 1}') == (299, b'{"name": 1}')


def test_endpoint_errors_go_to_the_apps_handlers_by_class() -> None:
    c, _ = client()
    assert c.post("/x", b'{"name": "lookup"}', GOOD) == (418, b"handled")  # a KeyError
    with pytest.raises(RuntimeError):  # no handler: the server's 500 middleware's business
        c.post("/x", b'{"name": "boom"}', GOOD)


def test_the_route_is_set_for_the_metrics_outside() -> None:
    seen: list[Any] = []
    app = FastPost(
        Behind(), path="/x", model=Body, check=check, endpoint=endpoint,
        route=Route("/x", endpoint=lambda request: Response()), handlers={},
    )  # fmt: skip

    async def outside(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        seen.append(scope.get("route"))

    assert call(outside, "POST", "/x", GOOD, b'{"name": "ada"}') == (200, b"fast:ada")
    assert [getattr(r, "path", None) for r in seen] == ["/x"]
