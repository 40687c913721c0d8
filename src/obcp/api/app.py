"""The FastAPI application: middlewares, error mapping, routers, and the server's Runtime in its lifespan."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from obcp import __version__, web
from obcp.api import errors, openapi
from obcp.api.audit import AuditMiddleware
from obcp.api.auth import AuthMiddleware
from obcp.api.metrics import HttpMetricsMiddleware
from obcp.api.middleware import BodyLimitMiddleware, TraceMiddleware
from obcp.api.routes import (
    access_keys,
    alarm_channels,
    audit_events,
    cluster_import,
    clusters,
    hosts,
    iam,
    metrics,
    operations,
    parameters,
    system,
    takeover_ocp,
    takeover_prereqs,
    task_events,
    tasks,
)
from obcp.api.routes import web as console
from obcp.api.runtime import Runtime
from obcp.api.security_headers import SecurityHeadersMiddleware
from obcp.api.transport import plain_http_warning
from obcp.config import Settings
from obcp.metrics_listener import MetricsListener
from obcp.ob.connection import Connector, open_connection
from obcp.operations.services import AgentFactory

log = logging.getLogger("obcp.server")

ROUTERS = [
    system.router,
    iam.router,
    hosts.router,
    # parameters before clusters: /clusters/parameterInfo is not a cluster id.
    parameters.router,
    clusters.router,
    cluster_import.router,
    takeover_ocp.router,
    takeover_prereqs.router,
    operations.router,
    tasks.router,
    access_keys.router,
    audit_events.router,
    metrics.router,
]
ROUTERS += [alarm_channels.router]
# The web console: its login, live task events, pages (static files are mounted in create_app).
ROUTERS += [console.router, task_events.router]


def _quiet_gc() -> None:
    """What the server built to start (modules, tables, compiled statements) stays for its life: frozen, the
    collector no longer walks it; and it runs ten times less often (at 700 allocations it took 7 % of a
    replica's CPU in a fleet-wide restart: bench/fleet). Reference cycles are still collected. Once per
    process: a process that starts apps again and again (the tests) freezes its startup once."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(7_000, 10, 10)


# aiosqlite runs each metadb connection in a thread of its own and hands every statement to it and back; a
# thread that is handed one waits for the GIL until the busy event loop is made to let go of it, after 5 ms
# by default. bench/fleet, 10 x 3 x 10 on SQLite: 41.7 -> 27.4 ms of CPU a subtask, and wall time 11.1 ->
# 7.3 x the critical path, at 0.2 ms.
SQLITE_SWITCH_INTERVAL = 0.0002


def _quick_thread_switches(dialect: str) -> None:
    """On SQLite, the GIL passes between the event loop and the metadb's threads every 0.2 ms."""
    if dialect == "sqlite" and sys.getswitchinterval() > SQLITE_SWITCH_INTERVAL:
        sys.setswitchinterval(SQLITE_SWITCH_INTERVAL)


def _lifespan(
    settings: Settings, connect: Connector, agent_factory: AgentFactory | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings, connect, agent_factory)
        runtime.attach(app)
        _quiet_gc()
        _quick_thread_switches(runtime.db.dialect)
        if warning := plain_http_warning(settings):
            log.warning("%s", warning)
        listener = None
        try:
            if settings.metrics_listen:
                listener = MetricsListener(
                    settings.metrics_listen,
                    settings.metrics_listen_public,
                    lambda: runtime.metrics.render(runtime.db),
                )
                await listener.start()
                log.info(
                    "metrics without authentication on http://%s:%d/metrics", listener.host, listener.port
                )
            yield
        finally:
            if listener is not None:
                await listener.stop()
            await runtime.close()

    return lifespan


def create_app(
    settings: Settings | None = None,
    *,
    connect: Connector = open_connection,
    agent_factory: AgentFactory | None = None,
) -> FastAPI:
    """The app; migrations are applied by the caller (`obcp server`, tests) before it starts.

    `connect` and `agent_factory` reach observers and agents; only the tests that run whole operations
    against the scripted 4.x stand-in (no multi-node OceanBase runs here) replace them.
    """
    settings = settings or Settings()

    lifespan = _lifespan(settings, connect, agent_factory)
    app = FastAPI(
        title="obcp",
        version=__version__,
        description="An open, OCP-compatible control plane for OceanBase.",
        lifespan=lifespan,
        openapi_url="/api/v2/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_api_route("/api/v2/docs", api_docs, include_in_schema=False)
    openapi.install(app)
    app.mount("/static", console.static_files(), name="static")
    app.add_middleware(AuthMiddleware, authenticator_of=lambda: Runtime.of(app).authenticator)
    # Outside the authentication: its refusals are audited too (docs/api.md, "The audit trail").
    app.add_middleware(AuditMiddleware, db_of=lambda: Runtime.of(app).db, routes_of=lambda: app.routes)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(TraceMiddleware)
    # Outside the others, so their own answers (401, 413, the 500 envelope's neighbours) carry the headers.
    app.add_middleware(SecurityHeadersMiddleware)
    # Outermost: it times and counts every answer, the 401s and 413s of the middlewares inside included.
    app.add_middleware(
        HttpMetricsMiddleware, metrics_of=lambda: Runtime.metrics_of(app), routes_of=lambda: app.routes
    )
    return app


async def api_docs() -> HTMLResponse:
    # A page of our own: Swagger UI would load its scripts from a CDN, which a control plane must not.
    return HTMLResponse(web.page("api-docs.html"))
