"""What a server replica runs on, built once when the app starts: the metadb, the secret box, the
authenticator, the operation services, the task engine (its settled tasks written to the notification
outbox) and the notification sender. Handlers reach it through the typed
dependencies of `obcp.api.deps`, never through untyped attributes of `app.state`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from obcp.api.auth import Authenticator, read_metrics_token
from obcp.api.metrics import ServerMetrics
from obcp.audit import AuditPruner
from obcp.config import Settings
from obcp.engine import Engine
from obcp.iam.store import ensure_defaults
from obcp.meta.db import Database
from obcp.notify import outbox
from obcp.notify.sender import DeliverySender
from obcp.ob.connection import Connector
from obcp.operations.availability import AvailabilityMonitors
from obcp.operations.services import AgentFactory, OperationServices
from obcp.secretbox import SecretBox


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    secretbox: SecretBox
    authenticator: Authenticator
    operations: OperationServices
    engine: Engine
    metrics: ServerMetrics
    pruner: AuditPruner
    notifier: DeliverySender

    @classmethod
    async def start(
        cls, settings: Settings, connect: Connector, agent_factory: AgentFactory | None
    ) -> Runtime:
        db = Database(settings.resolved_db_url())
        box = SecretBox.from_file(settings.resolved_secret_key_file())
        metrics = ServerMetrics()
        token = read_metrics_token(settings.metrics_token_file)
        generated = await ensure_defaults(db, settings.admin_password)
        if generated:
            # Printed once, on the console only: it is never stored in clear or logged again.
            print(f"obcp: created user 'admin' with the generated password: {generated}", flush=True)
        operations = OperationServices(
            db,
            box,
            agent_timeout=settings.agent_timeout_seconds,
            availability=AvailabilityMonitors(db, connect=connect),
            connect=connect,
            agent_factory=agent_factory,
            agent_calls=metrics.agent_call,
            agent_tls=settings.agent_tls(),
        )
        engine = Engine(
            db,
            settings.resolved_server_id(),
            services=operations,
            metrics=metrics.engine,
            on_settled=outbox.task_settled,
        )
        notifier = DeliverySender(
            db,
            box,
            settings.resolved_server_id(),
            on_attempt=metrics.notify_attempt,
            on_final=metrics.notify_finished,
        )
        authenticator = Authenticator(
            db, box, settings.auth_cache_seconds, metrics_token=token, on_refusal=metrics.auth_refused
        )
        pruner = AuditPruner(db, settings.audit_retention_days, settings.audit_prune_interval_seconds)
        runtime = cls(settings, db, box, authenticator, operations, engine, metrics, pruner, notifier)
        await engine.start()
        pruner.start()
        await notifier.start()
        return runtime

    async def close(self) -> None:
        await self.notifier.stop()
        await self.pruner.stop()
        await self.engine.stop()
        await self.operations.close()
        await self.db.dispose()

    def attach(self, app: FastAPI) -> None:
        app.state.runtime = self

    @staticmethod
    def metrics_of(app: object) -> ServerMetrics | None:
        """The replica's metrics once started; None before (a request that arrives before the lifespan)."""
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        return runtime.metrics if isinstance(runtime, Runtime) else None

    @staticmethod
    def of(app: object) -> Runtime:
        """The runtime of a started app (`object`: tests hold the app as Starlette's untyped ASGI app)."""
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        if not isinstance(runtime, Runtime):
            # Only a request that arrives before the lifespan started (or after it ended) gets here.
            raise RuntimeError("the obcp server is not started (no runtime on the app)")
        return runtime
