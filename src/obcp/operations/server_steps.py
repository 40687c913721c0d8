"""Per-server steps: record, stop and start the observer process through its host's agent, and prove that
the new process serves SQL."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from obcp.agent.client import AgentError
from obcp.engine import RunContext, Subtask, register
from obcp.meta.inventory import ServerRef
from obcp.ob.errors import ObSqlError, ObWaitTimeout
from obcp.ob.readiness import PROBE_TIMEOUTS, ProbeFailure, probe, restart_proof, wait_accessible
from obcp.ob.topology import ServerAddr
from obcp.ob.waiting import wait_until
from obcp.operations import keys
from obcp.operations.common import (
    cluster_id,
    label,
    record_zone_states,
    server_of,
    services,
    set_server_status,
    zone_of,
    zone_servers,
)
from obcp.operations.services import describe_process

SERVER_IN_OPERATION = {"restart": "RESTARTING", "start": "STARTING", "stop": "STOPPING"}
SERVER_TARGET = {"restart": "RUNNING", "start": "RUNNING", "stop": "STOPPED"}


def _identity(status: dict[str, Any]) -> str:
    """A process as pid plus start time: a recycled pid is another process."""
    return f"{status.get('pid')}@{status.get('startedAt')}" if status.get("running") else ""


def monitors_availability(ctx: RunContext) -> bool:
    """Only a restart promises to keep serving: a stop's outage is its purpose, and a start begins from
    one, so probing their observers would measure nothing a DBA asked for."""
    return (ctx.get(keys.OPERATION_KIND) or "restart") == "restart"


async def _watched(ctx: RunContext) -> ServerRef:
    """This step's server, with the task's availability monitor running here (resumed after a crash)."""
    ref = await server_of(ctx)
    if monitors_availability(ctx):
        await services(ctx).watch_availability(ctx.task_id, cluster_id(ctx))
    return ref


async def _agent_status(ctx: RunContext, ref: ServerRef) -> dict[str, Any]:
    try:
        return await services(ctx).agent(ref).status(ref.observer_name, ports=False)
    except AgentError as exc:
        raise RuntimeError(f"{label(ref)}: {exc}") from exc


class PrepareObserver(Subtask):
    kind: ClassVar[str] = "restart"
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if self.kind != "start":
            # A start's observers may all be down; its "Start server" asks DBA_OB_SERVERS once they serve.
            await record_zone_states(ctx, [ref.zone_name])
        status = await _agent_status(ctx, ref)
        ctx.log.info("%s: %s", label(ref), describe_process(status))
        if ctx.get(keys.process_before(ref.id)) is None:
            ctx.put(keys.process_before(ref.id), _identity(status))
            stamp = await _service_time(ctx, ref)
            if stamp is not None:
                ctx.put(keys.service_time_before(ref.id), stamp)
                ctx.log.info("%s serves SQL since START_SERVICE_TIME %d", label(ref), stamp)
        former = await set_server_status(ctx, ref, SERVER_IN_OPERATION[self.kind])
        if ctx.get(keys.former_server_status(ref.id)) is None:
            ok = former not in SERVER_IN_OPERATION.values()
            ctx.put(keys.former_server_status(ref.id), former if ok else "RUNNING")

    async def rollback(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        await set_server_status(ctx, ref, ctx.get(keys.former_server_status(ref.id)) or "RUNNING")


async def _service_time(ctx: RunContext, ref: ServerRef) -> int | None:
    ops = services(ctx)
    password = await ops.root_password(cluster_id(ctx))
    try:
        async with ops.session(ref, password, PROBE_TIMEOUTS) as ex:
            return await restart_proof(ex)
    except ObSqlError as exc:
        ctx.log.info("%s does not serve SQL now (%s): no START_SERVICE_TIME to compare", label(ref), exc)
        return None


@register
class PrepareRestartObserver(PrepareObserver):
    key = "obcp.operations.PrepareRestartObserver"
    name = "Prepare restart observer"


@register
class PrepareStopObserver(PrepareObserver):
    key = "obcp.operations.PrepareStopObserver"
    name = "Prepare stop observer"
    kind = "stop"


@register
class PrepareStartObserver(PrepareObserver):
    key = "obcp.operations.PrepareStartObserver"
    name = "Prepare start observer"
    kind = "start"


class StopObserverStep(Subtask):
    timeout = 1200
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await _watched(ctx)
        status = await _agent_status(ctx, ref)
        before = ctx.get(keys.process_before(ref.id)) or ""
        now = _identity(status)
        if not now:
            ctx.log.info("%s is not running: nothing to stop", label(ref))
        elif before and now != before:
            # Someone else restarted it since "Prepare": stopping the new process would be a second outage.
            ctx.log.info(
                "%s already runs as a new process (%s, was %s): not stopping it", label(ref), now, before
            )
            return
        else:
            try:
                answer = await services(ctx).agent(ref).stop(ref.observer_name)
            except AgentError as exc:
                raise RuntimeError(f"{label(ref)}: {exc}") from exc
            ctx.log.info("%s: %s", label(ref), answer.get("message", "stopped"))
        ctx.put(keys.process_stopped(ref.id), "true")

    async def rollback(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if ctx.get(keys.process_before(ref.id)):
            await _start(ctx, ref, "rollback: start again what this task stopped")


async def _start(ctx: RunContext, ref: ServerRef, why: str) -> None:
    ctx.log.info("%s: %s", label(ref), why)
    try:
        answer = await services(ctx).agent(ref).start(ref.observer_name)
    except AgentError as exc:
        raise RuntimeError(f"{label(ref)}: {exc}") from exc
    ctx.log.info("%s: %s", label(ref), answer.get("message", "started"))


@register
class StopObserverProcess(StopObserverStep):
    key = "obcp.operations.StopObserverProcess"
    name = "Stop observer process"


class StartObserverStep(Subtask):
    timeout = 1200
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await _watched(ctx)
        await _start(ctx, ref, "start the observer process (a running one is left as it is)")


@register
class StartObserverProcess(StartObserverStep):
    key = "obcp.operations.StartObserverProcess"
    name = "Start observer process"


class WaitAccessibleStep(Subtask):
    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await _watched(ctx)
        await self._wait(ctx, ref, await services(ctx).root_password(cluster_id(ctx)))

    async def _wait(self, ctx: RunContext, ref: ServerRef, password: str) -> None:
        """Until the observer serves SQL as a new process (another START_SERVICE_TIME than before)."""
        before = ctx.get(keys.service_time_before(ref.id))
        try:
            ready = await wait_accessible(
                ref.address,
                ref.sql_port,
                password,
                timeout=max(self.timeout - 30, 30),
                previous_start_service_time=int(before) if before else None,
                log=ctx.log.info,
                connect=services(ctx).connect,
            )
        except ObWaitTimeout as exc:
            raise RuntimeError(f"{label(ref)}: {exc}") from exc
        ctx.log.info(
            "%s accepts SQL after %.1f s; START_SERVICE_TIME %d%s",
            label(ref),
            ready.seconds,
            ready.start_service_time,
            f" (was {before}): a new process" if before else "",
        )


@register
class WaitObserverAccessible(WaitAccessibleStep):
    key = "obcp.operations.WaitObserverAccessible"
    name = "Wait observer accessible"


class AgentWatchStep(Subtask):
    """OCP restarts its agent's service for the observer here; obcp's agent watches every observer it
    runs, so this step checks that the agent reports the new process."""

    timeout = 1800
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        status = await _agent_status(ctx, ref)
        if not status.get("running"):
            raise RuntimeError(f"{label(ref)}: the agent reports the observer not running after its start")
        ctx.put(keys.process_after(ref.id), _identity(status))
        ctx.log.info(
            "agent %s:%d watches %s: %s", ref.address, ref.agent_port, label(ref), describe_process(status)
        )


@register
class StartOcpAgentService(AgentWatchStep):
    key = "obcp.operations.StartOcpAgentService"
    name = "Start ocp agent service"


class StartServerStep(Subtask):
    kind: ClassVar[str] = "restart"
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if self.kind == "start":
            # The server was stopped by an earlier task (or by hand), so nothing in this task's context
            # says whether STOP SERVER was sent: DBA_OB_SERVERS does (START SERVER is sent only if needed).
            async with services(ctx).cluster_sql(cluster_id(ctx), prefer=[ref], log=ctx.log.info) as ops:
                result = await ops.start_server(ServerAddr(ref.address, ref.rpc_port))
            ctx.log.info("%s", result.message)
            return
        if ctx.get(keys.OB_KIND) != "DISTRIBUTED":
            ctx.log.info("standalone server: ALTER SYSTEM START SERVER not applicable")
            return
        if ctx.get(keys.server_stopped(ref.id)) != "true":
            ctx.log.info(
                "%s was not stopped by ALTER SYSTEM STOP SERVER in this task: nothing to start", label(ref)
            )
            return
        async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
            result = await ops.start_server(ServerAddr(ref.address, ref.rpc_port))
        ctx.log.info("%s", result.message)


@register
class StartServer(StartServerStep):
    key = "obcp.operations.StartServer"
    name = "Start server"


@register
class StartServerOnStart(StartServerStep):
    key = "obcp.operations.StartServerOnStart"
    name = "Start server"
    kind = "start"


class UpdateObserverStatus(Subtask):
    kind: ClassVar[str] = "restart"
    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        await set_server_status(
            ctx, ref, SERVER_TARGET[self.kind], "ACTIVE" if self.kind != "stop" else "INACTIVE"
        )

    async def rollback(self, ctx: RunContext) -> None:
        await set_server_status(ctx, await server_of(ctx), SERVER_IN_OPERATION[self.kind])


@register
class UpdateRestartObserverStatus(UpdateObserverStatus):
    key = "obcp.operations.UpdateObserverStatus"
    name = "Update observer status"


@register
class UpdateStopObserverStatus(UpdateObserverStatus):
    key = "obcp.operations.UpdateStopObserverStatus"
    name = "Update observer status"
    kind = "stop"


@register
class UpdateStartObserverStatus(UpdateObserverStatus):
    key = "obcp.operations.UpdateStartObserverStatus"
    name = "Update observer status"
    kind = "start"


class WaitActiveStep(WaitAccessibleStep):
    """OCP's "Wait observer active": one node (not a fan-out) that waits for every server it covers —
    the server of a server operation, or every server of the zone."""

    async def run(self, ctx: RunContext) -> None:
        if ctx.params.get("server_id"):
            refs = [await _watched(ctx)]
        else:
            refs = await zone_servers(ctx, zone_of(ctx))
            if monitors_availability(ctx):
                await services(ctx).watch_availability(ctx.task_id, cluster_id(ctx))
        password = await services(ctx).root_password(cluster_id(ctx))
        await asyncio.gather(*(self._wait(ctx, ref, password) for ref in refs))


@register
class WaitObserverActive(WaitActiveStep):
    key = "obcp.operations.WaitObserverActive"
    name = "Wait observer active"


class StopServerStep(Subtask):
    """ALTER SYSTEM STOP SERVER before a server's process stops, so its leaders move away first; skipped
    with `force` (OCP's forced restart) and on standalone servers."""

    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if ctx.get(keys.OB_KIND) != "DISTRIBUTED":
            ctx.log.info("standalone server: ALTER SYSTEM STOP SERVER not applicable")
            return
        if ctx.get(keys.FORCE) == "true":
            ctx.log.info("force: %s is restarted without ALTER SYSTEM STOP SERVER", label(ref))
            return
        async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
            result = await ops.stop_server(ServerAddr(ref.address, ref.rpc_port))
        ctx.log.info("%s", result.message)
        ctx.put(keys.server_stopped(ref.id), "true")

    async def rollback(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        if ctx.get(keys.server_stopped(ref.id)) == "true" and ctx.get(keys.OB_KIND) == "DISTRIBUTED":
            async with services(ctx).cluster_sql(cluster_id(ctx), log=ctx.log.info) as ops:
                result = await ops.start_server(ServerAddr(ref.address, ref.rpc_port))
            ctx.log.info("rollback: %s", result.message)


@register
class StopServer(StopServerStep):
    key = "obcp.operations.StopServer"
    name = "Stop server"


class WaitStoppedStep(Subtask):
    """OCP's "Wait observer stop": the stop is proven from both sides, the agent no longer reports the
    process and its SQL port no longer answers (a port that still takes logins is a process still up)."""

    timeout = 300
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        ref = await server_of(ctx)
        password = await services(ctx).root_password(cluster_id(ctx))

        async def stopped() -> str | None:
            status = await _agent_status(ctx, ref)
            if status.get("running"):
                return f"the agent to report it not running (now {describe_process(status)})"
            answer = await probe(ref.address, ref.sql_port, password, connect=services(ctx).connect)
            # Login denied or an SQL error means an observer still answers on that port.
            if answer.ok or answer.failure in (ProbeFailure.LOGIN_DENIED, ProbeFailure.SQL_ERROR):
                return f"SQL port {ref.sql_port} to stop answering ({answer.describe()})"
            return None

        try:
            waited = await wait_until(
                stopped, what=label(ref), timeout=max(self.timeout - 30, 30), log=ctx.log.info
            )
        except ObWaitTimeout as exc:
            raise RuntimeError(str(exc)) from exc
        ctx.log.info("%s is stopped (agent: not running; SQL port closed) after %.1f s", label(ref), waited)


@register
class WaitObserverStop(WaitStoppedStep):
    key = "obcp.operations.WaitObserverStop"
    name = "Wait observer stop"
