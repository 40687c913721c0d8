"""The server replica's Prometheus series: its own registry (the engine's series, HTTP, authentication, agent
calls) and two gauges read from the metadb when scraped; and the middleware that counts HTTP requests.

Counters count what this replica did, so `sum` across replicas counts each event once. The metadb gauges
(`obcp_tasks_running`, `obcp_restart_outage_seconds`, `obcp_notify_outbox_deliveries`) say the same on every
replica: take `max`, not `sum`.
Labels take few values: the route's template (never the raw path; `unmatched` for paths no route has), the
agent's address, the action's name, a refusal's reason; never a user's input or a secret.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from obcp.engine import EngineMetrics, running_task_counts
from obcp.meta.db import Database
from obcp.notify import deliveries
from obcp.operations.availability import last_outages

UNMATCHED = "unmatched"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
AGENT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        self.engine = EngineMetrics(r)
        self.http_requests = Counter(
            "obcp_http_requests", "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.http_seconds = Histogram(
            "obcp_http_request_duration_seconds", "Time to answer an HTTP request, by route and method.",
            ["route", "method"], buckets=HTTP_BUCKETS, registry=r,
        )  # fmt: skip
        self.auth_refusals = Counter(
            "obcp_auth_refusals", "Requests refused before any handler ran (401), by reason.", ["reason"],
            registry=r,
        )  # fmt: skip
        self.agent_calls = Counter(
            "obcp_agent_calls", "Calls to host agents, by agent address, action and outcome (ok, error, "
            "unreachable).", ["host", "action", "outcome"], registry=r,
        )  # fmt: skip
        self.agent_seconds = Histogram(
            "obcp_agent_call_duration_seconds", "Duration of calls to host agents, retries included.",
            ["host", "action"], buckets=AGENT_BUCKETS, registry=r,
        )  # fmt: skip
        self.tasks_running = Gauge(
            "obcp_tasks_running", "Tasks RUNNING in the metadb, by template name (same on every replica).",
            ["name"], registry=r,
        )  # fmt: skip
        self.notify_attempts = Counter(
            "obcp_notify_attempts", "Webhook delivery attempts this replica made, by outcome (ok, "
            "http_error, timeout, error).", ["outcome"], registry=r,
        )  # fmt: skip
        self.notify_seconds = Histogram(
            "obcp_notify_attempt_duration_seconds", "Duration of webhook delivery attempts.",
            buckets=HTTP_BUCKETS, registry=r,
        )  # fmt: skip
        self.notify_final = Counter(
            "obcp_notify_deliveries", "Deliveries this replica finished, by final status (SENT, FAILED).",
            ["status"], registry=r,
        )  # fmt: skip
        self.notify_outbox = Gauge(
            "obcp_notify_outbox_deliveries", "Deliveries in the metadb's outbox by status (PENDING, SENT, "
            "FAILED; the same on every replica).", ["status"], registry=r,
        )  # fmt: skip
        self.outage = Gauge(
            "obcp_restart_outage_seconds", "Longest interval with no observer answering SQL during the "
            "cluster's last monitored restart (the same on every replica).", ["cluster_id"], registry=r,
        )  # fmt: skip

    def auth_refused(self, reason: str) -> None:
        self.auth_refusals.labels(reason).inc()

    def agent_call(self, host: str, action: str, outcome: str, seconds: float) -> None:
        self.agent_calls.labels(host, action, outcome).inc()
        self.agent_seconds.labels(host, action).observe(seconds)

    def notify_attempt(self, outcome: str, seconds: float) -> None:
        self.notify_attempts.labels(outcome).inc()
        self.notify_seconds.observe(seconds)

    def notify_finished(self, status: str) -> None:
        self.notify_final.labels(status).inc()

    async def render(self, db: Database) -> bytes:
        """The text exposition, with the metadb gauges read now."""
        async with db.read() as conn:
            running = await running_task_counts(conn)
        outages = await last_outages(db)
        _replace(self.notify_outbox, await deliveries.counts(db))
        _replace(self.tasks_running, running)
        _replace(self.outage, {str(k): v for k, v in outages.items()})
        return generate_latest(self.registry)


def _replace(gauge: Gauge, values: dict[str, Any]) -> None:
    # A template with no running task any more shows no series rather than a stale one.
    gauge.clear()
    for label, value in values.items():
        gauge.labels(label).set(value)


Templates = list[tuple[re.Pattern[str], str]]


def templates(routes: Sequence[BaseRoute]) -> Templates:
    """Every route's path pattern and template, through the included routers."""
    return [(compile_path(r.path)[0], r.path) for r in iter_route_contexts(routes) if r.path]


def route_template(scope: Scope, known: Templates) -> str:
    """The template of the route that answered (FastAPI records it in the scope), or of the route the path
    would reach when a middleware answered before routing (a 401); `unmatched` when no route matches."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path or "/"
    for pattern, template in known:
        if pattern.match(scope["path"]):
            return template
    return UNMATCHED


class HttpMetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics_of: Callable[[], ServerMetrics | None],
        routes_of: Callable[[], Sequence[BaseRoute]],
    ) -> None:
        self.app = app
        self.metrics_of = metrics_of
        self.routes_of = routes_of
        self._templates: Templates | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics = self.metrics_of()
            if metrics is not None:
                if self._templates is None:  # the routes are all there once a request arrives
                    self._templates = templates(self.routes_of())
                route = route_template(scope, self._templates)
                method = scope["method"] if scope["method"] in _METHODS else "OTHER"
                metrics.http_requests.labels(route, method, str(status)).inc()
                metrics.http_seconds.labels(route, method).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
