"""Prometheus metrics of the HTTP service (prometheus-client), on a registry per app.

Requests by route template (never the raw path: ids would explode the label space),
method and status, their latency, and the domain counters: decisions, outcomes by kind,
client errors. `GET /metrics` serves them in the text exposition format.

Several workers behind one port (`nextbest serve --workers N`) share their metrics
through files (prometheus-client's multiprocess mode, `share_between_processes`): any
worker's `/metrics` answers with the sum over all, so a scrape neither sees one worker's
share nor counters that jump back and forth between workers.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: prometheus-client's setting for the folder of the shared metric files
FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def share_between_processes(folder: str) -> None:
    """Metrics made from now on, in this process and in the processes forked from it,
    keep their values in files in `folder` (empty, and removed when they all end).

    prometheus-client picks the mode from the environment when it is first imported;
    it has been imported by now, so the value class is switched too."""
    os.environ[FOLDER_VARIABLE] = folder
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.shared = os.environ.get(FOLDER_VARIABLE)
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

    def exposition(self) -> bytes:
        """The text format: this process's metrics, or every sharing process's summed."""
        if not self.shared:
            return bytes(generate_latest(self.registry))
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.shared)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """A plain ASGI middleware (Starlette's BaseHTTPMiddleware would halve the request
        rate of a trivial endpoint): times each HTTP request and counts its status."""

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            status = 500  # what the client gets if the app raises before answering

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                route = scope.get("route")
                template = getattr(route, "path_format", "unmatched")
                method = scope.get("method", "")
                self.latency.labels(template, method).observe(time.perf_counter() - start)
                self.requests.labels(template, method, str(status)).inc()
                if 400 <= status < 500:
                    self.errors.labels(str(status)).inc()

        return middleware
