"""The FastAPI application: middlewares, error mapping, routers, and the metadb and engine in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from obcp import __version__, web
from obcp.api import errors
from obcp.api.auth import Authenticator, AuthMiddleware
from obcp.api.middleware import BodyLimitMiddleware, TraceMiddleware
from obcp.api.routes import clusters, hosts, iam, operations, system, task_events, tasks
from obcp.api.routes import web as console
from obcp.config import Settings
from obcp.engine import Engine
from obcp.iam.store import ensure_defaults
from obcp.meta.db import Database
from obcp.ob.connection import Connector, open_connection
from obcp.operations.availability import AvailabilityMonitors
from obcp.operations.services import AgentFactory, OperationServices
from obcp.secretbox import SecretBox

log = logging.getLogger("obcp.server")

ROUTERS = [system.router, iam.router, hosts.router, clusters.router, operations.router, tasks.router]
# The web console: its login, live task events, pages (static files are mounted in create_app).
ROUTERS += [console.router, task_events.router]


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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_db_url())
        box = SecretBox.from_file(settings.resolved_secret_key_file())
        app.state.settings = settings
        app.state.db = db
        app.state.secretbox = box
        app.state.authenticator = Authenticator(db, box, settings.auth_cache_seconds)
        generated = await ensure_defaults(db, settings.admin_password)
        if generated:
            # Printed once, on the console only: it is never stored in clear or logged again.
            print(f"obcp: created user 'admin' with the generated password: {generated}", flush=True)
        ops_services = OperationServices(
            db,
            box,
            availability=AvailabilityMonitors(db, connect=connect),
            connect=connect,
            agent_factory=agent_factory,
        )
        app.state.operations = ops_services
        app.state.engine = Engine(db, settings.resolved_server_id(), services=ops_services)
        await app.state.engine.start()
        try:
            yield
        finally:
            await app.state.engine.stop()
            await ops_services.close()
            await db.dispose()

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

    @app.get("/api/v2/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # A page of our own: Swagger UI would load its scripts from a CDN, which a control plane must not.
        return HTMLResponse(web.page("api-docs.html"))

    app.mount("/static", console.static_files(), name="static")

    app.add_middleware(AuthMiddleware, authenticator_of=lambda: app.state.authenticator)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(TraceMiddleware)
    return app
