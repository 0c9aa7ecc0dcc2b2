"""Prometheus metrics of the HTTP service (prometheus-client), on a registry per app.

Requests by route template (never the raw path: ids would explode the label space),
method and status, their latency, and the domain counters: decisions, outcomes by kind,
client errors. `GET /metrics` serves them in the text exposition format.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nextbest_http_requests_total",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nextbest_http_request_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.decisions = Counter(
            "nextbest_decisions_total",
            "Decisions made, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            "nextbest_outcomes_total",
            "Outcomes recorded, by kind.",
            ["outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "nextbest_client_errors_total",
            "Problems answered, by status.",
            ["status"],
            registry=self.registry,
        )

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        self.latency.labels(template, request.method).observe(time.perf_counter() - start)
        self.requests.labels(template, request.method, str(response.status_code)).inc()
        if 400 <= response.status_code < 500:
            self.errors.labels(str(response.status_code)).inc()
        return response
