"""What operation subtasks use: the metadb, the cluster's root password, agent clients and SQL access.

The server gives one to its engine (`Engine(services=...)`); subtasks reach it with
`OperationServices.of(ctx)`, never through globals.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from obcp.agent.client import AgentClient, CallObserver
from obcp.engine import RunContext
from obcp.errors import ErrorCode, ObcpError
from obcp.meta import inventory
from obcp.meta.db import Database
from obcp.meta.inventory import ServerRef
from obcp.ob.cluster_ops import ClusterOps
from obcp.ob.connection import Connector, ObEndpoint, ObTimeouts, open_connection
from obcp.ob.errors import ObConnectError, ObLoginError, ObTimeoutError
from obcp.ob.executor import SqlExecutor
from obcp.ob.waiting import LogFn, no_log
from obcp.operations.availability import AvailabilityMonitors
from obcp.secretbox import SecretBox

SQL_TIMEOUTS = ObTimeouts(connect=3.0, read=60.0)


class ObserverAgent(Protocol):
    """What the steps ask of a host's agent: `AgentClient` over HTTP; the 4.x stand-in's in tests."""

    async def status(self, observer: str, *, ports: bool = True) -> dict[str, Any]: ...

    async def start(self, observer: str) -> dict[str, Any]: ...

    async def stop(self, observer: str) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


# (server, its decrypted agent key) -> the agent that runs that server's observer.
AgentFactory = Callable[[ServerRef, str], ObserverAgent]


@dataclass
class OperationServices:
    db: Database
    box: SecretBox
    agent_timeout: float = 10.0
    availability: AvailabilityMonitors | None = None
    # Sessions to observers and agents of hosts: MySQL and HTTP in the server; a test that runs whole
    # DAGs against the scripted 4.x stand-in (no multi-node OceanBase runs here) passes its own.
    connect: Connector = open_connection
    agent_factory: AgentFactory | None = None
    # Told of every agent call (the server's metrics).
    agent_calls: CallObserver | None = None
    # HTTPS to the agents (Settings.agent_tls); None: plain HTTP, each call still HMAC-signed.
    agent_tls: ssl.SSLContext | None = None
    # Agent clients keep a connection pool per host; one per (address, port) for the server's life.
    _agents: dict[tuple[str, int], ObserverAgent] = field(default_factory=dict)

    @classmethod
    def of(cls, ctx: RunContext) -> OperationServices:
        """The services of the engine running this step."""
        if not isinstance(ctx.services, cls):
            raise TypeError(
                f"an operation step needs the engine's services to be {cls.__name__}, "
                f"not {type(ctx.services).__name__} (Engine(..., services=OperationServices(...)))"
            )
        return ctx.services

    async def servers(self, cluster_id: int) -> list[ServerRef]:
        async with self.db.read() as conn:
            return await inventory.server_refs(conn, cluster_id)

    async def server(self, cluster_id: int, server_id: int) -> ServerRef:
        # One row, not the cluster's: every per-server step asks (bench/fleet: 30 servers a cluster made
        # this lookup quadratic, 7 % of the server's CPU).
        async with self.db.read() as conn:
            refs = await inventory.server_refs(conn, cluster_id, server_id)
        if not refs:
            raise ObcpError(ErrorCode.SERVER_NOT_FOUND, server_id)
        return refs[0]

    async def root_password(self, cluster_id: int) -> str:
        async with self.db.read() as conn:
            row = await inventory.get_cluster(conn, cluster_id)
        return self.box.decrypt(row.root_password_enc)

    def agent(self, ref: ServerRef) -> ObserverAgent:
        key = (ref.address, ref.agent_port)
        client = self._agents.get(key)
        if client is None:
            secret = self.box.decrypt(ref.agent_key_enc)
            if self.agent_factory is not None:
                client = self.agent_factory(ref, secret)
            else:
                client = AgentClient(
                    ref.address,
                    ref.agent_port,
                    secret,
                    timeout=self.agent_timeout,
                    tls=self.agent_tls,
                    observe=self.agent_calls,
                )
            self._agents[key] = client
        return client

    def session(
        self, ref: ServerRef, password: str, timeouts: ObTimeouts
    ) -> AbstractAsyncContextManager[SqlExecutor]:
        """A root@sys session on this one observer."""
        return self.connect(ObEndpoint(ref.address, ref.sql_port, password), timeouts)

    async def watch_availability(self, task_id: int, cluster_id: int) -> None:
        """Makes sure the task's availability monitor runs in this server (started or resumed)."""
        # Asked by every per-server step: only a monitor not yet running here needs the cluster read.
        if self.availability is not None and not self.availability.watching(task_id):
            refs = await self.servers(cluster_id)
            await self.availability.ensure(task_id, cluster_id, refs, await self.root_password(cluster_id))

    async def close(self) -> None:
        if self.availability is not None:
            await self.availability.close()
        for client in self._agents.values():
            await client.aclose()
        self._agents.clear()

    @asynccontextmanager
    async def cluster_sql(
        self, cluster_id: int, *, prefer: list[ServerRef] | None = None, log: LogFn = no_log
    ) -> AsyncIterator[ClusterOps]:
        """A root@sys session on the first observer of the cluster that answers (preferring `prefer`).

        Only failing to open the session moves on to the next observer; an error of the caller's own
        statements propagates as it is.
        """
        refs = await self.servers(cluster_id)
        ordered = (prefer or []) + [r for r in refs if r not in (prefer or [])]
        password = await self.root_password(cluster_id)
        errors: list[str] = []
        async with AsyncExitStack() as stack:
            ops: ClusterOps | None = None
            for ref in ordered:
                try:
                    ex = await stack.enter_async_context(self.session(ref, password, SQL_TIMEOUTS))
                    ops = await ClusterOps.detect(ex, log=log)
                    break
                except (ObConnectError, ObLoginError, ObTimeoutError) as exc:
                    errors.append(str(exc))
            if ops is None:
                raise ClusterUnreachable(cluster_id, errors)
            yield ops


class ClusterUnreachable(Exception):
    def __init__(self, cluster_id: int, errors: list[str]) -> None:
        detail = "; ".join(errors) or "the cluster has no servers"
        super().__init__(f"no observer of cluster {cluster_id} accepts a root@sys session: {detail}")


def describe_process(status: dict[str, Any]) -> str:
    if not status.get("running"):
        return "not running"
    return f"pid {status.get('pid')} (started {status.get('startedAt', '?')})"
