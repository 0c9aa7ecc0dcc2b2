"""Ids that hold a `/` in path routes: `/v1/profiles/tenant%2F42`.

ASGI servers percent-decode the path before routing, so `%2F` arrives as a `/` and the
route for `/v1/profiles/{customer_id}` never sees the customer `tenant/42` (base64 ids
and tenant-prefixed user ids have slashes). For the routes that take a customer id,
`RawSegments` routes on the path as the client sent it (`raw_path`, still encoded), and
the `id` convertor decodes each segment — so a segment is decoded exactly once, whatever
it holds (`%2F`, `%25`, non-ASCII)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from starlette.convertors import Convertor, register_url_convertor

#: the route prefixes whose parameters are `{…:id}`
PREFIXES = ("/v1/profiles/", "/v1/subjects/")
#: what may stand unencoded in a path (RFC 3986 pchar), kept as sent; `%` keeps escapes
_KEEP = "/%:@!$&'()*+,;="


class _Id(Convertor[str]):
    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


register_url_convertor("id", _Id())


class RawSegments:
    """ASGI middleware: under `PREFIXES`, route on the path as sent (see the module)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw and scope["path"].startswith(PREFIXES):
            scope["path"] = quote(raw, safe=_KEEP)  # in place: the metrics read its route
        await self.app(scope, receive, send)
